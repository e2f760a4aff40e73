"""The embedded KServe controller + webhook: InferenceService -> predictor pods -> status.

Per generation it makes one revision (`<name>-predictor-0000N`) with one pod carrying the
storage-initializer (credentials injected as KServe's webhook does), keeps the previous revision
serving until the new one is ready, scales `minReplicas: 0` services to zero once idle, and
writes `status` (conditions, components, modelStatus) by KServe's rules after every change.
"""

from __future__ import annotations

import contextlib
import json
import queue
import secrets
import sys
import threading
import time
from typing import Any

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from pytest_kfs import inferenceservice as isvc
from pytest_kfs.local.kserve import rules
from pytest_kfs.local.kserve.events import EventRecorder, now_rfc3339
from pytest_kfs.local.kserve.kubelet import ENDPOINT_ANNOTATION, Timing
from pytest_kfs.runtimes import RuntimeChoice, select_runtime

KSERVE_NAMESPACE = "kserve"
CONFIG_MAP = "inferenceservice-config"
INITIALIZER_IMAGE = "kserve/storage-initializer:v0.15.2"
ISVC_LABEL = "serving.kserve.io/inferenceservice"
REVISION_LABEL = "serving.knative.dev/revision"
RUNTIME_GROUP, RUNTIME_VERSION = "serving.kserve.io", "v1alpha1"

DEFAULT_CONFIG = {
    "storageInitializer": {"image": INITIALIZER_IMAGE, "memoryRequest": "100Mi",
                           "memoryLimit": "1Gi", "cpuRequest": "100m", "cpuLimit": "1"},
    "credentials": {"gcs": {"gcsCredentialFileName": rules.GCS_KEY_FILE},
                    "storageSecretNameAnnotation": rules.SECRET_ANNOTATION_DEFAULT},
}

CLUSTER_RUNTIMES = {
    "kserve-sklearnserver": {
        "image": "kserve/sklearnserver:v0.15.2", "protocols": ["v1", "v2"],
        "formats": [{"name": "sklearn", "version": "1", "autoSelect": True, "priority": 1}]},
    "kserve-xgbserver": {
        "image": "kserve/xgbserver:v0.15.2", "protocols": ["v1", "v2"],
        "formats": [{"name": "xgboost", "version": "1", "autoSelect": True, "priority": 1}]},
    "kserve-lgbserver": {
        "image": "kserve/lgbserver:v0.15.2", "protocols": ["v1", "v2"],
        "formats": [{"name": "lightgbm", "version": "4", "autoSelect": True, "priority": 1}]},
}


