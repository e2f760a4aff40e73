"""The kubelet's API calls, retried until the API server answers, as a real kubelet keeps syncing.

A restarting or overloaded kube-apiserver refuses connections or answers 429 / 5xx for a while;
a call then waits (doubling back-off, capped at a couple of seconds) and tries again, bounded
only by the kubelet, or the pod the call is for, being stopped. An answer that says no (404,
409, 403, ...) is the caller's to handle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError

T = TypeVar("T")

# Every call has a deadline: a connection the API server dropped silently is retried as well.
REQUEST_TIMEOUT = 30.0
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 2.0
_UNANSWERED_STATUSES = frozenset({429, 500, 502, 503, 504})


class KubeletStopped(Exception):
    """The kubelet (or the pod a call was for) stopped while the API server did not answer."""


def unanswered(error: BaseException) -> bool:
    """Whether the API server did not answer (down, restarting, overloaded) rather than say no."""
    if isinstance(error, ApiException):
        return error.status in _UNANSWERED_STATUSES
    return isinstance(error, (HTTPError, OSError))  # refused, reset, timed out (urllib3 wraps)


def _retry_after(error: BaseException) -> float:
    headers = getattr(error, "headers", None) or {}
    try:
        return float(headers.get("Retry-After") or 0)
    except (TypeError, ValueError):
        return 0.0


class Backoff:
    """The waits between attempts of one call: doubling from FIRST_BACKOFF to MAX_BACKOFF."""

    def __init__(self, stop: threading.Event, cancel: threading.Event | None) -> None:
        self._stop = stop
        self._cancel = cancel
        self._delay = FIRST_BACKOFF

    def stopped(self) -> bool:
        """Whether the kubelet, or what the call is for, has stopped."""
        return self._stop.is_set() or (self._cancel is not None and self._cancel.is_set())

    def wait(self, error: BaseException) -> None:
        """Wait before the next attempt (Retry-After honoured, within the cap); KubeletStopped
        if the kubelet or the pod stops first."""
        pause = min(max(self._delay, _retry_after(error)), MAX_BACKOFF)
        # A pod's stop event is set when the kubelet stops too, so waiting on it sees both.
        if self.stopped() or (self._cancel or self._stop).wait(pause) or self.stopped():
            raise KubeletStopped(f"stopped while the API server did not answer: {error!r}")
        self._delay = min(self._delay * 2, MAX_BACKOFF)


class ApiCalls:
    """Runs the kubelet's API calls until the API server answers, success or refusal."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def backoff(self, cancel: threading.Event | None = None) -> Backoff:
        """A fresh back-off for one call; `cancel` (a pod's stop) ends it as the kubelet's does."""
        return Backoff(self.stop, cancel)

    def call(self, request: Callable[[], T], cancel: threading.Event | None = None) -> T:
        """`request()` until the API server answers; its refusals (ApiException) propagate."""
        backoff = self.backoff(cancel)
        while True:
            try:
                return request()
            except Exception as error:
                if not unanswered(error):
                    raise
                backoff.wait(error)
