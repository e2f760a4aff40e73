"""InferenceService manifests: the sample catalogue and user models (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

GROUP = "serving.kserve.io"
VERSION = "v1beta1"
PLURAL = "inferenceservices"
API_VERSION = f"{GROUP}/{VERSION}"


# The two rows KServe's docs send to the iris sample, and the classes it answers.
IRIS_INPUT = ((6.8, 2.8, 4.8, 1.4), (6.0, 3.4, 4.5, 1.6))
IRIS_OUTPUT = (1, 1)


@dataclass(frozen=True)
class Sample:
    """A model KServe's own docs deploy, with the storage URI they use."""

    name: str
    model_format: str
    storage_uri: str
    protocol: str = "v1"
    runtime: str | None = None
    description: str = ""
    example_input: tuple[tuple[float, ...], ...] = ()
    expected_output: tuple[Any, ...] = ()


SAMPLES: dict[str, Sample] = {
    sample.name: sample
    for sample in (
        Sample(
            name="sklearn-iris",
            model_format="sklearn",
            storage_uri="gs://kfserving-examples/models/sklearn/1.0/model",
            description="scikit-learn iris classifier, KServe v1 protocol (KServe quick start)",
            example_input=IRIS_INPUT, expected_output=IRIS_OUTPUT,
        ),
        Sample(
            name="sklearn-iris-v2",
            model_format="sklearn",
            storage_uri="gs://kfserving-examples/models/sklearn/1.0/model",
            protocol="v2",
            runtime="kserve-sklearnserver",
            description="the same iris model over the Open Inference (v2) protocol",
            example_input=IRIS_INPUT, expected_output=IRIS_OUTPUT,
        ),
    )
}


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
    return {"apiVersion": API_VERSION, "kind": "InferenceService", "metadata": metadata,
            "spec": {"predictor": predictor}}


def sample_for(storage_uri: str, protocol: str = "v1", copy_of: str | None = None
               ) -> Sample | None:
    """The catalogue sample stored at this URI (or that the model is a copy of) over
    `protocol` (else over any), if any: its input and answer are known, and its spec is the one
    KServe's docs deploy."""
    if copy_of in SAMPLES:
        storage_uri = SAMPLES[copy_of].storage_uri
    found = [s for s in SAMPLES.values() if s.storage_uri.rstrip("/") == storage_uri.rstrip("/")]
    return next((s for s in found if s.protocol == protocol), found[0] if found else None)


# KServe's default `ingress.domainTemplate` and `ingressDomain` (inferenceservice-config).
DEFAULT_DOMAIN_TEMPLATE = "{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}"
DEFAULT_INGRESS_DOMAIN = "example.com"
_TEMPLATE_FIELD = re.compile(r"{{\s*\.(\w+)\s*}}")


def host_names(name: str, namespace: str, template: str = DEFAULT_DOMAIN_TEMPLATE,
               domain: str = DEFAULT_INGRESS_DOMAIN) -> list[str]:
    """The host names KServe derives for a model: the InferenceService's and its predictor's
    (`<name>-predictor`), each from the ingress domainTemplate."""
    def render(component: str) -> str:
        values = {"Name": component, "Namespace": namespace, "IngressDomain": domain}
        return _TEMPLATE_FIELD.sub(lambda field: values.get(field[1], field[0]), template)
    return [render(name), render(f"{name}-predictor")]


def host_name_problem(name: str, namespace: str, template: str = DEFAULT_DOMAIN_TEMPLATE,
                      domain: str = DEFAULT_INGRESS_DOMAIN) -> str | None:
    """Why KServe would refuse the host names of this model (a label over 63 characters, a
    name over 253), or None."""
    for host in host_names(name, namespace, template, domain):
        label = max(host.split("."), key=len)
        if len(label) > 63:
            return (f"KServe builds the host name {host} from its domainTemplate {template!r}; "
                    f"its label {label[:30]}... has {len(label)} characters, at most 63")
        if len(host) > 253:
            return f"KServe's host name {host[:40]}... has {len(host)} characters, at most 253"
    return None
