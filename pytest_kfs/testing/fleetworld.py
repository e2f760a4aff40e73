"""A fleet of InferenceServices as KServe leaves them, written straight to a control plane.

For the fleet benchmark and tests of `--kfs-existing` at scale: no kubelet and no KServe
controller run. Each model gets the objects a real cluster would hold — its InferenceService
with the status KServe v0.20 writes, its predictor pod with the status a kubelet writes, the
events the controllers record — and the local Google Cloud gets the buckets, objects, keys and
grants behind them. Most models are Loaded; every STUCK_EVERY-th is stuck with one of
STUCK_CAUSES, in turn, with the texts real clusters show (the storage-initializer's exception
is google-cloud-storage's, as the local GCP phrases Google's 403/404).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pytest_kfs.diagnosis.codes import Code
from pytest_kfs.gcp.cloud_admin import CloudAdmin

PROJECT = "kfs-demo"
ISVC = ("serving.kserve.io", "v1beta1", "inferenceservices")
SECRET = "gcs-key"
ACCOUNT = "kserve-serving"
STUCK_EVERY = 20
KEY_FILE = "gcloud-application-credentials.json"
IMAGE = "kserve/sklearnserver:v0.20.0"
INITIALIZER = "kserve/storage-initializer:v0.20.0"
CREATED = "2026-11-26T03:00:00Z"
UPDATED = "2026-11-26T03:10:00Z"


@dataclass(frozen=True)
class FleetModel:
    """One model of the fleet and the finding a right diagnosis gives it (None: healthy)."""

    namespace: str
    name: str
    group: int  # whose key the namespace's serving account holds: principal(group)
    principal: str  # who the model is served as
    storage_uri: str
    cause: int | None = None  # index into STUCK_CAUSES; None: healthy

    @property
    def expected(self) -> Code | None:
        """The finding a right diagnosis names first."""
        return STUCK_CAUSES[self.cause][1] if self.cause is not None else None


def principal(index: int) -> str:
    """The Google service account of namespace group `index`."""
    return f"fleet-reader-{index:02d}@{PROJECT}.iam.gserviceaccount.com"


def stranger(namespace: str) -> str:
    """A Google service account with no grant: a namespace's stuck models are served as it."""
    return f"fleet-stranger-{namespace[-3:]}@{PROJECT}.iam.gserviceaccount.com"


def _denied(principal_email: str, bucket: str, prefix: str) -> str:
    return (
        "google.api_core.exceptions.Forbidden: 403 GET https://storage.googleapis.com/"
        f"storage/v1/b/{bucket}/o?projection=noAcl&prefix={prefix}%2F&prettyPrint=false: "
        f"{principal_email} does not have storage.objects.list access to the Google Cloud "
        "Storage bucket. Permission 'storage.objects.list' denied on resource (or it may "
        "not exist)."
    )


def _missing_bucket(bucket: str, prefix: str) -> str:
    return (
        "google.api_core.exceptions.NotFound: 404 GET https://storage.googleapis.com/"
        f"storage/v1/b/{bucket}/o?projection=noAcl&prefix={prefix}%2F&prettyPrint=false: "
        "The specified bucket does not exist."
    )


def _conditions(ready: bool, reason: str = "", message: str = "") -> list[dict[str, Any]]:
    status = "True" if ready else "False"
    extra = (
        {} if ready else {"reason": reason, "message": message} if message else {"reason": reason}
    )
    return [
        {"type": kind, "status": status, "lastTransitionTime": UPDATED, **extra}
        for kind in ("IngressReady", "PredictorReady", "Ready")
    ]


def _status(
    active: str,
    target: str,
    transition: str,
    ready: bool,
    reason: str = "",
    message: str = "",
    failure: dict[str, Any] | None = None,
) -> dict[str, Any]:
    model_status: dict[str, Any] = {
        "states": {"activeModelState": active, "targetModelState": target},
        "transitionStatus": transition,
        "copies": {"totalCopies": 1} if ready else {},
    }
    if failure:
        model_status["lastFailureInfo"] = failure
    return {
        "observedGeneration": 1,
        "deploymentMode": "Standard",
        "url": "http://placeholder.example.com" if ready else None,
        "conditions": _conditions(ready, reason, message),
        "modelStatus": model_status,
    }


