"""The catalogue of finding codes: every code the diagnosis, the wait and preflight give (pure).

One place: the diagnosis and preflight name codes from `Code`, and the README's table is
`markdown_table()` (a test keeps them equal). `python -m pytest_kfs.diagnosis.codes` prints
it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Code(StrEnum):
    """A finding's stable name (its value is the name, so JSON and text show the same)."""

    GCS_LIST_DENIED = "GCS_LIST_DENIED"
    GCS_GET_DENIED = "GCS_GET_DENIED"
    GCS_PERMISSION_DENIED = "GCS_PERMISSION_DENIED"
    GCS_REQUESTER_PAYS = "GCS_REQUESTER_PAYS"
    GCS_ANONYMOUS_FALLBACK = "GCS_ANONYMOUS_FALLBACK"
    GCS_KEY_INVALID = "GCS_KEY_INVALID"
    GCS_BUCKET_MISSING = "GCS_BUCKET_MISSING"
    GCS_PATH_EMPTY = "GCS_PATH_EMPTY"
    WORKLOAD_IDENTITY_BINDING_MISSING = "WORKLOAD_IDENTITY_BINDING_MISSING"
    WORKLOAD_IDENTITY_NOT_LINKED = "WORKLOAD_IDENTITY_NOT_LINKED"
    WORKLOAD_IDENTITY_API_DISABLED = "WORKLOAD_IDENTITY_API_DISABLED"
    S3_CREDENTIALS_INVALID = "S3_CREDENTIALS_INVALID"
    S3_ACCESS_DENIED = "S3_ACCESS_DENIED"
    S3_BUCKET_MISSING = "S3_BUCKET_MISSING"
    AZURE_AUTH_FAILED = "AZURE_AUTH_FAILED"
    HF_ACCESS_DENIED = "HF_ACCESS_DENIED"
    STORAGE_UNREACHABLE = "STORAGE_UNREACHABLE"
    STORAGE_URI_INVALID = "STORAGE_URI_INVALID"
    MODEL_NOT_FOUND = "MODEL_NOT_FOUND"
    MODEL_PATH_MISSING = "MODEL_PATH_MISSING"
    PVC_MISSING = "PVC_MISSING"
    STORAGE_DOWNLOAD_FAILED = "STORAGE_DOWNLOAD_FAILED"
    SERVICE_ACCOUNT_MISSING = "SERVICE_ACCOUNT_MISSING"
    SECRET_MISSING = "SECRET_MISSING"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    POD_UNSCHEDULABLE = "POD_UNSCHEDULABLE"
    IMAGE_PULL_FAILED = "IMAGE_PULL_FAILED"
    IMAGE_DEPENDENCY_MISSING = "IMAGE_DEPENDENCY_MISSING"
    OOM_KILLED = "OOM_KILLED"
    POD_EVICTED = "POD_EVICTED"
    GPU_DRIVER_MISMATCH = "GPU_DRIVER_MISMATCH"
    RUNTIME_MISSING = "RUNTIME_MISSING"
    RUNTIME_UNSUPPORTED = "RUNTIME_UNSUPPORTED"
    MODEL_LOAD_FAILED = "MODEL_LOAD_FAILED"
    CONTAINER_EXITED = "CONTAINER_EXITED"
    CONTAINER_START_FAILED = "CONTAINER_START_FAILED"
    WEBHOOK_UNAVAILABLE = "WEBHOOK_UNAVAILABLE"
    KSERVE_RECONCILE_FAILED = "KSERVE_RECONCILE_FAILED"
    ADMISSION_DENIED = "ADMISSION_DENIED"
    INVALID_SPEC = "INVALID_SPEC"
    RBAC_DENIED = "RBAC_DENIED"
    CRD_VERSION_MISSING = "CRD_VERSION_MISSING"
    INGRESS_NOT_CONFIGURED = "INGRESS_NOT_CONFIGURED"
    MESH_AUTH_DENIED = "MESH_AUTH_DENIED"
    HEALTHY_REQUEST_MISROUTED = "HEALTHY_REQUEST_MISROUTED"
    ROLLOUT_STUCK = "ROLLOUT_STUCK"
    SCALED_TO_ZERO = "SCALED_TO_ZERO"
    STALE_TRANSITION = "STALE_TRANSITION"
    NOT_LOADED_YET = "NOT_LOADED_YET"
    UNEXPLAINED = "UNEXPLAINED"
    NEEDS_EVIDENCE = "NEEDS_EVIDENCE"
    CLUSTER_API_UNAVAILABLE = "CLUSTER_API_UNAVAILABLE"
    # What the conformance suites find beyond a model's diagnosis.
    GCS_ROLE_TOO_BROAD = "GCS_ROLE_TOO_BROAD"
    KSERVE_API_MISSING = "KSERVE_API_MISSING"
    KSERVE_STATUS_UNEXPECTED = "KSERVE_STATUS_UNEXPECTED"
    PREDICTION_WRONG = "PREDICTION_WRONG"


