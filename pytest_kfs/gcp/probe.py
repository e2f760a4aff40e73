"""The in-situ probe: a short Job that does what the storage-initializer does, as it would.

Same namespace, service account, key secret mount and image as KServe's webhook gives the
storage-initializer; it reports the identity ADC found, testIamPermissions, then lists the
prefix and reads one byte of one object. Ground truth for Workload Identity and node accounts,
which cannot be impersonated from outside the cluster.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from kubernetes import watch
from kubernetes.client.rest import ApiException

from pytest_kfs.gcp.identity import ServingIdentity
from pytest_kfs.kserve.api import GCS_KEY_FILE
from pytest_kfs.kube.cluster import Cluster

MARKER = "KFS-PROBE "
DEFAULT_IMAGE = "kserve/storage-initializer:v0.15.2"

PROBE_SCRIPT = r"""
import json, sys
uri = sys.argv[1]
out = {"uri": uri}
bucket_name, _, path = uri[len("gs://"):].partition("/")
path = path.rstrip("/")
try:
    import google.auth
    from google.auth import exceptions as auth_exceptions
    from google.api_core import exceptions as api_exceptions
    from google.auth.transport.requests import Request
    from google.cloud import storage
    try:
        credentials, project = google.auth.default()
        out["credential_type"] = type(credentials).__name__
        try:
            credentials.refresh(Request())
        except Exception as error:
            out["refresh_error"] = str(error)[:600]
        out["principal"] = getattr(credentials, "service_account_email", None)
        client = storage.Client(credentials=credentials, project=project or "-")
    except auth_exceptions.DefaultCredentialsError:
        out["credential_type"] = "anonymous"
        client = storage.Client.create_anonymous_client()
    bucket = client.bucket(bucket_name)
    def text(error):
        response = getattr(error, "response", None)
        try:
            return json.loads(response.text)["error"]["message"]
        except Exception:
            return str(error).split("\n")[0][:600]
    try:
        out["held"] = bucket.test_iam_permissions(["storage.objects.list", "storage.objects.get"])
    except Exception as error:
        out["held_error"] = text(error)
    try:
        blobs = list(bucket.list_blobs(prefix=path + "/" if path else "", max_results=1))
        out["listed"] = True
        if not blobs and path:
            blobs = [bucket.blob(path)]
        if blobs:
            out["object"] = blobs[0].name
            blobs[0].download_as_bytes(start=0, end=0)
            out["read"] = True
        else:
            out["read"], out["read_error"] = False, "the bucket is empty"
    except Exception as error:
        key = "read" if "listed" in out else "listed"
        out[key], out[key + "_error"] = False, text(error)
except Exception as error:
    out["error"] = repr(error)[:600]
print("KFS-PROBE " + json.dumps(out), flush=True)
"""


@dataclass(frozen=True)
class ProbeResult:
    """What the probe saw from inside the cluster."""

    completed: bool
    credential_type: str | None = None
    principal: str | None = None
    held: tuple[str, ...] | None = None
    listed: bool | None = None
    read: bool | None = None
    list_error: str = ""
    read_error: str = ""
    refresh_error: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        """The storage-initializer would succeed."""
        return bool(self.listed and self.read)

    @staticmethod
    def from_log(log: str) -> ProbeResult:
        """Parse the probe's one JSON line."""
        for line in reversed(log.splitlines()):
            if line.startswith(MARKER):
                data = json.loads(line[len(MARKER) :])
                return ProbeResult(
                    completed=True,
                    credential_type=data.get("credential_type"),
                    principal=data.get("principal"),
                    held=tuple(data["held"]) if "held" in data else None,
                    listed=data.get("listed"),
                    read=data.get("read"),
                    list_error=data.get("listed_error", ""),
                    read_error=data.get("read_error", ""),
                    refresh_error=data.get("refresh_error", ""),
                    detail=data.get("error", ""),
                )
        return ProbeResult(False, detail="the probe printed no result: " + log[-300:])


def job_manifest(
    name: str,
    storage_uri: str,
    service_account: str,
    identity: ServingIdentity,
    image: str = DEFAULT_IMAGE,
    gcs_file: str = GCS_KEY_FILE,
) -> dict[str, Any]:
    """The probe Job, mounted as KServe's webhook mounts the storage-initializer."""
    container: dict[str, Any] = {
        "name": "probe",
        "image": image,
        "command": ["python3", "-c", PROBE_SCRIPT],
        "args": [storage_uri],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
    }
    volumes = []
    if identity.source == "key-secret" and identity.secret:
        volumes.append({"name": "user-gcp-sa", "secret": {"secretName": identity.secret}})
        container["volumeMounts"] = [
            {"name": "user-gcp-sa", "mountPath": "/var/secrets/", "readOnly": True}
        ]
        container["env"] = [
            {"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": f"/var/secrets/{gcs_file}"}
        ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "pytest-kfs", "pytest-kfs/role": "probe"},
        },
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 300,
            "template": {
                "metadata": {"labels": {"pytest-kfs/role": "probe"}},
                "spec": {
                    "serviceAccountName": service_account,
                    "restartPolicy": "Never",
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


# A watch the API server cannot serve yet (its watch cache is behind the resourceVersion it
# was asked for: 504 "Too large resource version") or no longer (410): watch again.
_WATCH_AGAIN = (410, 504)


def _probe_pod(cluster: Cluster, namespace: str, job: str, deadline: float) -> str | None:
    """The name of the Job's pod once it has finished (or the last one seen at the deadline)."""
    pod_name = None
    while time.monotonic() < deadline:
        stream = watch.Watch()
        try:
            for event in stream.stream(
                cluster.core.list_namespaced_pod,
                namespace,
                label_selector=f"job-name={job}",
                timeout_seconds=max(1, int(deadline - time.monotonic())),
            ):
                pod = event["object"]
                pod_name = pod.metadata.name
                if pod.status.phase in ("Succeeded", "Failed"):
                    stream.stop()
                    return str(pod_name)
                if time.monotonic() > deadline:
                    stream.stop()
                    break
        except ApiException as error:
            if error.status not in _WATCH_AGAIN:
                raise
            time.sleep(0.2)
    return pod_name


def run_probe(
    cluster: Cluster,
    namespace: str,
    storage_uri: str,
    service_account: str,
    identity: ServingIdentity,
    image: str | None = None,
    timeout: float = 120.0,
) -> ProbeResult:
    """Run the probe Job to completion, read its result, delete it. The image is the cluster's
    own storage-initializer (KServe's inferenceservice-config) unless one is given."""
    from kubernetes import client

    from pytest_kfs.kube.kserve_config import read_kserve_config

    if image is None:
        image = (read_kserve_config(cluster).get("storageInitializer") or {}).get(
            "image"
        ) or DEFAULT_IMAGE

    batch = client.BatchV1Api(cluster.api_client)
    name = f"kfs-probe-{secrets.token_hex(3)}"
    batch.create_namespaced_job(
        namespace, job_manifest(name, storage_uri, service_account, identity, image)
    )
    try:
        pod_name = _probe_pod(cluster, namespace, name, time.monotonic() + timeout)
        if pod_name is None:
            return ProbeResult(False, detail=f"no probe pod within {timeout:g}s")
        log = cluster.core.read_namespaced_pod_log(pod_name, namespace)
        return ProbeResult.from_log(log or "")
    except ApiException as error:
        return ProbeResult(False, detail=f"probe failed: HTTP {error.status} {error.reason}")
    finally:
        with contextlib.suppress(ApiException):
            batch.delete_namespaced_job(name, namespace, propagation_policy="Background")
