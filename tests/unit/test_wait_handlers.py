"""The wait's message handlers on plain messages: what each kind notes on the timeline, and
which ends the wait (no cluster: nothing here reads one)."""

import queue
import time

from pytest_kfs.kserve.status import Verdict
from pytest_kfs.wait import (
    _HANDLERS,
    _QUIET,
    _QUIET_RESYNC,
    WaitResult,
    _Follow,
    _follow_model,
)


class FakeStreams:
    def __init__(self):
        self.resyncs = 0

    def resync(self):
        self.resyncs += 1


class FakeHub:
    def __init__(self):
        self.streams = FakeStreams()


def follow(*messages, timeout=5.0):
    """Run the wait on `messages`; the result and the (source, text) notes."""
    inbox = queue.Queue()
    for message in messages:
        inbox.put(message)
    result = WaitResult(verdict=Verdict.WAITING, state=None)
    notes = []
    _follow_model(
        None,
        "m",
        timeout,
        time.monotonic() + timeout,
        FakeHub(),
        inbox,
        result,
        lambda source, text, state=None: notes.append((source, text)),
    )
    return result, notes


def trouble(text):
    return ("pod", "TRANSIENT", {"text": text})


def event(uid, kind, reason, message):
    return (
        "event",
        "ADDED",
        {"metadata": {"uid": uid}, "type": kind, "reason": reason, "message": message},
    )


def pod(uid, name, status):
    return {"metadata": {"uid": uid, "name": name}, "status": status}


STREAM_GAVE_UP = ("pod", "ERROR", {"status": 403, "reason": "Forbidden"})


def test_api_trouble_is_noted_once_a_spell_and_a_stream_giving_up_ends_the_wait():
    result, notes = follow(
        trouble("no connection"),
        trouble("no connection"),
        trouble("connection lost"),
        event("e1", "Normal", "Pulled", "pulled"),  # the API answers
        trouble("connection lost"),
        STREAM_GAVE_UP,
    )
    assert notes == [
        ("api", "API trouble, retrying: no connection"),
        ("api", "API trouble, retrying: connection lost"),
        ("api", "API trouble, retrying: connection lost"),
    ]
    assert result.reason == "cannot watch pods: HTTP 403 Forbidden"
    assert result.verdict is Verdict.WAITING and not result.timed_out


def test_a_warning_is_noted_once_and_one_no_wait_cures_fails_the_model():
    mount = 'MountVolume.SetUp failed for volume "key": secret "key" not found'
    result, notes = follow(
        event("e1", "Warning", "BackOff", "restarting"),
        event("e1", "Warning", "BackOff", "restarting"),
        event("e2", "Normal", "Pulled", "pulled"),
        event("e3", "Warning", "FailedMount", mount),
    )
    assert notes == [("event", "BackOff: restarting"), ("event", f"FailedMount: {mount}")]
    assert result.verdict is Verdict.FAILED
    assert result.reason == f"FailedMount: {mount}"


def test_a_pod_is_noted_when_its_line_changes_and_a_lasting_problem_fails_the_model():
    pending = pod("u1", "m-1", {"phase": "Pending"})
    pulling = pod(
        "u2",
        "m-2",
        {
            "phase": "Pending",
            "containerStatuses": [
                {"name": "kserve-container", "state": {"waiting": {"reason": "ImagePullBackOff"}}}
            ],
        },
    )
    result, notes = follow(
        ("pod", "ADDED", pending),
        ("pod", "MODIFIED", pending),
        ("pod", "DELETED", pending),
        ("pod", "ADDED", pulling),
    )
    assert notes == [
        ("pod", "pod m-1: Pending"),
        ("pod", "pod m-1: deleted"),
        ("pod", "pod m-2: Pending, kserve-container=ImagePullBackOff"),
    ]
    assert result.verdict is Verdict.FAILED
    assert result.reason == "IMAGE_PULL_FAILED in pod m-2"
    assert result.pods == [pulling]


def test_the_model_deleted_or_the_deadline_passed_ends_the_wait():
    result, _ = follow(("isvc", "DELETED", {"metadata": {"name": "m"}}))
    assert result.reason == "the InferenceService was deleted while waiting"
    result, notes = follow(timeout=0.01)
    assert result.timed_out and result.reason == "no verdict within 0.01s" and notes == []


def test_a_quiet_spell_relists_once_in_the_background():
    hub = FakeHub()
    state = _Follow(None, hub, WaitResult(Verdict.WAITING, None), print, 5.0, time.monotonic() + 5)
    kind, event_type, obj = _QUIET

    def quiet():
        return _HANDLERS[kind](state, kind, event_type, obj)

    assert not quiet() and hub.streams.resyncs == 0
    state.last_event -= _QUIET_RESYNC + 1
    assert not quiet() and hub.streams.resyncs == 1
    assert not quiet() and hub.streams.resyncs == 1  # the clock starts again
