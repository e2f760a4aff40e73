"""InferenceService manifests and the host names KServe derives for them (pure)."""

from __future__ import annotations

import re
from typing import Any

from pytest_kfs.kserve.api import API_VERSION, DEFAULT_DOMAIN_TEMPLATE, DEFAULT_INGRESS_DOMAIN


def manifest(
    name: str,
    *,
    model_format: str,
    storage_uri: str,
    protocol: str | None = None,
    runtime: str | None = None,
    service_account: str | None = None,
    min_replicas: int | None = None,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An InferenceService with a single predictor model."""
    model: dict[str, Any] = {"modelFormat": {"name": model_format}, "storageUri": storage_uri}
    if protocol:
        model["protocolVersion"] = protocol
    if runtime:
        model["runtime"] = runtime
    predictor: dict[str, Any] = {"model": model}
    if service_account:
        predictor["serviceAccountName"] = service_account
    if min_replicas is not None:
        predictor["minReplicas"] = min_replicas
    metadata: dict[str, Any] = {"name": name}
    if annotations:
        metadata["annotations"] = dict(annotations)
    if labels:
        metadata["labels"] = dict(labels)
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": {"predictor": predictor},
    }


_TEMPLATE_FIELD = re.compile(r"{{\s*\.(\w+)\s*}}")


def host_names(
    name: str,
    namespace: str,
    template: str = DEFAULT_DOMAIN_TEMPLATE,
    domain: str = DEFAULT_INGRESS_DOMAIN,
) -> list[str]:
    """The host names KServe derives for a model: the InferenceService's and its predictor's
    (`<name>-predictor`), each from the ingress domainTemplate."""

    def render(component: str) -> str:
        values = {"Name": component, "Namespace": namespace, "IngressDomain": domain}
        return _TEMPLATE_FIELD.sub(lambda field: values.get(field[1], field[0]), template)

    return [render(name), render(f"{name}-predictor")]


def host_name_problem(
    name: str,
    namespace: str,
    template: str = DEFAULT_DOMAIN_TEMPLATE,
    domain: str = DEFAULT_INGRESS_DOMAIN,
) -> str | None:
    """Why KServe would refuse the host names of this model (a label over 63 characters, a
    name over 253), or None."""
    for host in host_names(name, namespace, template, domain):
        label = max(host.split("."), key=len)
        if len(label) > 63:
            return (
                f"KServe builds the host name {host} from its domainTemplate {template!r}; "
                f"its label {label[:30]}... has {len(label)} characters, at most 63"
            )
        if len(host) > 253:
            return f"KServe's host name {host[:40]}... has {len(host)} characters, at most 253"
    return None
