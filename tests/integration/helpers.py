"""Helpers for integration tests: namespaces and polling on the embedded cluster."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from pytest_kfs.kserve import api


def eventually(
    predicate: Callable[[], Any],
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "condition",
) -> Any:
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
    return cluster.custom.get_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.PLURAL, name
    )


def model_status(cluster, namespace: str, name: str) -> dict[str, Any]:
    """status.modelStatus, or {} before the controller wrote it."""
    return (get_isvc(cluster, namespace, name).get("status") or {}).get("modelStatus") or {}


def ready_condition(cluster, namespace: str, name: str) -> str | None:
    """The Ready condition's status."""
    for condition in (get_isvc(cluster, namespace, name).get("status") or {}).get(
        "conditions"
    ) or []:
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
        namespace, label_selector=f"serving.kserve.io/inferenceservice={name}"
    ).items
    if not pods:
        return ""
    newest = max(pods, key=lambda pod: pod.metadata.creation_timestamp)
    try:
        return (
            cluster.core.read_namespaced_pod_log(
                newest.metadata.name, namespace, container="storage-initializer"
            )
            or ""
        )
    except ApiException:
        return ""


def write_kubeconfig(
    path: Path, context: str, server: str, user: dict[str, Any], ca: str | None = None
) -> Path:
    """A one-context kubeconfig: `server`, the CA to trust (if any), the user's credentials."""
    cluster = {"server": server, **({"certificate-authority": ca} if ca else {})}
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": context,
                "clusters": [{"name": context, "cluster": cluster}],
                "users": [{"name": context, "user": user}],
                "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            }
        )
    )
    return path


def service_account_kubeconfig(
    cluster, namespace: str, account: str, path: Path, context: str
) -> Path:
    """A kubeconfig acting as a Kubernetes service account (a fresh token for it)."""
    token = cluster.core.create_namespaced_service_account_token(
        account,
        namespace,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    ).status.token
    return write_kubeconfig(
        path,
        context,
        cluster.server,
        {"token": token},
        cluster.api_client.configuration.ssl_ca_cert,
    )


def cache_lacking_manifests(root: Path) -> Path:
    """An XDG cache whose every part links the machine's built one, but whose default release
    lacks its manifests: a run on it builds on first use, for real and in seconds."""
    from pytest_kfs.local import assets
    from pytest_kfs.local.kserve.releases import release

    wanted = release()
    built = assets.kserve_dir(wanted)
    kserve = root / "pytest-kfs" / built.name
    kserve.mkdir(parents=True)
    for part in built.iterdir():
        if part.name != assets.MANIFESTS:
            (kserve / part.name).symlink_to(part)
    for shared in (assets.cache_dir(), assets.s3_venv()):
        (root / "pytest-kfs" / shared.name).symlink_to(shared)
    return root