def _runtime_object(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{RUNTIME_GROUP}/{RUNTIME_VERSION}", "kind": "ClusterServingRuntime",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "pytest-kfs"}},
        "spec": {
            "supportedModelFormats": spec["formats"], "protocolVersions": spec["protocols"],
            "containers": [{"name": rules.SERVER, "image": spec["image"],
                            "args": ["--model_name={{.Name}}", "--model_dir=/mnt/models",
                                     "--http_port=8080"],
                            "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}]},
    }


class Controller:
    """Reconciles InferenceServices against the real API server."""

    def __init__(self, api_client: client.ApiClient, timing: Timing | None = None) -> None:
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.timing = timing or Timing()
        self.events = EventRecorder(self.core, "inferenceservice-controller")
        self.queue: queue.Queue[tuple[str, str]] = queue.Queue()
        self.ready_revisions: set[str] = set()
        self.scaled_to_zero: set[str] = set()
        self._stop = threading.Event()

    # -- set-up -----------------------------------------------------------------------------
    def seed(self) -> None:
        """Create the kserve namespace, inferenceservice-config and the cluster runtimes."""
        try:
            self.core.create_namespace({"metadata": {"name": KSERVE_NAMESPACE}})
        except ApiException as error:
            if error.status != 409:
                raise
        data = {key: json.dumps(value, indent=2) for key, value in DEFAULT_CONFIG.items()}
        try:
            self.core.create_namespaced_config_map(KSERVE_NAMESPACE, {
                "metadata": {"name": CONFIG_MAP}, "data": data})
        except ApiException as error:
            if error.status != 409:
                raise
        for name, spec in CLUSTER_RUNTIMES.items():
            try:
                self.custom.create_cluster_custom_object(
                    RUNTIME_GROUP, RUNTIME_VERSION, "clusterservingruntimes",
                    _runtime_object(name, spec))
            except ApiException as error:
                if error.status != 409:
                    raise

    def start(self) -> Controller:
        """Seed, then watch InferenceServices and their pods, reconciling in one worker."""
        self.seed()
        threading.Thread(target=self._watch, args=("isvc",), name="kfs-kserve-isvc",
                         daemon=True).start()
        threading.Thread(target=self._watch, args=("pods",), name="kfs-kserve-pods",
                         daemon=True).start()
        threading.Thread(target=self._work, name="kfs-kserve-worker", daemon=True).start()
        threading.Thread(target=self._resync, name="kfs-kserve-resync", daemon=True).start()
        return self

    def _resync(self) -> None:
        """Reconcile everything now and then, as controllers do: a missed event heals."""
        while not self._stop.wait(self.timing.resync):
            try:
                items = self.custom.list_cluster_custom_object(
                    isvc.GROUP, isvc.VERSION, isvc.PLURAL, _request_timeout=10)["items"]
            except Exception:  # the API server may be stopping; try again next period
                continue
            for item in items:
                self.queue.put((item["metadata"]["namespace"], item["metadata"]["name"]))

    def stop(self) -> None:
        """Stop reconciling."""
        self._stop.set()
        self.queue.put(("", ""))

    def _watch(self, what: str) -> None:
        resource_version = ""
        while not self._stop.is_set():
            try:
                stream = watch.Watch()
                if what == "isvc":
                    source, args = self.custom.list_cluster_custom_object, (
                        isvc.GROUP, isvc.VERSION, isvc.PLURAL)
                    kwargs: dict[str, Any] = {}
                else:
                    source, args = self.core.list_pod_for_all_namespaces, ()
                    kwargs = {"label_selector": ISVC_LABEL}
                for event in stream.stream(source, *args, resource_version=resource_version,
                                           timeout_seconds=30, _request_timeout=60, **kwargs):
                    if self._stop.is_set():
                        stream.stop()
                        break
                    obj = event["object"]
                    if not isinstance(obj, dict):
                        obj = self.api_client.sanitize_for_serialization(obj)
                    meta = obj["metadata"]
                    resource_version = meta.get("resourceVersion", resource_version)
                    name = meta["name"] if what == "isvc" else (meta.get("labels") or {}).get(
                        ISVC_LABEL)
                    if name:
                        self.queue.put((meta["namespace"], name))
            except ApiException as error:
                if error.status == 410:
                    resource_version = ""
                time.sleep(0.1)
            except Exception:
                time.sleep(0.1)

    def _work(self) -> None:
        while not self._stop.is_set():
            key = self.queue.get()
            if self._stop.is_set():
                return
            pending = {key}
            while not self.queue.empty():  # collapse bursts of events into one reconcile each
                pending.add(self.queue.get_nowait())
            for namespace, name in sorted(pending):
                try:
                    self.reconcile(namespace, name)
                except ApiException as error:
                    if error.status not in (404, 409):
                        print(f"embedded kserve: {namespace}/{name}: {_api_message(error)}",
                              file=sys.stderr)
                    if error.status == 409:
                        self.queue.put((namespace, name))
                except Exception as error:  # keep reconciling other services
                    print(f"embedded kserve: {namespace}/{name}: {error!r}", file=sys.stderr)

    # -- reconcile ----------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        try:
            data = self.core.read_namespaced_config_map(CONFIG_MAP, KSERVE_NAMESPACE).data or {}
        except ApiException:
            data = {}
        return {key: json.loads(data[key]) if key in data else value
                for key, value in DEFAULT_CONFIG.items()}

    def _runtimes(self, namespace: str) -> tuple[dict[str, Any], dict[str, Any]]:
        namespaced = self.custom.list_namespaced_custom_object(
            RUNTIME_GROUP, RUNTIME_VERSION, namespace, "servingruntimes")["items"]
        cluster = self.custom.list_cluster_custom_object(
            RUNTIME_GROUP, RUNTIME_VERSION, "clusterservingruntimes")["items"]
        return ({r["metadata"]["name"]: r["spec"] for r in namespaced},
                {r["metadata"]["name"]: r["spec"] for r in cluster})

    def reconcile(self, namespace: str, name: str) -> None:
        """Bring pods and status of one InferenceService in line with its spec."""
        try:
            obj = self.custom.get_namespaced_custom_object(isvc.GROUP, isvc.VERSION, namespace,
                                                           isvc.PLURAL, name)
        except ApiException as error:
            if error.status == 404:
                return
            raise
        if obj["metadata"].get("deletionTimestamp"):
            return
        generation = obj["metadata"].get("generation", 1)
        revision = f"{name}-predictor-{generation:05d}"
        # Revision names repeat across namespaces and re-created services; the uid does not.
        revision_key = f"{obj['metadata']['uid']}/{revision}"
        model = obj["spec"]["predictor"].get("model") or {}
        choice = select_runtime(model, *self._runtimes(namespace))
        status = dict(obj.get("status") or {})
        if choice.name is None:
            status["modelStatus"] = rules.runtime_failure_status(
                status.get("modelStatus") or {}, choice.failure_reason or "",
                choice.failure_message or "", now_rfc3339())
            self._set_conditions(status, ready=False, reason=choice.failure_reason,
                                 message=choice.failure_message)
            self._write_status(obj, status, generation)
            return
        pods = self.core.list_namespaced_pod(namespace, label_selector=f"{ISVC_LABEL}={name}")
        pods_by_revision: dict[str, list[dict[str, Any]]] = {}
        for pod in sorted(pods.items, key=lambda p: p.metadata.creation_timestamp):
            if pod.metadata.deletion_timestamp:
                continue
            as_dict = self.api_client.sanitize_for_serialization(pod)
            label = (pod.metadata.labels or {}).get(REVISION_LABEL, "")
            pods_by_revision.setdefault(label, []).append(as_dict)
        latest = pods_by_revision.get(revision, [])
        if not latest and revision_key not in self.scaled_to_zero:
            created = self._create_pod(obj, revision, choice)
            latest = [created] if created else []
        if any(_ready(pod) for pod in latest):
            self.ready_revisions.add(revision_key)
        if revision_key in self.ready_revisions:
            for old, old_pods in pods_by_revision.items():
                if old != revision:
                    for pod in old_pods:
                        self._delete_pod(pod)
            min_replicas = obj["spec"]["predictor"].get("minReplicas")
            if min_replicas == 0 and latest and revision_key not in self.scaled_to_zero:
                self._scale_to_zero_later(namespace, name, revision_key, latest)
        status["modelStatus"] = rules.propagate_model_status(
            status.get("modelStatus") or {}, latest, revision,
            revision_key in self.ready_revisions, now_rfc3339())
        endpoints = {label: (pod["metadata"].get("annotations") or {}).get(ENDPOINT_ANNOTATION)
                     for label, revision_pods in pods_by_revision.items()
                     for pod in revision_pods if _ready(pod)}
        self._set_serving_status(obj, status, revision, revision_key in self.ready_revisions,
                                 latest, endpoints)
        self._write_status(obj, status, generation)

    def _set_serving_status(self, obj: dict[str, Any], status: dict[str, Any], revision: str,
                            revision_ready: bool, latest: list[dict[str, Any]],
                            endpoints: dict[str, str | None]) -> None:
        meta = obj["metadata"]
        previous = status.get("components", {}).get("predictor", {})
        ready_before = previous.get("latestReadyRevision")
        ready_now = revision if revision_ready else ready_before
        failed = any(_failed(pod) for pod in latest)
        if revision_ready:
            self._set_conditions(status, ready=True)
        elif failed:
            self._set_conditions(status, ready=False, reason="RevisionFailed", message=(
                f"Revision \"{revision}\" failed with message: Container failed with: "
                f"{_failure_message(latest)}."))
        else:
            self._set_conditions(status, ready=None, reason="RevisionMissing",
                                 message=f"Configuration \"{meta['name']}-predictor\" is "
                                         "waiting for a Revision to become ready.")
        predictor: dict[str, Any] = {"latestCreatedRevision": revision}
        if ready_now:
            predictor["latestReadyRevision"] = ready_now
            predictor["traffic"] = [{"revisionName": ready_now, "percent": 100,
                                     "latestRevision": ready_now == revision}]
            # The embedded ingress is loopback: the serving pod's own port, when it serves.
            endpoint = endpoints.get(ready_now) or (status.get("url") if status.get(
                "url", "").startswith("http://127.0.0.1:") else None)
            predictor["url"] = endpoint or \
                f"http://{meta['name']}-predictor.{meta['namespace']}.example.com"
            status["url"] = endpoint or f"http://{meta['name']}.{meta['namespace']}.example.com"
            status["address"] = {"url": endpoint or f"http://{meta['name']}."
                                                    f"{meta['namespace']}.svc.cluster.local"}
        status["components"] = {"predictor": predictor}

    @staticmethod
    def _set_conditions(status: dict[str, Any], ready: bool | None, reason: str | None = None,
                        message: str | None = None) -> None:
        value = {True: "True", False: "False", None: "Unknown"}[ready]
        existing = {c["type"]: c for c in status.get("conditions") or []}
        stamp = now_rfc3339()
        conditions = []
        for kind in ("IngressReady", "PredictorConfigurationReady", "PredictorReady",
                     "PredictorRouteReady", "Ready"):
            this = value
            if kind in ("IngressReady", "PredictorRouteReady") and \
                    existing.get(kind, {}).get("status") == "True":
                this = "True"  # the route keeps serving the previous revision
            condition = {"type": kind, "status": this}
            if this != "True" and reason:
                condition["reason"] = reason
                condition["message"] = message or ""
            before = existing.get(kind)
            condition["lastTransitionTime"] = before["lastTransitionTime"] if before and \
                before.get("status") == this and before.get("lastTransitionTime") else stamp
            conditions.append(condition)
        status["conditions"] = conditions

    def _write_status(self, obj: dict[str, Any], status: dict[str, Any], generation: int) -> None:
        status["observedGeneration"] = generation
        status.setdefault("deploymentMode", "Serverless")
        if _comparable(status) == _comparable(obj.get("status") or {}):
            return
        meta = obj["metadata"]
        # A full replace carries resourceVersion: a concurrent change makes it 409 and requeue.
        self.custom.replace_namespaced_custom_object_status(
            isvc.GROUP, isvc.VERSION, meta["namespace"], isvc.PLURAL, meta["name"],
            {**obj, "status": status})

    # -- pods -------------------------------------------------------------------------------------
    def _create_pod(self, obj: dict[str, Any], revision: str,
                    choice: RuntimeChoice) -> dict[str, Any] | None:
        meta, predictor = obj["metadata"], obj["spec"]["predictor"]
        model = predictor.get("model") or {}
        container_spec = dict((choice.spec or {}).get("containers", [{}])[0])
        container_spec.update({"name": rules.SERVER})
        container_spec["args"] = [arg.replace("{{.Name}}", meta["name"])
                                  for arg in container_spec.get("args", [])]
        if model.get("resources"):
            container_spec["resources"] = model["resources"]
        service_account = predictor.get("serviceAccountName") or "default"
        pod: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": f"{revision}-deployment-{secrets.token_hex(3)}",
                "namespace": meta["namespace"],
                "labels": {ISVC_LABEL: meta["name"], REVISION_LABEL: revision,
                           "component": "predictor",
                           "serving.kserve.io/servingruntime": choice.name or ""},
                "ownerReferences": [{"apiVersion": isvc.API_VERSION,
                                     "kind": "InferenceService", "name": meta["name"],
                                     "uid": meta["uid"], "controller": True,
                                     "blockOwnerDeletion": True}],
            },
            "spec": {"serviceAccountName": service_account,
                     "containers": [container_spec], "restartPolicy": "Always"},
        }
        storage_uri = model.get("storageUri")
        if storage_uri:
            self._inject_initializer(pod, obj, storage_uri, service_account)
        try:
            created = self.core.create_namespaced_pod(meta["namespace"], pod)
        except ApiException as error:
            detail = _api_message(error)
            self.events.record(obj, "InferenceService", "FailedCreate",
                               f"Error creating: {detail}", "Warning")
            return None
        return self.api_client.sanitize_for_serialization(created)

    def _inject_initializer(self, pod: dict[str, Any], obj: dict[str, Any], storage_uri: str,
                            service_account: str) -> None:
        """What KServe's pod mutating webhook adds for a storageUri."""
        config = self._config()
        init_config = config["storageInitializer"]
        credentials = config["credentials"]
        initializer = {
            "name": rules.INITIALIZER, "image": init_config["image"],
            "args": [storage_uri, "/mnt/models"],
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "resources": {"requests": {"cpu": init_config["cpuRequest"],
                                       "memory": init_config["memoryRequest"]},
                          "limits": {"cpu": init_config["cpuLimit"],
                                     "memory": init_config["memoryLimit"]}},
            "volumeMounts": [{"name": "kserve-provision-location",
                              "mountPath": "/mnt/models"}],
        }
        volumes: list[dict[str, Any]] = [{"name": "kserve-provision-location", "emptyDir": {}}]
        choice = self._credentials(obj, credentials, service_account)
        if choice.secret and not choice.shadowed_by_s3:
            volumes.append({"name": rules.GCS_VOLUME, "secret": {"secretName": choice.secret}})
            initializer["volumeMounts"].append({"name": rules.GCS_VOLUME,
                                                "mountPath": rules.GCS_MOUNT, "readOnly": True})
            initializer["env"] = [{"name": "GOOGLE_APPLICATION_CREDENTIALS",
                                   "value": rules.GCS_MOUNT + choice.file_name}]
        pod["spec"]["initContainers"] = [initializer]
        pod["spec"]["volumes"] = volumes
        pod["spec"]["containers"][0].setdefault("volumeMounts", []).append(
            {"name": "kserve-provision-location", "mountPath": "/mnt/models",
             "readOnly": True})

    def _credentials(self, obj: dict[str, Any], credentials: dict[str, Any],
                     service_account: str) -> rules.CredentialChoice:
        namespace = obj["metadata"]["namespace"]
        annotation_key = credentials.get("storageSecretNameAnnotation",
                                         rules.SECRET_ANNOTATION_DEFAULT)
        file_name = credentials.get("gcs", {}).get("gcsCredentialFileName", rules.GCS_KEY_FILE)
        try:
            sa = self.core.read_namespaced_service_account(service_account, namespace)
            sa_secrets = [ref.name for ref in sa.secrets or []]
        except ApiException:
            sa_secrets = []
        annotations = obj["metadata"].get("annotations") or {}
        names = [annotations[annotation_key]] if annotation_key in annotations else sa_secrets
        data: dict[str, dict[str, str]] = {}
        for secret_name in names:
            try:
                data[secret_name] = self.core.read_namespaced_secret(secret_name,
                                                                     namespace).data or {}
            except ApiException:
                continue
        choice = rules.select_credentials(annotations, annotation_key, sa_secrets, data,
                                          file_name)
        if annotation_key in annotations and choice.secret is None:
            # KServe mounts the named secret even when it cannot read it; the pod then waits.
            return rules.CredentialChoice("annotation-secret", annotations[annotation_key],
                                          file_name)
        return choice

    def _delete_pod(self, pod: dict[str, Any]) -> None:
        with contextlib.suppress(ApiException):
            self.core.delete_namespaced_pod(pod["metadata"]["name"],
                                            pod["metadata"]["namespace"])

    def _scale_to_zero_later(self, namespace: str, name: str, revision_key: str,
                             pods: list[dict[str, Any]]) -> None:
        self.scaled_to_zero.add(revision_key)

        def scale_down() -> None:
            if self._stop.wait(self.timing.scale_to_zero_after):
                return
            for pod in pods:
                self._delete_pod(pod)
            self.queue.put((namespace, name))

        threading.Thread(target=scale_down, name=f"scale-to-zero-{name}", daemon=True).start()


def _ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _failed(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    for container in (status.get("initContainerStatuses") or []) + (
            status.get("containerStatuses") or []):
        state = container.get("state") or {}
        if (state.get("terminated") or {}).get("reason") == "Error":
            return True
        if (state.get("waiting") or {}).get("reason") in ("CrashLoopBackOff",
                                                          "ImagePullBackOff", "ErrImagePull"):
            return True
    return False


def _failure_message(pods: list[dict[str, Any]]) -> str:
    for pod in pods:
        status = pod.get("status") or {}
        for container in (status.get("initContainerStatuses") or []) + (
                status.get("containerStatuses") or []):
            state, last = container.get("state") or {}, container.get("lastState") or {}
            terminated = state.get("terminated") or last.get("terminated") or {}
            if terminated.get("reason") == "Error":
                return (terminated.get("message") or "").strip().splitlines()[-1:][0] \
                    if terminated.get("message") else "Error"
            waiting = state.get("waiting") or {}
            if waiting.get("message"):
                return waiting["message"]
    return "unknown"


def _comparable(status: dict[str, Any]) -> str:
    trimmed = json.loads(json.dumps(status))
    for condition in trimmed.get("conditions") or []:
        condition.pop("lastTransitionTime", None)
    (trimmed.get("modelStatus") or {}).get("lastFailureInfo", {}).pop("time", None)
    return json.dumps(trimmed, sort_keys=True)


def _api_message(error: ApiException) -> str:
    try:
        return json.loads(error.body).get("message", error.reason)
    except (TypeError, ValueError):
        return str(error.reason)
