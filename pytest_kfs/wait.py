"""Watch an InferenceService, its pods and events until there is a verdict or the deadline.

Driven by watches, not sleeps: each stream continues from its last resourceVersion after a
drop and relists on 410 Gone; transient API errors (429, 5xx, connection resets) are retried
with tenacity; one overall deadline bounds everything. Every observed change lands in a
timeline. It stops early as soon as the answer is known: FailedToLoad / BlockedByFailedLoad,
a storage-initializer that failed, an unschedulable pod, an image that cannot be pulled.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes import watch
from kubernetes.client.rest import ApiException
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception,
    stop_after_delay,
    stop_when_event_set,
    wait_exponential_jitter,
)

from pytest_kfs.diagnosis.evidence import concerns
from pytest_kfs.diagnosis.kube_semantics import PodProblem, pod_problems
from pytest_kfs.diagnosis.rules import lasting_storage_failure
from pytest_kfs.kserve import api
from pytest_kfs.kserve.api import ISVC_LABEL
from pytest_kfs.kserve.status import (
    ModelState,
    Verdict,
    rollout_pending,
    rollout_unfinished,
    verdict,
)
from pytest_kfs.kube.cluster import Cluster
from pytest_kfs.untrusted import capped

_TRANSIENT_STATUS = {429, 500, 502, 503, 504}
# A safety net only: watches carry the changes; a quiet minute re-reads the truth once.
_QUIET_RESYNC = 60.0
# Longest a watch runs before it is renewed, and longest a stream may stay silent: the API
# server sends a bookmark about once a minute, so silence beyond this means a dead connection.
_WATCH_SECONDS = 300
_SILENCE_SECONDS = 90


_MAX_RETRY_AFTER = 30.0
# Entries a wait keeps (a flood of events must not become a megabyte report).
_MAX_TIMELINE = 500


def _transient(error: BaseException) -> bool:
    if isinstance(error, ApiException):
        return error.status in _TRANSIENT_STATUS or error.status == 0
    return isinstance(error, urllib3.exceptions.HTTPError | ConnectionError | OSError)


def retry_after(error: BaseException | None) -> float | None:
    """The server's Retry-After in seconds (429/503), capped; None when it gave none."""
    headers = getattr(error, "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return min(max(float(value), 0.0), _MAX_RETRY_AFTER) if value else None
    except ValueError:  # an HTTP date: rare for the API server; fall back to backoff
        return None


_backoff = wait_exponential_jitter(max=2, jitter=0.1)


def _wait_before_retry(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    return retry_after(error) or _backoff(state)


@dataclass(frozen=True)
class TimelineEntry:
    """One observed change, `at` seconds after the wait started; an InferenceService entry
    carries the state it shows (read it there: the text is for people)."""

    at: float
    source: str
    text: str
    state: ModelState | None = None


@dataclass
class WaitResult:
    """How a wait ended: the verdict, the last state, and everything seen on the way."""

    verdict: Verdict
    state: ModelState | None
    timeline: list[TimelineEntry] = field(default_factory=list)
    elapsed: float = 0.0
    timed_out: bool = False
    reason: str = ""
    pods: list[dict[str, Any]] = field(default_factory=list)
    isvc: dict[str, Any] | None = None

    @property
    def loaded(self) -> bool:
        """Whether the model serves (Loaded, or healthy and scaled to zero)."""
        return self.verdict.healthy


def _pod_line(pod: dict[str, Any]) -> str:
    status = pod.get("status") or {}
    parts = [status.get("phase", "Pending")]
    for container in (status.get("initContainerStatuses") or []) + (
        status.get("containerStatuses") or []
    ):
        state = container.get("state") or {}
        kind = next(iter(state), "unknown")
        detail = state.get(kind) or {}
        reason = detail.get("reason") or kind
        text = f"{container['name']}={reason}"
        if detail.get("exitCode") is not None and reason != "Completed":
            text += f"(exit {detail['exitCode']})"
        if container.get("restartCount"):
            text += f" restarts={container['restartCount']}"
        parts.append(text)
    for condition in status.get("conditions") or []:
        if condition.get("reason") == "Unschedulable":
            parts.append("Unschedulable")
    return f"pod {pod['metadata']['name']}: " + ", ".join(parts)


def _permanent(problem: PodProblem, pods: list[dict[str, Any]]) -> bool:
    """Pod problems settle the wait; a crashed initializer only once a restart did not cure
    it, or when the diagnosis names a cause from its message that none will (a denial, a
    missing bucket): one crash can be a passing fault (the API server or the network away)."""
    if problem.code != "STORAGE_INITIALIZER_FAILED":
        return True
    return _crashed_again(pods, problem) or lasting_storage_failure(problem.detail)


def _crashed_again(pods: list[dict[str, Any]], problem: PodProblem) -> bool:
    """Whether the problem's container failed after a restart too (its second crash, or
    more): terminated now with a terminated last state, or restarted twice."""
    for pod in pods:
        if pod["metadata"]["name"] != problem.pod:
            continue
        status = pod.get("status") or {}
        for container in (status.get("initContainerStatuses") or []) + (
            status.get("containerStatuses") or []
        ):
            if container.get("name") != problem.container:
                continue
            now_failed = "terminated" in (container.get("state") or {})
            failed_before = "terminated" in (container.get("lastState") or {})
            return (now_failed and failed_before) or container.get("restartCount", 0) >= 2
    return False


def _failure_settled(state: ModelState, live: list[dict[str, Any]]) -> bool:
    """Whether KServe's FailedToLoad is the last word. KServe writes it on any crash of the
    storage-initializer, a passing one too, and keeps it until the pod is Ready (v0.20.0
    PropagateModelStatus): with the pods in view (`live`: not on their way out) it counts as
    their problems do."""
    failure = state.failure
    if failure is None or failure.reason != "ModelLoadFailed" or not live:
        return True  # no pods to weigh it against: the status is all there is
    return any(_permanent(problem, live) for problem in pod_problems(live))


class _Streams:
    """Three watch threads feeding one queue; each resumes and relists on its own. Without a
    `name` they watch every InferenceService of the namespace, and KServe's pods."""

    def __init__(self, cluster: Cluster, namespace: str, name: str | None, deadline: float) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.deadline = deadline
        self.events: queue.Queue[tuple[str, str, dict[str, Any]]] = queue.Queue()
        self.stopped = threading.Event()
        self.threads = [
            threading.Thread(
                target=self._follow,
                args=(kind,),
                daemon=True,
                name=f"kfs-wait-{kind}-{name or namespace}",
            )
            for kind in ("isvc", "pod", "event")
        ]
        self._resyncing: threading.Thread | None = None
        self._watches: dict[str, watch.Watch] = {}

    def _source(self, kind: str) -> tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]:
        if kind == "isvc":
            return (
                self.cluster.custom.list_namespaced_custom_object,
                (api.GROUP, api.VERSION, self.namespace, api.PLURAL),
                {"field_selector": f"metadata.name={self.name}"} if self.name else {},
            )
        if kind == "pod":
            return (
                self.cluster.core.list_namespaced_pod,
                (self.namespace,),
                {"label_selector": f"{ISVC_LABEL}={self.name}" if self.name else ISVC_LABEL},
            )
        return self.cluster.core.list_namespaced_event, (self.namespace,), {}

    def _relist(self, kind: str) -> str:
        """List (retrying transient errors) and emit every item; return the resourceVersion."""
        function, args, kwargs = self._source(kind)

        @retry(
            retry=retry_if_exception(_transient),
            reraise=True,
            wait=_wait_before_retry,
            before_sleep=lambda state: self._trouble(
                kind, state.outcome.exception() if state.outcome else None
            ),
            stop=stop_after_delay(max(0.1, self.deadline - time.monotonic()))
            | stop_when_event_set(self.stopped),
        )
        def listed() -> Any:
            return function(*args, **kwargs, _request_timeout=10)

        result = listed()
        if not isinstance(result, dict):
            result = self.cluster.api_client.sanitize_for_serialization(result)
        items = result.get("items") or []
        for item in items:
            self.events.put((kind, "LISTED", item))
        # What the list holds now: anything remembered and not in it is gone.
        self.events.put((kind, "SYNCED", {"keys": [_key(item) for item in items]}))
        return str((result.get("metadata") or {}).get("resourceVersion") or "")

    def _follow(self, kind: str) -> None:
        function, args, kwargs = self._source(kind)
        resource_version = ""
        delay = 0.05
        while not self.stopped.is_set() and time.monotonic() < self.deadline:
            pause: float | None = None
            try:
                if not resource_version:
                    resource_version = self._relist(kind)
                remaining = max(1, int(min(_WATCH_SECONDS, self.deadline - time.monotonic())))
                stream = self._watches[kind] = watch.Watch()
                for event in stream.stream(
                    function,
                    *args,
                    **kwargs,
                    resource_version=resource_version,
                    timeout_seconds=remaining,
                    allow_watch_bookmarks=True,
                    _request_timeout=(10, min(remaining + 10, _SILENCE_SECONDS)),
                ):
                    if self.stopped.is_set():
                        stream.stop()
                        return
                    obj = event["object"]
                    if not isinstance(obj, dict):
                        obj = self.cluster.api_client.sanitize_for_serialization(obj)
                    resource_version = (obj.get("metadata") or {}).get(
                        "resourceVersion", resource_version
                    )
                    if event["type"] != "BOOKMARK":
                        self.events.put((kind, event["type"], obj))
                delay = 0.05
            except ApiException as error:
                if error.status == 410:  # compacted: start again from a fresh list
                    resource_version = ""
                    continue
                if not _transient(error):
                    self.events.put(
                        (kind, "ERROR", {"status": error.status, "reason": error.reason})
                    )
                    return
                pause = retry_after(error)
                self._trouble(kind, error)
            except Exception as error:  # dropped: resume from the last resourceVersion
                self._trouble(kind, error)
            if self.stopped.wait(pause if pause is not None else delay):
                return
            delay = min(delay * 2, 2.0)

    def _trouble(self, kind: str, error: BaseException | None) -> None:
        """Put a transient API problem on the timeline (the wait goes on)."""
        if isinstance(error, urllib3.exceptions.ReadTimeoutError):
            return  # a silent stream is renewed from its resourceVersion: nothing lost
        if isinstance(error, ApiException):
            text = f"HTTP {error.status} {error.reason}"
        elif isinstance(error, urllib3.exceptions.ProtocolError):
            text = "connection lost"
        elif isinstance(error, urllib3.exceptions.HTTPError | OSError):
            text = "no connection"
        else:
            return
        self.events.put((kind, "TRANSIENT", {"text": text}))

    def resync(self) -> None:
        """List the InferenceService and its pods again (after a quiet spell), in the
        background: a slow or absent API server must not hold the deadline up."""
        if self._resyncing is not None and self._resyncing.is_alive():
            return
        self._resyncing = threading.Thread(
            target=self._resync, daemon=True, name=f"kfs-wait-resync-{self.name or self.namespace}"
        )
        self._resyncing.start()

    def _resync(self) -> None:
        for kind in ("isvc", "pod"):
            try:
                self._relist(kind)
            except Exception:  # the next quiet spell tries again
                continue

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        """End the streams now: a thread blocked reading a quiet watch must not outlive the
        wait (threads left running at interpreter exit can crash it)."""
        self.stopped.set()
        for thread in [*self.threads, self._resyncing]:
            if thread is None or thread.ident is None:
                continue
            # A watch whose request was still on its way when the wait ended opens its
            # response after this stop: close what is open until the thread is gone (a quiet
            # stream would otherwise hold it until the join gives up).
            deadline = time.monotonic() + 2
            while thread.is_alive() and time.monotonic() < deadline:
                self._close_watches()
                thread.join(timeout=0.05)

    def _close_watches(self) -> None:
        for stream in list(self._watches.values()):
            stream.stop()
            response = getattr(stream, "_resp", None)  # the open HTTP response, if any
            if response is not None and hasattr(response, "shutdown"):
                with contextlib.suppress(OSError, ValueError):  # already closed, or not open
                    response.shutdown()


Message = tuple[str, str, dict[str, Any]]  # (kind, event type, object)


class _Hub:
    """One set of streams per namespace for every wait in this process: a hundred models
    waited on at once in a namespace cost three watches, not three hundred. Each wait gets
    what concerns its model, starting with what the streams already saw of it."""

    _MAX_EVENTS = 5000

    def __init__(self, cluster: Cluster, namespace: str, deadline: float) -> None:
        self.key = (id(cluster), namespace)
        self.streams = _Streams(cluster, namespace, None, deadline)
        self.lock = threading.Lock()
        self.waits: dict[int, tuple[str, queue.Queue[Message]]] = {}
        self.seen: dict[str, dict[str, dict[str, Any]]] = {"isvc": {}, "pod": {}, "event": {}}
        self.broken = False
        self.router = threading.Thread(
            target=self._route, daemon=True, name=f"kfs-wait-hub-{namespace}"
        )

    def join(self, name: str, deadline: float) -> queue.Queue[Message]:
        """A queue of what concerns `name`, from what was seen so far on."""
        mine: queue.Queue[Message] = queue.Queue()
        with self.lock:
            self.streams.deadline = max(self.streams.deadline, deadline)
            self.waits[id(mine)] = (name, mine)
            for kind, objects in self.seen.items():
                for obj in objects.values():
                    if _for(kind, obj, name):
                        mine.put((kind, "LISTED", obj))
        return mine

    def leave(self, mine: queue.Queue[Message]) -> bool:
        """Forget a wait; True when it was the last one."""
        with self.lock:
            self.waits.pop(id(mine), None)
            return not self.waits

    def start(self) -> None:
        self.streams.start()
        self.router.start()

    def alive(self) -> bool:
        """Whether its streams still run (they end at the latest deadline they were given,
        or on an error that is not transient)."""
        return not self.broken and all(thread.is_alive() for thread in self.streams.threads)

    def stop(self) -> None:
        self.streams.stop()
        self.router.join(timeout=2)

    def _route(self) -> None:
        while not self.streams.stopped.is_set():
            try:
                message = self.streams.events.get(timeout=0.5)
            except queue.Empty:
                continue
            kind, event_type, obj = message
            with self.lock:
                if event_type == "SYNCED":  # a relist: forget what it no longer holds
                    kept = set(obj["keys"])
                    self.seen[kind] = {
                        key: seen for key, seen in self.seen[kind].items() if key in kept
                    }
                    continue
                if event_type == "ERROR":
                    self.broken = True  # a stream gave up: later waits start afresh
                if event_type not in ("ERROR", "TRANSIENT"):
                    self._remember(kind, event_type, obj)
                for name, mine in self.waits.values():
                    if event_type in ("ERROR", "TRANSIENT") or _for(kind, obj, name):
                        mine.put(message)

    def _remember(self, kind: str, event_type: str, obj: dict[str, Any]) -> None:
        key = _key(obj)
        seen = self.seen[kind]
        if event_type == "DELETED":
            seen.pop(key, None)
            return
        seen[key] = obj
        if kind == "event" and len(seen) > self._MAX_EVENTS:
            seen.pop(next(iter(seen)))


def _key(obj: dict[str, Any]) -> str:
    """An object's identity across its events: its uid (a re-created one is another)."""
    metadata = obj.get("metadata") or {}
    return str(metadata.get("uid") or metadata.get("name"))


def _for(kind: str, obj: dict[str, Any], name: str) -> bool:
    """Whether a namespace-wide stream's object concerns InferenceService `name`."""
    metadata = obj.get("metadata") or {}
    if kind == "isvc":
        return bool(metadata.get("name") == name)
    if kind == "pod":
        return bool((metadata.get("labels") or {}).get(ISVC_LABEL) == name)
    return concerns(obj, name) and (obj.get("involvedObject") or {}).get("name") is not None


_HUBS: dict[tuple[int, str], _Hub] = {}
_HUBS_LOCK = threading.Lock()


@contextlib.contextmanager
def _subscription(
    cluster: Cluster, namespace: str, name: str, deadline: float
) -> Iterator[tuple[_Hub, queue.Queue[Message]]]:
    """Join the namespace's hub (starting it if none runs) for the length of a wait."""
    with _HUBS_LOCK:
        hub = _HUBS.get((id(cluster), namespace))
        if hub is None or not hub.alive():
            hub = _HUBS[(id(cluster), namespace)] = _Hub(cluster, namespace, deadline)
            hub.start()
        mine = hub.join(name, deadline)
    try:
        yield hub, mine
    finally:
        with _HUBS_LOCK:
            last = hub.leave(mine)
            if last and _HUBS.get(hub.key) is hub:
                del _HUBS[hub.key]
        if last:
            hub.stop()


def wait_for_model(
    cluster: Cluster,
    namespace: str,
    name: str,
    timeout: float,
    on_change: Callable[[TimelineEntry], None] | None = None,
) -> WaitResult:
    """Watch until the model is Loaded, has failed for good, or `timeout` seconds pass."""
    started = time.monotonic()
    deadline = started + timeout
    result = WaitResult(verdict=Verdict.WAITING, state=None)

    def note(source: str, text: str, state: ModelState | None = None) -> None:
        entry = TimelineEntry(round(time.monotonic() - started, 3), source, capped(text), state)
        if len(result.timeline) < _MAX_TIMELINE:
            result.timeline.append(entry)
        elif len(result.timeline) == _MAX_TIMELINE:
            # A flood of events: keep the first entries and the latest; say so once.
            result.timeline += [
                TimelineEntry(
                    entry.at, "kfs", "timeline full: each later entry replaces the last one"
                ),
                entry,
            ]
        else:
            result.timeline[-1] = entry
        if on_change:
            on_change(entry)

    with _subscription(cluster, namespace, name, deadline) as (hub, messages):
        _follow_model(cluster, name, timeout, deadline, hub, messages, result, note)
    result.elapsed = round(time.monotonic() - started, 3)
    return result


class _Follow:
    """One wait's state between messages: the model's pods, the last line each source put on
    the timeline (a repeat is not noted again), the warnings seen, when the last message came."""

    def __init__(
        self,
        cluster: Cluster,
        hub: _Hub,
        result: WaitResult,
        note: Callable[..., None],
        timeout: float,
        deadline: float,
    ) -> None:
        self.cluster, self.hub, self.result, self.note = cluster, hub, result, note
        self.timeout, self.deadline = timeout, deadline
        self.pods: dict[str, dict[str, Any]] = {}
        self.last_lines: dict[str, str] = {}
        self.seen_events: set[str] = set()
        self.last_event = time.monotonic()

    def next(self, messages: queue.Queue[Message]) -> Message:
        """The next message; _DEADLINE once the deadline passed, _QUIET after half a second
        without one."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return _DEADLINE
        try:
            message = messages.get(timeout=min(remaining, 0.5))
        except queue.Empty:
            return _QUIET
        self.last_event = time.monotonic()
        return message

    def line(self, key: str, source: str, text: str, state: ModelState | None = None) -> None:
        """Note `text` unless it is what `key` said last."""
        if self.last_lines.get(key) != text:
            self.last_lines[key] = text
            self.note(source, text, state)

    def answered(self) -> None:
        """A message about the model: the API answers again, so new trouble is noted anew."""
        self.last_lines.pop("api", None)

    def judge(self) -> bool:
        """After a change to the model or its pods: whether that settles the wait."""
        result = self.result
        result.pods = list(self.pods.values())
        if result.state is not None:
            live = [p for p in result.pods if not p["metadata"].get("deletionTimestamp")]
            current = _verdict(self.cluster, result, len(live))
            if isinstance(current, str):
                self.line("rollout", "isvc", current)
            elif current is Verdict.FAILED and not _failure_settled(result.state, live):
                self.line(
                    "rollout",
                    "isvc",
                    "KServe says FailedToLoad, but the storage-initializer failed once, for no "
                    "lasting cause: waiting for its restart",
                )
            elif current.final:
                result.verdict = current
                return True
        problems = [p for p in pod_problems(result.pods) if _permanent(p, result.pods)]
        if problems:
            result.verdict = Verdict.FAILED
            result.reason = f"{problems[0].code} in pod {problems[0].pod}"
            return True
        return False


# The loop's own messages: the deadline passed; no message came for a moment.
_DEADLINE: Message = ("deadline", "", {})
_QUIET: Message = ("quiet", "", {})


def _on_deadline(follow: _Follow, kind: str, event_type: str, obj: dict[str, Any]) -> bool:
    follow.result.timed_out = True
    follow.result.reason = f"no verdict within {follow.timeout:g}s"
    return True


def _on_quiet(follow: _Follow, kind: str, event_type: str, obj: dict[str, Any]) -> bool:
    if time.monotonic() - follow.last_event > _QUIET_RESYNC:
        # Watches are the fast path; a quiet spell re-reads the truth anyway.
        follow.last_event = time.monotonic()
        follow.hub.streams.resync()
    return False


def _on_error(follow: _Follow, kind: str, event_type: str, obj: dict[str, Any]) -> bool:
    follow.result.reason = f"cannot watch {kind}s: HTTP {obj['status']} {obj['reason']}"
    return True


def _on_transient(follow: _Follow, kind: str, event_type: str, obj: dict[str, Any]) -> bool:
    follow.line("api", "api", f"API trouble, retrying: {obj['text']}")
    return False


def _on_isvc(follow: _Follow, kind: str, event_type: str, obj: dict[str, Any]) -> bool:
    follow.answered()
    if event_type == "DELETED":
        follow.result.reason = "the InferenceService was deleted while waiting"
        return True
    follow.result.isvc = obj
    state = ModelState.from_isvc(obj)
    follow.result.state = state
    follow.line("isvc", "isvc", state.summary(), state)
    return follow.judge()


def _on_pod(follow: _Follow, kind: str, event_type: str, obj: dict[str, Any]) -> bool:
    follow.answered()
    uid = obj["metadata"]["uid"]
    if event_type == "DELETED":
        follow.pods.pop(uid, None)
        follow.note("pod", f"pod {obj['metadata']['name']}: deleted")
    else:
        follow.pods[uid] = obj
        follow.line(uid, "pod", _pod_line(obj))
    return follow.judge()


def _on_event(follow: _Follow, kind: str, event_type: str, obj: dict[str, Any]) -> bool:
    follow.answered()
    key = (obj.get("metadata") or {}).get("uid", "")
    if obj.get("type") != "Warning" or key in follow.seen_events:
        return False
    follow.seen_events.add(key)
    follow.note("event", f"{obj.get('reason')}: {obj.get('message', '')}")
    if not _settles(obj):
        return False
    follow.result.verdict = Verdict.FAILED
    follow.result.reason = capped(f"{obj.get('reason')}: {obj.get('message', '')}")
    return True


Handler = Callable[[_Follow, str, str, dict[str, Any]], bool]
# What a message does to the wait, by its kind (a stream's trouble by its type); True: the
# wait is over, its result says how.
_HANDLERS: dict[str, Handler] = {
    "deadline": _on_deadline,
    "quiet": _on_quiet,
    "ERROR": _on_error,  # a stream gave up
    "TRANSIENT": _on_transient,
    "isvc": _on_isvc,
    "pod": _on_pod,
    "event": _on_event,
}


def _follow_model(
    cluster: Cluster,
    name: str,
    timeout: float,
    deadline: float,
    hub: _Hub,
    messages: queue.Queue[Message],
    result: WaitResult,
    note: Callable[..., None],
) -> None:
    """Read the model's messages until its verdict or the deadline."""
    follow = _Follow(cluster, hub, result, note, timeout, deadline)
    while True:
        kind, event_type, obj = follow.next(messages)
        topic = event_type if event_type in ("ERROR", "TRANSIENT") else kind
        if _HANDLERS[topic](follow, kind, event_type, obj):
            return


def _verdict(cluster: Cluster, result: WaitResult, running: int) -> Verdict | str:
    """The verdict, or why a Loaded status does not count yet (a line for the timeline).

    Standard mode (a `<name>-predictor` Deployment) is judged by its rollout, not by
    observedGeneration (kserve#6081): Loaded counts once the newest pod serves the current spec.
    """
    state = result.state
    assert state is not None
    if verdict(state, running, standard_mode=True) is not Verdict.LOADED:
        return verdict(state, running, standard_mode=state.standard_mode)
    try:
        deployment = cluster.api_client.sanitize_for_serialization(
            cluster.apps.read_namespaced_deployment(
                f"{state.name}-predictor", state.namespace, _request_timeout=10
            )
        )
    except ApiException as error:
        if error.status == 404:  # no Deployment of KServe's: Serverless, generations count
            return verdict(state, running)
        deployment = None  # not allowed to read it: the pods and the status must do
    except Exception:  # the API server did not answer: judge on the next event
        return Verdict.WAITING
    unfinished = rollout_unfinished(deployment, result.isvc or {}) if deployment else None
    pending = rollout_pending(result.pods)
    if unfinished or pending:
        why = unfinished or f"the newest pod {pending} is not Ready"
        return f"status says Loaded, but {why}: the previous pods still serve"
    return Verdict.LOADED


# KServe's controller gives up on a spec with these words in its InternalError/UpdateFailed
# events (a host name over 63 characters, a Deployment the API server refuses). Not among them:
# a conflict (retried), and runtime problems: "no runtime found" also appears while KServe's
# cache has not seen a runtime yet, and a real one reaches the status as InvalidSpec.
# (Texts from KServe v0.20.0's controller and predictor reconciler.)
_KSERVE_REFUSALS = ("invalid domain name", "failed creating host name", "is invalid")


def _settles(event: dict[str, Any]) -> bool:
    """Events that no amount of waiting fixes: pods that cannot be created or mounted,
    KServe refusing the spec, KServe's pod webhook denying the pod (e.g. a missing secret)."""
    message = event.get("message") or ""
    reason = event.get("reason")
    if reason == "FailedCreate":
        return any(
            word in message for word in ("serviceaccount", "forbidden", "denied the request")
        )
    if reason == "ServerlessModeRejected":  # Knative mode asked for, Knative not installed
        return True
    if reason in ("InternalError", "UpdateFailed"):
        return "object has been modified" not in message and any(
            word in message for word in _KSERVE_REFUSALS
        )
    return reason == "FailedMount" and "not found" in message
