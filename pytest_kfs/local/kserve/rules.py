"""KServe's decisions, as pure functions over plain dicts (see shared/reference/kserve.md).

- which credentials the storage-initializer gets (the webhook's order of precedence);
- how the model status follows the first pod of the latest revision (PropagateModelStatus).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

INITIALIZER = "storage-initializer"
SERVER = "kserve-container"
GCS_KEY_FILE = "gcloud-application-credentials.json"
S3_KEYS = ("AWS_ACCESS_KEY_ID", "awsAccessKeyID")
SECRET_ANNOTATION_DEFAULT = "serving.kserve.io/storageSecretName"
GCS_VOLUME = "user-gcp-sa"
GCS_MOUNT = "/var/secrets/"


# -- credentials (the pod mutating webhook) -----------------------------------------------------
@dataclass(frozen=True)
class CredentialChoice:
    """How the storage-initializer authenticates: a mounted key secret, or none (ADC)."""

    source: str  # "annotation-secret" | "service-account-secret" | "none"
    secret: str | None = None
    file_name: str = GCS_KEY_FILE
    shadowed_by_s3: bool = False


def select_credentials(isvc_annotations: dict[str, str], annotation_key: str,
                       service_account_secrets: list[str],
                       secrets_data: dict[str, dict[str, str]],
                       gcs_file_name: str = GCS_KEY_FILE) -> CredentialChoice:
    """Annotation secret, else each of the service account's secrets; S3 keys win over GCS."""
    named = isvc_annotations.get(annotation_key)
    candidates = [(named, "annotation-secret")] if named else [
        (name, "service-account-secret") for name in service_account_secrets]
    for name, source in candidates:
        data = secrets_data.get(name)
        if data is None:
            continue
        if any(key in data for key in S3_KEYS):
            if gcs_file_name in data:
                return CredentialChoice("none", name, gcs_file_name, shadowed_by_s3=True)
            continue
        if gcs_file_name in data:
            return CredentialChoice(source, name, gcs_file_name)
    return CredentialChoice("none", file_name=gcs_file_name)


# -- model status -------------------------------------------------------------------------------
def _container_status(pod: dict[str, Any], name: str, init: bool) -> dict[str, Any] | None:
    key = "initContainerStatuses" if init else "containerStatuses"
    for status in (pod.get("status") or {}).get(key) or []:
        if status.get("name") == name:
            return status
    return None


def update_model_revision_states(model_status: dict[str, Any], target: str,
                                 failure: dict[str, Any] | None = None) -> dict[str, Any]:
    """KServe's UpdateModelRevisionStates: target drives transition; Loaded promotes active."""
    status = copy.deepcopy(model_status) if model_status else {}
    states = status.setdefault("states", {"activeModelState": "Pending"})
    states.setdefault("activeModelState", "Pending")
    states["targetModelState"] = target
    if target in ("Pending", "Loading"):
        status["transitionStatus"] = "InProgress"
    elif target == "Loaded":
        status["transitionStatus"] = "UpToDate"
        states["activeModelState"] = "Loaded"
    elif target == "FailedToLoad":
        status["transitionStatus"] = "BlockedByFailedLoad"
    if failure is not None:
        status["lastFailureInfo"] = failure
    status.setdefault("copies", {"failedCopies": 0})
    return status


def _failure(reason: str, message: str, location: str, revision: str,
             exit_code: int | None, when: str) -> dict[str, Any]:
    info: dict[str, Any] = {"reason": reason, "message": message, "location": location,
                            "modelRevisionName": revision, "time": when}
    if exit_code is not None:
        info["exitCode"] = exit_code
    return info


def propagate_model_status(model_status: dict[str, Any], pods: list[dict[str, Any]],
                           revision: str, revision_ready: bool, now: str) -> dict[str, Any]:
    """KServe's PropagateModelStatus over the pods of the latest revision (first pod only)."""
    if not pods:
        return update_model_revision_states(model_status, "Pending")
    if revision_ready:
        status = update_model_revision_states(model_status, "Loaded")
        ready = sum(1 for pod in pods if _pod_ready(pod))
        status["copies"] = {"failedCopies": 0, "totalCopies": ready}
        return status
    pod = pods[0]
    initializer = _container_status(pod, INITIALIZER, init=True)
    if initializer:
        state, last = initializer.get("state") or {}, initializer.get("lastState") or {}
        if "running" in state:
            if last.get("terminated"):
                return copy.deepcopy(model_status) or update_model_revision_states({}, "Pending")
            return update_model_revision_states(model_status, "Loading")
    for container in (initializer, _container_status(pod, SERVER, init=False)):
        failed = _failed_to_load(model_status, container, pod["metadata"]["name"], revision,
                                 now)
        if failed:
            return failed
    return update_model_revision_states(model_status, "Pending")


def _failed_to_load(model_status: dict[str, Any], container: dict[str, Any] | None,
                    location: str, revision: str, now: str) -> dict[str, Any] | None:
    """FailedToLoad with the termination's details, for an Error or a CrashLoopBackOff."""
    if not container:
        return None
    state, last = container.get("state") or {}, container.get("lastState") or {}
    terminated = state.get("terminated") or {}
    if terminated.get("reason") != "Error":
        if (state.get("waiting") or {}).get("reason") != "CrashLoopBackOff":
            return None
        terminated = last.get("terminated") or {}
    status = update_model_revision_states(model_status, "FailedToLoad", _failure(
        "ModelLoadFailed", terminated.get("message", ""), location, revision,
        terminated.get("exitCode"), now))
    status["copies"] = {"failedCopies": 1, "totalCopies": 0}
    return status


def _pod_ready(pod: dict[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def runtime_failure_status(model_status: dict[str, Any], reason: str, message: str,
                           now: str) -> dict[str, Any]:
    """Runtime selection failed: InvalidSpec with the reason, target FailedToLoad."""
    status = update_model_revision_states(model_status, "FailedToLoad", {
        "reason": reason, "message": message, "time": now})
    status["transitionStatus"] = "InvalidSpec"
    return status
