"""Server-side apply of manifests, as `kubectl apply --server-side` does it.

The kinds an install uses are named here with their REST paths, so no discovery runs (the
dynamic client's discovery cache is a shared file in /tmp, stale right after CRDs change).
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

FIELD_MANAGER = "pytest-kfs"
# kind -> (plural, namespaced)
_RESOURCES: dict[str, tuple[str, bool]] = {
    "Namespace": ("namespaces", False),
    "ServiceAccount": ("serviceaccounts", True),
    "Secret": ("secrets", True),
    "ConfigMap": ("configmaps", True),
    "Service": ("services", True),
    "Deployment": ("deployments", True),
    "DaemonSet": ("daemonsets", True),
    "ClusterRole": ("clusterroles", False),
    "ClusterRoleBinding": ("clusterrolebindings", False),
    "Role": ("roles", True),
    "RoleBinding": ("rolebindings", True),
    "MutatingWebhookConfiguration": ("mutatingwebhookconfigurations", False),
    "ValidatingWebhookConfiguration": ("validatingwebhookconfigurations", False),
    "CustomResourceDefinition": ("customresourcedefinitions", False),
    "ClusterServingRuntime": ("clusterservingruntimes", False),
    "ServingRuntime": ("servingruntimes", True),
    "InferenceService": ("inferenceservices", True),
}


def _resource(kind: str) -> tuple[str, bool]:
    if kind not in _RESOURCES:
        raise ValueError(f"cannot apply a {kind or 'manifest without kind'}: not a known kind")
    return _RESOURCES[kind]


def namespaced(kind: str) -> bool:
    """Whether objects of `kind` live in a namespace (ValueError for a kind not listed)."""
    return _resource(kind)[1]


def path_of(manifest: dict[str, Any]) -> str:
    """The object's REST path (ValueError for a kind not listed)."""
    plural, in_namespace = _resource(manifest.get("kind", ""))
    version = manifest["apiVersion"]
    prefix = f"/api/{version}" if "/" not in version else f"/apis/{version}"
    metadata = manifest["metadata"]
    where = f"/namespaces/{metadata['namespace']}" if in_namespace else ""
    return f"{prefix}{where}/{plural}/{metadata['name']}"


def apply(
    api_client: client.ApiClient, manifests: list[dict[str, Any]], dry_run: bool = False
) -> None:
    """Apply each manifest in order (server-side, taking over conflicting fields)."""
    query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
    if dry_run:
        query.append(("dryRun", "All"))
    for manifest in manifests:
        request = api_client.param_serialize(
            "PATCH",
            path_of(manifest),
            query_params=query,
            header_params={
                "Content-Type": "application/apply-patch+yaml",
                "Accept": "application/json",
            },
            body=manifest,
            auth_settings=["BearerToken"],
        )
        response = api_client.call_api(*request, _request_timeout=60)
        response.read()
        if response.status >= 400:  # the raw call returns refusals: raise as the client does
            raise ApiException(http_resp=response)
