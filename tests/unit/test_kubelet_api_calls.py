"""The embedded kubelet's API writes outlive an API server restart: they are retried (capped
back-off) until it answers, stop only with the kubelet, and a pod's status is written to the
same pod, read again after a failure or conflict. A status update dropped after three refused
connections left a model un-Ready in CI (test_apiserver_restarted_mid_wait)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.rest import ApiException
from urllib3.exceptions import MaxRetryError

from pytest_kfs.local.node import apicalls
from pytest_kfs.local.node.apicalls import ApiCalls, KubeletStopped, unanswered
from pytest_kfs.local.node.events import EventRecorder
from pytest_kfs.local.node.podstatus import PodStatusWriter


def refused() -> MaxRetryError:
    return MaxRetryError(None, "/api/v1/namespaces/ns/pods/p/status", "Connection refused")


def answer(status: int, retry_after: str | None = None) -> ApiException:
    error = ApiException(status=status, reason="x")
    error.headers = {"Retry-After": retry_after} if retry_after else {}
    return error


class Flaky:
    """A call that fails with the given errors, one per attempt, then returns `value`."""

    def __init__(self, *errors: Exception, value: Any = "ok") -> None:
        self.errors = list(errors)
        self.value = value
        self.attempts: list[float] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.attempts.append(time.monotonic())
        if self.errors:
            raise self.errors.pop(0)
        return self.value


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(apicalls, "FIRST_BACKOFF", 0.01)
    monkeypatch.setattr(apicalls, "MAX_BACKOFF", 0.04)


def test_refused_connections_and_server_errors_are_retried_until_answered():
    call = Flaky(refused(), refused(), refused(), refused(), answer(503), answer(429))
    assert ApiCalls(threading.Event()).call(call) == "ok"
    assert len(call.attempts) == 7


def test_the_backoff_doubles_and_is_capped():
    call = Flaky(*[refused() for _ in range(6)])
    ApiCalls(threading.Event()).call(call)
    gaps = [b - a for a, b in zip(call.attempts, call.attempts[1:], strict=False)]
    assert gaps[0] >= 0.01
    assert max(gaps) < 0.04 + 0.05  # never past the cap (plus scheduling slack)


def test_retry_after_is_honoured_within_the_cap():
    call = Flaky(answer(429, retry_after="30"))
    started = time.monotonic()
    ApiCalls(threading.Event()).call(call)
    assert 0.04 <= time.monotonic() - started < 1.0


def test_a_refusal_is_the_callers_to_handle():
    call = Flaky(answer(404))
    with pytest.raises(ApiException):
        ApiCalls(threading.Event()).call(call)
    assert len(call.attempts) == 1
    assert not unanswered(answer(409)) and not unanswered(answer(403))


@pytest.mark.parametrize("which", ["kubelet", "pod"])
def test_only_a_stop_ends_the_retries(which):
    kubelet_stop, pod_stop = threading.Event(), threading.Event()
    calls = ApiCalls(kubelet_stop)
    threading.Timer(0.2, (kubelet_stop if which == "kubelet" else pod_stop).set).start()
    started = time.monotonic()
    with pytest.raises(KubeletStopped):
        calls.call(Flaky(*[refused() for _ in range(10_000)]), pod_stop)
    assert time.monotonic() - started < 1.0


class FakeCore:
    """Pods by name, with uids; patches fail as told, one error per attempt."""

    def __init__(self, uid: str, *patch_errors: Exception) -> None:
        self.uid = uid
        self.patch_errors = list(patch_errors)
        self.patches: list[dict[str, Any]] = []
        self.reads = 0

    def patch_namespaced_pod_status(self, name, namespace, body, **_):
        if self.patch_errors:
            raise self.patch_errors.pop(0)
        self.patches.append(body)

    def read_namespaced_pod(self, name, namespace, **_):
        self.reads += 1
        if self.uid is None:
            raise answer(404)
        return SimpleNamespace(metadata=SimpleNamespace(uid=self.uid))


def writer(core: FakeCore, stop: threading.Event | None = None) -> PodStatusWriter:
    return PodStatusWriter(
        core, ApiCalls(threading.Event()), "ns", "p", "uid-1", stop or threading.Event()
    )


def test_a_status_update_outlives_an_api_server_restart():
    core = FakeCore("uid-1", refused(), refused(), refused(), refused(), answer(503))
    assert writer(core).write({"phase": "Running"})
    assert core.patches == [{"metadata": {"uid": "uid-1"}, "status": {"phase": "Running"}}]
    assert core.reads == 5  # the pod is read again before each new attempt


def test_a_conflict_is_resolved_by_reading_the_pod_again():
    core = FakeCore("uid-1", answer(409))
    assert writer(core).write({"phase": "Running"})
    assert core.reads == 1 and len(core.patches) == 1


def test_a_pod_replaced_by_a_namesake_gets_no_status():
    # The API server refuses a patch whose uid is not the pod's: 422, "field is immutable".
    core = FakeCore("uid-2", answer(422))
    assert not writer(core).write({"phase": "Running"})
    assert core.patches == [] and core.reads == 1


def test_a_status_the_same_pod_refuses_is_dropped_as_before():
    core = FakeCore("uid-1", answer(422))
    assert writer(core).write({"phase": "Running"})
    assert core.patches == [] and core.reads == 1


def test_conflicts_that_do_not_end_are_given_up():
    core = FakeCore("uid-1", *[answer(409) for _ in range(100)])
    assert writer(core).write({"phase": "Running"})
    assert core.patches == [] and core.reads < 10


def test_a_pod_deleted_while_the_api_server_was_away_gets_no_status():
    core = FakeCore(None, refused())
    assert not writer(core).write({"phase": "Running"})


def test_the_first_attempt_does_not_read_the_pod():
    core = FakeCore("uid-1")
    assert writer(core).write({})
    assert core.reads == 0


class FakeEvents:
    def __init__(self, *create_errors: Exception) -> None:
        self.create = Flaky(*create_errors)
        self.patch = Flaky()

    def create_namespaced_event(self, namespace, event, **kwargs):
        return self.create(namespace, event)

    def patch_namespaced_event(self, name, namespace, body, **kwargs):
        return self.patch(name, namespace, body)


POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "uid-1"}}


def test_an_event_is_written_once_the_api_server_answers_and_counted_after():
    core = FakeEvents(refused(), refused(), answer(500))
    recorder = EventRecorder(core, ApiCalls(threading.Event()), "kubelet", "node")
    recorder.record(POD, "Pod", "Pulled", "pulled")
    recorder.record(POD, "Pod", "Pulled", "pulled")
    assert len(core.create.attempts) == 4
    assert len(core.patch.attempts) == 1  # the repeat bumps the count of the one created


def test_an_event_created_by_an_attempt_whose_answer_was_lost_is_not_created_again():
    core = FakeEvents(refused(), answer(409))
    recorder = EventRecorder(core, ApiCalls(threading.Event()), "kubelet")
    recorder.record(POD, "Pod", "Pulled", "pulled")
    recorder.record(POD, "Pod", "Pulled", "pulled")
    assert len(core.create.attempts) == 2 and len(core.patch.attempts) == 1


def test_an_event_the_api_server_refuses_is_dropped():
    core = FakeEvents(answer(403))  # a terminating namespace
    EventRecorder(core, ApiCalls(threading.Event()), "kubelet").record(
        POD, "Pod", "Pulled", "pulled"
    )
    assert len(core.create.attempts) == 1