def _container(name: str, image: str, **state: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imageID": "",
        "ready": "running" in state.get("state", {}) and name == "kserve-container",
        "restartCount": state.pop("restarts", 0),
        **state,
    }


def _pod(
    model: FleetModel, suffix: str, phase: str, init: dict[str, Any], main: dict[str, Any]
) -> dict[str, Any]:
    name = f"{model.name}-predictor-{suffix}"
    return {
        "metadata": {
            "name": name,
            "namespace": model.namespace,
            "labels": {
                "serving.kserve.io/inferenceservice": model.name,
                "component": "predictor",
                "app": f"{model.name}-predictor",
            },
        },
        "spec": {
            "containers": [{"name": "kserve-container", "image": IMAGE}],
            "initContainers": [{"name": "storage-initializer", "image": INITIALIZER}],
            "serviceAccountName": ACCOUNT,
        },
        "status": {"phase": phase, "initContainerStatuses": [init], "containerStatuses": [main]},
    }


_RUNNING = {"state": {"running": {"startedAt": CREATED}}}
# The Deployment's condition KServe copies while no predictor pod is available.
_UNAVAILABLE = ("MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
_INIT_DONE = {"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
_INIT_WAITING = {"state": {"waiting": {"reason": "PodInitializing"}}}


def _healthy_pod(model: FleetModel, suffix: str = "5d8f7c9b4-aaaaa") -> dict[str, Any]:
    return _pod(
        model,
        suffix,
        "Running",
        _container("storage-initializer", INITIALIZER, **_INIT_DONE),
        _container("kserve-container", IMAGE, **_RUNNING),
    )


def _crashing_initializer(model: FleetModel, message: str, suffix: str) -> dict[str, Any]:
    crashed = {
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "message": message}},
        "restarts": 4,
    }
    return _pod(
        model,
        suffix,
        "Pending",
        _container("storage-initializer", INITIALIZER, **crashed),
        _container("kserve-container", IMAGE, **_INIT_WAITING),
    )


@dataclass(frozen=True)
class Objects:
    """What one model leaves in the cluster."""

    status: dict[str, Any]
    pods: tuple[dict[str, Any], ...] = ()
    events: tuple[dict[str, Any], ...] = ()
    service_account: str = ACCOUNT


def _event(model: FleetModel, kind: str, name: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"{name}.{abs(hash((name, reason))) % 10**8:08x}",
            "namespace": model.namespace,
        },
        "involvedObject": {"kind": kind, "name": name, "namespace": model.namespace},
        "reason": reason,
        "message": message,
        "type": "Warning",
        "count": 12,
        "firstTimestamp": CREATED,
        "lastTimestamp": UPDATED,
        "source": {"component": "replicaset-controller"},
    }


def _bucket_and_prefix(model: FleetModel) -> tuple[str, str]:
    bucket, _, prefix = model.storage_uri.removeprefix("gs://").partition("/")
    return bucket, prefix.replace("/", "%2F")


def _seed(model: FleetModel) -> Objects:
    """The seed: an update whose new pod cannot list the bucket; the old one still serves."""
    bucket, prefix = _bucket_and_prefix(model)
    return Objects(
        _status("Loaded", "Pending", "InProgress", True),
        (
            _healthy_pod(model),
            _crashing_initializer(
                model, _denied(model.principal, bucket, prefix), "6c9d8f7b5-bbbbb"
            ),
        ),
        service_account="stuck-reader",
    )


