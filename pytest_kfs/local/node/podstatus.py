"""A pod's status as the kubelet keeps and writes it: container states, conditions, phase."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from pytest_kfs.local.node.apicalls import REQUEST_TIMEOUT, ApiCalls, unanswered
from pytest_kfs.local.node.events import now_rfc3339

# A conflict that outlives re-reading the (same) pod this often is not ours to resolve.
_MAX_CONFLICTS = 5


def _timestamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ContainerRun:
    """One container of a pod: its state, the one before, restarts and readiness."""

    name: str
    image: str
    restart_count: int = 0
    state: dict[str, Any] = field(
        default_factory=lambda: {"waiting": {"reason": "PodInitializing"}}
    )
    last_state: dict[str, Any] = field(default_factory=dict)
    ready: bool = False

    def status(self) -> dict[str, Any]:
        """The container's entry in the pod's status."""
        return {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": "running" in self.state,
            "state": self.state,
            "lastState": self.last_state,
        }


@dataclass
class PodStatus:
    """What the kubelet knows of one pod, written as its status."""

    inits: list[ContainerRun]
    mains: list[ContainerRun]
    started: float
    phase: str = "Pending"
    conditions: dict[str, str] = field(
        default_factory=lambda: {
            "PodScheduled": "True",
            "Initialized": "False",
            "ContainersReady": "False",
            "Ready": "False",
        }
    )

    def container(self, name: str) -> ContainerRun | None:
        """An init or main container by name."""
        return next((run for run in self.inits + self.mains if run.name == name), None)

    def document(self) -> dict[str, Any]:
        """The `status` of the Pod object."""
        stamp = now_rfc3339()
        return {
            "phase": self.phase,
            "hostIP": "127.0.0.1",
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": _timestamp(self.started),
            "conditions": [
                {"type": kind, "status": value, "lastTransitionTime": stamp}
                for kind, value in self.conditions.items()
            ],
            "initContainerStatuses": [run.status() for run in self.inits],
            "containerStatuses": [run.status() for run in self.mains],
        }


class PodStatusWriter:
    """Writes one pod's status until the API server takes it, as the kubelet's status manager.

    The patch carries the pod's uid, which the API server holds to (it refuses the patch for a
    pod deleted and created again under the same name). After a failed attempt (the API server
    away, a conflict, a refusal) the pod is read again: it may be gone or replaced meanwhile.
    """

    def __init__(
        self,
        core: client.CoreV1Api,
        calls: ApiCalls,
        namespace: str,
        name: str,
        uid: str,
        stop: threading.Event,
    ) -> None:
        self._core = core
        self._calls = calls
        self._namespace, self._name, self._uid = namespace, name, uid
        self._stop = stop

    def write(self, status: dict[str, Any]) -> bool:
        """Write `status`; False when the pod is gone (deleted, or replaced by a namesake).
        KubeletStopped when the pod or the kubelet stops while the API server is away."""
        body = {"metadata": {"uid": self._uid}, "status": status}
        backoff = self._calls.backoff(self._stop)
        reread, refused, conflicts = False, False, 0
        while True:
            try:
                if reread and not self._still_there():
                    return False
                if refused:
                    return True  # the same pod, refused for good (e.g. invalid): as before
                self._core.patch_namespaced_pod_status(
                    self._name, self._namespace, body, _request_timeout=REQUEST_TIMEOUT
                )
                return True
            except ApiException as error:
                if error.status == 404:
                    return False
                if not unanswered(error):
                    if refused:
                        return True  # reading the pod was refused too: nothing more to learn
                    conflicts += error.status == 409
                    refused = error.status != 409 or conflicts > _MAX_CONFLICTS
                failure: Exception = error
            except Exception as error:
                if not unanswered(error):
                    raise
                failure = error
            reread = True
            if not refused:  # a refusal is checked against the pod at once
                backoff.wait(failure)

    def _still_there(self) -> bool:
        pod = self._core.read_namespaced_pod(
            self._name, self._namespace, _request_timeout=REQUEST_TIMEOUT
        )
        return bool(pod.metadata.uid == self._uid)