@dataclass(frozen=True)
class About:
    """What a code means and how it is usually fixed (the finding's own fix is exact)."""

    meaning: str
    fix: str
    failure: bool = True


CATALOGUE: dict[Code, About] = {
    Code.GCS_LIST_DENIED: About(
        "the serving principal lacks `storage.objects.list` on the bucket (KServe lists first)",
        "`gcloud storage buckets add-iam-policy-binding gs://B --member=... "
        "--role=roles/storage.objectViewer`",
    ),
    Code.GCS_GET_DENIED: About(
        "it can list but not read (`legacyBucketReader`, a prefix condition)", "the same grant"
    ),
    Code.GCS_PERMISSION_DENIED: About(
        "it is denied another Cloud Storage permission", "grant the role the line names"
    ),
    Code.GCS_REQUESTER_PAYS: About(
        "the bucket is Requester Pays and no billing project is sent (preflight)",
        "a user project, or turn Requester Pays off",
    ),
    Code.GCS_ANONYMOUS_FALLBACK: About(
        "no credentials found: the client went anonymous",
        "key secret `gcloud-application-credentials.json` on the service account, or Workload "
        "Identity",
    ),
    Code.GCS_KEY_INVALID: About(
        "key disabled/deleted (`invalid_grant`) or its account gone", "new key, replace the secret"
    ),
    Code.GCS_BUCKET_MISSING: About("the bucket does not exist", "fix `storageUri`"),
    Code.GCS_PATH_EMPTY: About("nothing under the prefix", "`gcloud storage ls`, fix the path"),
    Code.WORKLOAD_IDENTITY_BINDING_MISSING: About(
        "the Kubernetes service account is annotated with a Google one that does not let it "
        "act as it (`roles/iam.workloadIdentityUser`)",
        "`gcloud iam service-accounts add-iam-policy-binding ...`",
    ),
    Code.WORKLOAD_IDENTITY_NOT_LINKED: About(
        "the denied caller is a Workload Identity pool principal (`PROJECT.svc.id.goog`): the "
        "Kubernetes service account has no Google account and no grant of its own",
        "annotate the service account with a Google one, or grant the pool principal",
    ),
    Code.WORKLOAD_IDENTITY_API_DISABLED: About(
        "the GKE metadata server cannot mint tokens: the IAM Service Account Credentials API "
        "is off",
        "`gcloud services enable iamcredentials.googleapis.com`",
    ),
    Code.S3_CREDENTIALS_INVALID: About(
        "S3/MinIO rejects or never got the access key (`InvalidAccessKeyId`, "
        "`SignatureDoesNotMatch`, no credentials)",
        "the secret's `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` on the service account",
    ),
    Code.S3_ACCESS_DENIED: About(
        "S3 answers `AccessDenied` to valid credentials",
        "a bucket or IAM policy allowing `s3:GetObject` and `s3:ListBucket`",
    ),
    Code.S3_BUCKET_MISSING: About(
        "the S3 bucket does not exist (`NoSuchBucket`)", "fix `storageUri` or the S3 endpoint"
    ),
    Code.AZURE_AUTH_FAILED: About(
        "Azure Blob Storage refuses the credentials",
        "the secret's `AZURE_*` values, or the container's access",
    ),
    Code.HF_ACCESS_DENIED: About(
        "the Hugging Face Hub refuses the download: the repository is gated or private and no "
        "token reached the container that downloads it, or the token's account has no access",
        "`HF_TOKEN` from a secret in the downloading container (the storage initializer's too), "
        "and access granted on the repository's page",
    ),
    Code.STORAGE_UNREACHABLE: About(
        "the storage endpoint cannot be reached (DNS, refused, timeout, TLS)",
        "egress, proxy, endpoint and TLS annotations",
    ),
    Code.STORAGE_URI_INVALID: About(
        "`storageUri` has no scheme or one KServe does not know",
        "a `gs://`, `s3://`, `pvc://`, `https://`... URI",
    ),
    Code.MODEL_NOT_FOUND: About(
        "the storage path holds no model file the runtime can load",
        "list the path, fix `storageUri`",
    ),
    Code.MODEL_PATH_MISSING: About(
        "the model server has no `/mnt/models`: no storage initializer ran",
        "a `storageUri` with a scheme, in a namespace KServe's webhook serves",
    ),
    Code.PVC_MISSING: About(
        "the PersistentVolumeClaim named by `pvc://` is missing or unbound",
        "create the claim in the model's namespace",
    ),
    Code.STORAGE_DOWNLOAD_FAILED: About(
        "the storage initializer failed for another reason", "as its last exception says"
    ),
    Code.SERVICE_ACCOUNT_MISSING: About(
        "the service account named does not exist", "`kubectl create serviceaccount ...`"
    ),
    Code.SECRET_MISSING: About(
        "a credential secret does not exist (KServe's pod webhook refuses the pod)",
        "`kubectl create secret ...`",
    ),
    Code.QUOTA_EXCEEDED: About(
        "a ResourceQuota or LimitRange refuses the pods",
        "raise the quota or set the requests/limits it asks for",
    ),
    Code.POD_UNSCHEDULABLE: About("no node fits the pod", "as the scheduler says"),
    Code.IMAGE_PULL_FAILED: About("an image cannot be pulled", "image name, tag, pull secret"),
    Code.IMAGE_DEPENDENCY_MISSING: About(
        "the model server's image or environment lacks a library its code or the model "
        "imports (`No module named`, `ImportError`)",
        "an image (or runtime version) that has it: `kubectl get servingruntime NAME -o "
        "yaml`, then pin a fixed image",
    ),
    Code.OOM_KILLED: About("a container ran out of memory", "raise the memory limit"),
    Code.POD_EVICTED: About(
        "the kubelet evicted the pod (disk, an emptyDir over its limit, memory pressure)",
        "raise the limit it names, or free the node",
    ),
    Code.GPU_DRIVER_MISMATCH: About(
        "the container cannot use the node's NVIDIA driver (older than the image's CUDA, or "
        "NVML failing against it)",
        "a node or image with matching driver/CUDA",
    ),
    Code.RUNTIME_MISSING: About(
        "the runtime the spec names is not installed, or disabled",
        "install the runtime or fix the spec",
    ),
    Code.RUNTIME_UNSUPPORTED: About(
        "no runtime serves this format and protocol", "install the runtime or fix the spec"
    ),
    Code.MODEL_LOAD_FAILED: About(
        "the model server fails while loading the model (version mismatch, a corrupt or "
        "missing file, the model's own code not packaged with it)",
        "as quoted",
    ),
    Code.CONTAINER_EXITED: About(
        "the serving container exits instead of serving (its command ends, or it dies before "
        "writing a message): Knative's 'Container failed with:' and nothing after it",
        "a command that starts a server on the container port; `kubectl logs POD -c "
        "CONTAINER --previous`",
    ),
    Code.CONTAINER_START_FAILED: About(
        "the container runtime cannot start the image's command: not executable, not in the "
        "image, or built for another CPU (runc's `exec: ...`)",
        "rebuild the image: the file present, `chmod +x`, built for the node's platform; or "
        "set the container's command to one the image has",
    ),
    Code.WEBHOOK_UNAVAILABLE: About(
        "KServe's admission or conversion webhook cannot be called (certificate, endpoints)",
        "KServe's webhook Service, its pods and its certificate",
    ),
    Code.KSERVE_RECONCILE_FAILED: About(
        "the API server refuses the objects KServe builds from the spec",
        "fix the predictor spec as the event says",
    ),
    Code.ADMISSION_DENIED: About(
        "an admission webhook refuses the object, with its own message",
        "change the object as the message asks; `kubectl apply --dry-run=server -f FILE`",
    ),
    Code.INVALID_SPEC: About(
        "the spec misses or misuses a field (422 Invalid, or the controller's validation)",
        "fix the field named; `kubectl explain inferenceservice.spec.predictor`",
    ),
    Code.RBAC_DENIED: About(
        "the API server refuses the caller a verb on a resource (403 Forbidden)",
        "`kubectl auth can-i VERB RESOURCE -n NS --as=USER`, then `kubectl create "
        "role`/`rolebinding` (or the cluster-wide ones) that allow it",
    ),
    Code.CRD_VERSION_MISSING: About(
        "the cluster does not serve the kind in that API group/version (`no matches for kind`)",
        "`kubectl api-resources --api-group=GROUP`; write the served apiVersion or install "
        "the release that serves it",
    ),
    Code.INGRESS_NOT_CONFIGURED: About(
        "Knative never finished programming the route (`IngressNotConfigured`)",
        "the ingress gateway's pods and Service, the net-istio/kourier controller's log, "
        "config-network and config-domain",
    ),
    Code.MESH_AUTH_DENIED: About(
        "an Istio AuthorizationPolicy refuses the traffic to the model (Envoy's `RBAC: access "
        "denied`): Knative's activator, the prober or the caller is not allowed in",
        "`kubectl get authorizationpolicies -A`; an ALLOW policy for the caller and the paths "
        "(`/healthz`, `/metrics`, `/v1/models/*`)",
    ),
    Code.HEALTHY_REQUEST_MISROUTED: About(
        "the request, not the model, is wrong: it reached another host or route, or used the "
        "wrong verb or protocol path",
        "Host header = the URL in `kubectl get isvc NAME`; `POST /v1/models/NAME:predict` (v1) "
        "or `POST /v2/models/NAME/infer` (v2)",
    ),
    Code.ROLLOUT_STUCK: About(
        "a new revision is not ready while the previous one still serves",
        "the commands shown, to see why the new revision's pods fail",
    ),
    Code.SCALED_TO_ZERO: About(
        "healthy, scaled to zero (kserve/kserve#6079): not a failure", "nothing", failure=False
    ),
    Code.STALE_TRANSITION: About(
        "healthy: Ready with a running pod, only the transition status is stale "
        "(kserve/kserve#3686)",
        "nothing",
        failure=False,
    ),
    Code.NOT_LOADED_YET: About("still on its way, no problem seen yet", "wait, or look again"),
    Code.UNEXPLAINED: About(
        "failed, or an error line was seen, and no known cause matches it (it is quoted)",
        "`kubectl describe` the model and its pods; the commands shown",
    ),
    Code.NEEDS_EVIDENCE: About(
        "too little evidence to name a cause", "the `kubectl` commands shown"
    ),
    Code.CLUSTER_API_UNAVAILABLE: About(
        "the API server did not answer the reads a verdict needs: unknown, not a verdict",
        "check `/readyz` and the network, rerun",
    ),
    Code.GCS_ROLE_TOO_BROAD: About(
        "the serving principal holds a role broader than reading the model needs",
        "grant `roles/storage.objectViewer`, remove the broader binding",
    ),
    Code.KSERVE_API_MISSING: About(
        "the cluster does not serve KServe's InferenceService API (CRD absent or not established)",
        "install KServe, or point `--kfs-cluster` at a cluster with it",
    ),
    Code.KSERVE_STATUS_UNEXPECTED: About(
        "KServe's status left the states its documentation gives for this change",
        "compare with the timeline; report it to KServe with the release",
    ),
    Code.PREDICTION_WRONG: About(
        "the model answers, but not what its sample expects",
        "check the model file the storage URI holds, and the runtime's version",
    ),
}


def markdown_table() -> str:
    """The README's table of codes."""
    rows = ["| Code | Means | Usual fix |", "| --- | --- | --- |"]
    rows += [f"| `{code}` | {about.meaning} | {about.fix} |" for code, about in CATALOGUE.items()]
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