def _fresh_denied(model: FleetModel) -> Objects:
    bucket, prefix = _bucket_and_prefix(model)
    text = _denied(model.principal, bucket, prefix)
    return Objects(
        _status(
            "",
            "FailedToLoad",
            "BlockedByFailedLoad",
            False,
            *_UNAVAILABLE,
            {
                "reason": "ModelLoadFailed",
                "message": text,
                "exitCode": 1,
                "location": "storage-initializer",
                "time": UPDATED,
            },
        ),
        (_crashing_initializer(model, text, "7f6d5c4b3-ccccc"),),
        service_account="stuck-reader",
    )


def _bucket_missing(model: FleetModel) -> Objects:
    bucket, prefix = _bucket_and_prefix(model)
    text = _missing_bucket(bucket, prefix)
    return Objects(
        _status(
            "",
            "FailedToLoad",
            "BlockedByFailedLoad",
            False,
            *_UNAVAILABLE,
            {
                "reason": "ModelLoadFailed",
                "message": text,
                "exitCode": 1,
                "location": "storage-initializer",
                "time": UPDATED,
            },
        ),
        (_crashing_initializer(model, text, "8e7d6c5b4-ddddd"),),
    )


def _pods_refused(model: FleetModel, replica_set: str, message: str, account: str) -> Objects:
    """No pod can be created: the ReplicaSet's FailedCreate says why; the Deployment waits."""
    return Objects(
        _status("", "Pending", "InProgress", False, *_UNAVAILABLE),
        events=(_event(model, "ReplicaSet", replica_set, "FailedCreate", message),),
        service_account=account,
    )


def _account_missing(model: FleetModel) -> Objects:
    replica_set = f"{model.name}-predictor-9f8e7d6c5"
    return _pods_refused(
        model,
        replica_set,
        (
            f'Error creating: pods "{replica_set}-" is forbidden: error looking up service account '
            f'{model.namespace}/gone-account: serviceaccount "gone-account" not found'
        ),
        "gone-account",
    )


def _secret_missing(model: FleetModel) -> Objects:
    return _pods_refused(
        model,
        f"{model.name}-predictor-0a9f8e7d6",
        (
            "Error creating: admission webhook "
            '"inferenceservice.kserve-webhook-server.pod-mutator" '
            'denied the request: secrets "gone-key" not found'
        ),
        "lost-key",
    )


def _oom(model: FleetModel) -> Objects:
    killed = {
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
        "restarts": 5,
    }
    pod = _pod(
        model,
        "1b0a9f8e7-eeeee",
        "Running",
        _container("storage-initializer", INITIALIZER, **_INIT_DONE),
        _container("kserve-container", IMAGE, **killed),
    )
    return Objects(_status("", "Loading", "InProgress", False, *_UNAVAILABLE), (pod,))


# Each stuck model's cause, in turn: (the builder, the finding a right diagnosis names).
STUCK_CAUSES: tuple[tuple[Callable[[FleetModel], Objects], Code], ...] = (
    (_seed, Code.GCS_LIST_DENIED),
    (_fresh_denied, Code.GCS_LIST_DENIED),
    (_bucket_missing, Code.GCS_BUCKET_MISSING),
    (_account_missing, Code.SERVICE_ACCOUNT_MISSING),
    (_secret_missing, Code.SECRET_MISSING),
    (_oom, Code.OOM_KILLED),
)


def plan(models: int, namespaces: int, principals: int) -> list[FleetModel]:
    """Which model lives where, is served as whom, and whether (and why) it is stuck."""
    fleet = []
    for index in range(models):
        namespace = f"team-{index % namespaces:03d}"
        group = (index % namespaces) % principals
        name = f"model-{index // namespaces:04d}"
        cause = (
            (index // STUCK_EVERY) % len(STUCK_CAUSES)
            if index % STUCK_EVERY == STUCK_EVERY - 1
            else None
        )
        builder = STUCK_CAUSES[cause][0] if cause is not None else None
        bucket = (
            f"fleet-gone-{group % 10}"
            if builder is _bucket_missing
            else f"fleet-models-{group % 10}"
        )
        who = stranger(namespace) if builder in (_seed, _fresh_denied) else principal(group)
        fleet.append(
            FleetModel(namespace, name, group, who, f"gs://{bucket}/{namespace}/{name}", cause)
        )
    return fleet


def objects(model: FleetModel) -> Objects:
    """The cluster objects of one model."""
    if model.cause is None:
        return Objects(_status("Loaded", "Loaded", "UpToDate", True), (_healthy_pod(model),))
    return STUCK_CAUSES[model.cause][0](model)


def _manifest(model: FleetModel, account: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": model.name,
            "namespace": model.namespace,
            "labels": {"team": model.namespace},
        },
        "spec": {
            "predictor": {
                "serviceAccountName": account,
                "model": {"modelFormat": {"name": "sklearn"}, "storageUri": model.storage_uri},
            }
        },
    }


