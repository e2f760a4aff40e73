"""The default scheduler's part for the one node: bind a pod whose requests fit, or tell the
pod (an Event and its PodScheduled condition) why it cannot be scheduled."""

from __future__ import annotations

import contextlib
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from pytest_kfs.local.node.apicalls import REQUEST_TIMEOUT, ApiCalls
from pytest_kfs.local.node.events import EventRecorder, now_rfc3339
from pytest_kfs.local.node.settings import NODE_CPU, NODE_MEMORY, NODE_NAME


def quantity(value: str) -> float:
    """A Kubernetes quantity ('512Mi', '250m', '2') as a number."""
    units = {
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "m": 1e-3,
        "k": 1e3,
        "M": 1e6,
        "G": 1e9,
    }
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


def _shortages(pod: dict[str, Any]) -> list[str]:
    memory = cpu = 0.0
    for container in pod["spec"].get("containers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        memory += quantity(str(requests.get("memory", "0")))
        cpu += quantity(str(requests.get("cpu", "0")))
    short = []
    if memory > quantity(NODE_MEMORY):
        short.append("Insufficient memory")
    if cpu > quantity(NODE_CPU):
        short.append("Insufficient cpu")
    return short


class Scheduler:
    """Binds pending pods to the node; one that does not fit is reported once and left."""

    def __init__(self, core: client.CoreV1Api, calls: ApiCalls) -> None:
        self.core = core
        self.calls = calls
        self.events = EventRecorder(core, calls, "default-scheduler")
        self.unschedulable: set[str] = set()

    def schedule(self, pod: dict[str, Any]) -> None:
        """Bind `pod` to the node, or report it Unschedulable (once per pod)."""
        meta = pod["metadata"]
        if meta["uid"] in self.unschedulable:
            return
        short = _shortages(pod)
        if short:
            self.unschedulable.add(meta["uid"])
            message = (
                f"0/1 nodes are available: {', '.join(f'1 {s}' for s in short)}. "
                "preemption: 0/1 nodes are available: 1 No preemption victims found "
                "for incoming pod."
            )
            self.events.record(pod, "Pod", "FailedScheduling", message, "Warning")
            with contextlib.suppress(ApiException):
                self.calls.call(
                    lambda: self.core.patch_namespaced_pod_status(
                        meta["name"],
                        meta["namespace"],
                        {
                            "status": {
                                "phase": "Pending",
                                "conditions": [
                                    {
                                        "type": "PodScheduled",
                                        "status": "False",
                                        "reason": "Unschedulable",
                                        "message": message,
                                        "lastTransitionTime": now_rfc3339(),
                                    }
                                ],
                            }
                        },
                        _request_timeout=REQUEST_TIMEOUT,
                    )
                )
            return
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": NODE_NAME},
        }
        # A binding whose answer was lost is refused (409) when sent again: it is done.
        with contextlib.suppress(ApiException):
            self.calls.call(
                lambda: self.core.create_namespaced_pod_binding(
                    meta["name"],
                    meta["namespace"],
                    binding,
                    _preload_content=False,
                    _request_timeout=REQUEST_TIMEOUT,
                )
            )
