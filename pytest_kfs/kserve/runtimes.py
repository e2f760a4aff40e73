"""Which runtime KServe picks for a predictor model, or why none fits (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RuntimeChoice:
    """The runtime chosen, or the failure KServe reports instead."""

    name: str | None
    cluster_scoped: bool = False
    spec: dict[str, Any] | None = None
    failure_reason: str | None = None
    failure_message: str | None = None


def _supports(
    spec: dict[str, Any], model_format: dict[str, Any], protocol: str, auto_only: bool
) -> bool:
    if protocol not in (spec.get("protocolVersions") or ["v1"]):
        return False
    for supported in spec.get("supportedModelFormats") or []:
        if supported.get("name") != model_format.get("name"):
            continue
        if (
            model_format.get("version")
            and supported.get("version")
            and supported["version"] != model_format["version"]
        ):
            continue
        if auto_only and not supported.get("autoSelect"):
            continue
        return True
    return False


def select_runtime(
    model: dict[str, Any], namespaced: dict[str, dict[str, Any]], cluster: dict[str, dict[str, Any]]
) -> RuntimeChoice:
    """Pick the runtime for a predictor model like KServe's controller."""
    model_format = model.get("modelFormat") or {}
    protocol = model.get("protocolVersion") or "v1"
    wanted = model.get("runtime")
    if wanted:
        spec, cluster_scoped = namespaced.get(wanted), False
        if spec is None:
            spec, cluster_scoped = cluster.get(wanted), True
        if spec is None:
            return RuntimeChoice(
                None,
                failure_reason="RuntimeNotRecognized",
                failure_message="Waiting for runtime to become available",
            )
        if spec.get("disabled"):
            return RuntimeChoice(
                None,
                failure_reason="RuntimeDisabled",
                failure_message=f"Specified runtime {wanted} is disabled",
            )
        if not _supports(spec, model_format, protocol, auto_only=False):
            return RuntimeChoice(
                None,
                failure_reason="NoSupportingRuntime",
                failure_message=(
                    f"Specified runtime {wanted} does not support specified framework/version"
                    if protocol in (spec.get("protocolVersions") or ["v1"])
                    else f"Specified runtime {wanted} does not support specified protocol version"
                ),
            )
        return RuntimeChoice(wanted, cluster_scoped, spec)
    for scope, runtimes in ((False, namespaced), (True, cluster)):
        for name in sorted(runtimes):
            spec = runtimes[name]
            if not spec.get("disabled") and _supports(spec, model_format, protocol, True):
                return RuntimeChoice(name, scope, spec)
    return RuntimeChoice(
        None,
        failure_reason="NoSupportingRuntime",
        failure_message=(f"No runtime found to support predictor with model type: {model_format}"),
    )