def _key_secret(name: str, namespace: str, key: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {KEY_FILE: base64.b64encode(json.dumps(key).encode()).decode()},
    }


def arrange_google(
    gcp: CloudAdmin, fleet: list[FleetModel], principals: int
) -> dict[str, dict[str, Any]]:
    """Buckets, one object per model, a key per principal; each reader may read its bucket
    (the strangers may read nothing). Returns the keys by principal."""
    keys: dict[str, dict[str, Any]] = {}
    for group in range(principals):
        email = principal(group)
        gcp.ensure_service_account(email)
        bucket = f"fleet-models-{group % 10}"
        gcp.ensure_bucket(bucket, PROJECT)
        gcp.grant_bucket(bucket, "roles/storage.objectViewer", f"serviceAccount:{email}")
        keys[email] = gcp.create_key(email)
    for model in fleet:
        if stranger(model.namespace) not in keys:
            gcp.ensure_service_account(stranger(model.namespace))
            keys[stranger(model.namespace)] = gcp.create_key(stranger(model.namespace))
        bucket, _, path = model.storage_uri.removeprefix("gs://").partition("/")
        if not bucket.startswith("fleet-gone-"):
            gcp.put_object(bucket, f"{path}/model.joblib", b"sklearn model bytes")
    return keys


def write(
    api_client: Any, fleet: list[FleetModel], keys: dict[str, dict[str, Any]], threads: int = 8
) -> None:
    """Namespaces, service accounts, key secrets, InferenceServices with their status, pods
    with theirs, and events: as KServe and the kubelet would have left them."""
    from kubernetes import client

    core, custom = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
    by_namespace: dict[str, list[FleetModel]] = {}
    for model in fleet:
        by_namespace.setdefault(model.namespace, []).append(model)

    def namespace_objects(namespace: str) -> None:
        models = by_namespace[namespace]
        core.create_namespace({"metadata": {"name": namespace, "labels": {"team": namespace}}})
        accounts = {
            ACCOUNT: (SECRET, principal(models[0].group)),
            "stuck-reader": ("stranger-key", stranger(namespace)),
            "lost-key": ("gone-key", None),
        }
        for account, (secret, who) in accounts.items():
            if who is not None:
                core.create_namespaced_secret(namespace, _key_secret(secret, namespace, keys[who]))
            core.create_namespaced_service_account(
                namespace,
                {
                    "metadata": {"name": account, "namespace": namespace},
                    "secrets": [{"name": secret}],
                },
            )
        for model in models:
            made = objects(model)
            custom.create_namespaced_custom_object(
                *ISVC[:2], namespace, ISVC[2], _manifest(model, made.service_account)
            )
            custom.patch_namespaced_custom_object_status(
                *ISVC[:2], namespace, ISVC[2], model.name, {"status": made.status}
            )
            for pod in made.pods:
                status = pod["status"]
                core.create_namespaced_pod(
                    namespace, {k: v for k, v in pod.items() if k != "status"}
                )
                core.patch_namespaced_pod_status(
                    pod["metadata"]["name"], namespace, {"status": status}
                )
            for event in made.events:
                core.create_namespaced_event(namespace, event)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(namespace_objects, sorted(by_namespace)))


def stuck(fleet: list[FleetModel]) -> Iterator[FleetModel]:
    """The models a right diagnosis must explain."""
    return (model for model in fleet if model.expected is not None)
