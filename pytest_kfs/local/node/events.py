"""Kubernetes Events as the scheduler and kubelet write them (counted, not duplicated).

They are written until the API server answers (a restart must not lose them, nor stop the pod
thread that records them); what it refuses (a terminating namespace) is dropped, as in
Kubernetes."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from pytest_kfs.local.node.apicalls import REQUEST_TIMEOUT, ApiCalls


def now_rfc3339() -> str:
    """The current time as Kubernetes writes it."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    """Creates Events, bumping count and lastTimestamp when the same one repeats."""

    def __init__(
        self, core: client.CoreV1Api, calls: ApiCalls, component: str, host: str = ""
    ) -> None:
        self.core = core
        self.calls = calls
        self.component = component
        self.host = host
        self._seen: dict[tuple[str, str, str, str], tuple[str, int]] = {}
        self._lock = threading.Lock()

    def record(
        self,
        obj: dict[str, Any],
        kind: str,
        reason: str,
        message: str,
        type_: str = "Normal",
        field_path: str | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        """Record an Event about `obj` (a dict with metadata); refusals are not fatal.
        Retried while the API server does not answer, until the kubelet or `cancel` stops."""
        meta = obj["metadata"]
        namespace = meta.get("namespace", "default")
        key = (namespace, meta["name"], reason, message)
        stamp = now_rfc3339()
        with self._lock:
            previous = self._seen.get(key)
        try:
            if previous:
                name, count = previous
                self.calls.call(
                    lambda: self.core.patch_namespaced_event(
                        name,
                        namespace,
                        {"count": count + 1, "lastTimestamp": stamp},
                        _request_timeout=REQUEST_TIMEOUT,
                    ),
                    cancel,
                )
                with self._lock:
                    self._seen[key] = (name, count + 1)
                return
            name = f"{meta['name']}.{secrets.token_hex(8)}"
            involved = client.V1ObjectReference(
                api_version=obj.get("apiVersion", "v1"),
                kind=kind,
                name=meta["name"],
                namespace=namespace,
                uid=meta.get("uid"),
                resource_version=meta.get("resourceVersion"),
                field_path=field_path,
            )
            event = client.CoreV1Event(
                metadata=client.V1ObjectMeta(name=name, namespace=namespace),
                involved_object=involved,
                reason=reason,
                message=message,
                type=type_,
                source=client.V1EventSource(component=self.component, host=self.host or None),
                first_timestamp=stamp,
                last_timestamp=stamp,
                count=1,
                reporting_component=self.component,
                reporting_instance=self.host or None,
            )
            try:
                self.calls.call(
                    lambda: self.core.create_namespaced_event(
                        namespace, event, _request_timeout=REQUEST_TIMEOUT
                    ),
                    cancel,
                )
            except ApiException as error:
                if error.status != 409:
                    raise
                # An attempt whose answer was lost did create it (the name is ours alone).
            with self._lock:
                self._seen[key] = (name, 1)
        except ApiException:
            pass  # the namespace may be terminating; events are best effort, as in Kubernetes
