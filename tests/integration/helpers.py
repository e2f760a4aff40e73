"""Helpers for integration tests: namespaces and polling on the embedded cluster."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes.client.rest import ApiException

from pytest_kfs import inferenceservice as isvc


def eventually(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1,
               what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout}s")


def get_isvc(cluster, namespace: str, name: str) -> dict[str, Any]:
    """The InferenceService as stored."""
    return cluster.custom.get_namespaced_custom_object(isvc.GROUP, isvc.VERSION, namespace,
                                                       isvc.PLURAL, name)


def model_status(cluster, namespace: str, name: str) -> dict[str, Any]:
    """status.modelStatus, or {} before the controller wrote it."""
    return (get_isvc(cluster, namespace, name).get("status") or {}).get("modelStatus") or {}


def ready_condition(cluster, namespace: str, name: str) -> str | None:
    """The Ready condition's status."""
    for condition in (get_isvc(cluster, namespace, name).get("status") or {}).get(
            "conditions") or []:
        if condition["type"] == "Ready":
            return condition["status"]
    return None


def wait_default_service_account(cluster, namespace: str) -> None:
    """kube-controller-manager creates `default` shortly after the namespace."""
    def present():
        try:
            return cluster.core.read_namespaced_service_account("default", namespace)
        except ApiException:
            return None
    eventually(present, what=f"default service account in {namespace}")


def initializer_log(cluster, namespace: str, name: str) -> str:
    """The storage-initializer log of the newest predictor pod, through pods/log."""
    pods = cluster.core.list_namespaced_pod(
        namespace, label_selector=f"serving.kserve.io/inferenceservice={name}").items
    if not pods:
        return ""
    newest = max(pods, key=lambda pod: pod.metadata.creation_timestamp)
    try:
        return cluster.core.read_namespaced_pod_log(newest.metadata.name, namespace,
                                                    container="storage-initializer")
    except ApiException:
        return ""
