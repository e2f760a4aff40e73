"""Known error texts, each naming one cause (pure data and matching).

A signature is a literal the text must contain (cheap to find, so a hostile line costs one
`str.find` per signature) and an optional bounded pattern checked only near it. Where a rule
needs more than a phrase (who was denied, which bucket), it lives in `diagnose.py`; phrases that
name a cause on their own live here. The texts come from real reports (tests/corpus/).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pytest_kfs.diagnosis.codes import Code
from pytest_kfs.shell import Command

# Where a line came from: a container's log, an event, a condition, the termination message
# KServe copies into lastFailureInfo, or what kubectl printed.
INITIALIZER = ("storage-initializer log", "lastFailureInfo", "storage-initializer")
# KServe's model server, and ModelMesh's runtimes and their adapters (which report the
# runtime's load errors).
MODEL_SERVER = (
    "kserve-container",
    "user-container",  # KFServing's name for it, before KServe 0.7
    "kfserving-container",
    "lastFailureInfo",
    "triton",
    "mlserver",
    "ovms",
    "torchserve",
)
ANY: tuple[str, ...] = ()
# The model server's own container (not the initializer, whose message lastFailureInfo may hold).
SERVER_CONTAINER = tuple(source for source in MODEL_SERVER if source != "lastFailureInfo")


@dataclass(frozen=True)
class Signature:
    """A phrase that names a cause: `cause` may use {namespace}, {uri}, {name}; `fix`, a
    command, {namespace} and {name} (quoted for a shell)."""

    code: Code
    literals: tuple[str, ...]
    cause: str
    fix: Command
    sources: tuple[str, ...] = ANY  # source prefixes it counts in; empty: anywhere
    near: re.Pattern[str] | None = None  # must also match within 300 chars of the literal

    def find(self, source: str, line: str) -> int | None:
        """Where in the line, from that source, this signature's phrase is (None: absent)."""
        if self.sources and not source.startswith(self.sources):
            return None
        for literal in self.literals:
            at = line.find(literal)
            if at == -1:
                continue
            if self.near is None or self.near.search(line[max(0, at - 300) : at + 300]):
                return at
        return None


_WEBHOOK_FIX = Command(
    "kubectl -n kserve get pods,endpoints && kubectl get "
    "mutatingwebhookconfigurations,validatingwebhookconfigurations | grep -i kserve "
    "# KServe's controller must run and its webhook certificate must name the "
    "Service (cert-manager Certificate kserve-serving-cert)"
)

SIGNATURES: tuple[Signature, ...] = (
    Signature(
        Code.WEBHOOK_UNAVAILABLE,
        ("failed calling webhook", "failed to call webhook"),
        "the API server cannot call KServe's admission webhook, so it refuses the "
        "InferenceService before KServe sees it",
        _WEBHOOK_FIX,
    ),
    Signature(
        Code.WEBHOOK_UNAVAILABLE,
        ("conversion webhook for",),
        "the API server cannot call the CustomResourceDefinition's conversion webhook, so "
        "every read or write of the kind in another version fails (the webhook's Service "
        "does not answer, or its certificate does not match the CRD's caBundle)",
        Command(
            "kubectl get crd -o custom-columns=NAME:.metadata.name,"
            "WEBHOOK:.spec.conversion.webhook.clientConfig.service.name | grep -i serving "
            "# the webhook's pods must run, and the CRD's caBundle must be the CA that signed "
            "the webhook's serving certificate (cert-manager's cainjector keeps it in step)"
        ),
        near=re.compile(r"failed"),
    ),
    Signature(
        Code.WEBHOOK_UNAVAILABLE,
        ("x509: ", "tls: "),
        "a webhook's serving certificate does not verify for its in-cluster Service (no names "
        "in it, the wrong names, or an unknown CA): the API server cannot call the webhook, "
        "so it refuses what the webhook admits",
        Command(
            "kubectl get mutatingwebhookconfigurations,validatingwebhookconfigurations # the "
            "webhook's certificate must carry the Service's DNS name as a subject alternative "
            "name (a certificate with only a common name is valid for no names since Go 1.15), "
            "signed by the caBundle the configuration holds (cert-manager's cainjector keeps it "
            "in step)"
        ),
        # The certificate is checked against a webhook's Service: NAME.NAMESPACE.svc.
        near=re.compile(r"[\w-]{0,60}webhook[\w-]{0,60}\.[\w-]{1,63}\.svc\b"),
    ),
    Signature(
        Code.QUOTA_EXCEEDED,
        (
            "exceeded quota",
            "failed quota",
            "must specify limits",
            "must specify requests",
            "must specify memory",
            "must specify cpu",
        ),
        "a ResourceQuota in {namespace} refuses the predictor pods",
        Command(
            "kubectl -n {namespace} describe resourcequota,limitrange # set "
            "spec.predictor.model.resources requests and limits, or raise the quota"
        ),
    ),
    Signature(
        Code.PVC_MISSING,
        ("persistentvolumeclaim", "PersistentVolumeClaim"),
        "the PersistentVolumeClaim named by {uri} is missing or not bound",
        Command("kubectl -n {namespace} get pvc # create the claim, or fix the pvc:// name"),
        near=re.compile(r"not found|unbound|not bound"),
    ),
    Signature(
        Code.GPU_DRIVER_MISMATCH,
        (
            "CUDA driver version is insufficient",
            "unsatisfied condition: cuda",
            "NVIDIA driver on your system is too old",
            "no CUDA-capable device",
        ),
        "the node's NVIDIA driver is older than the CUDA the image needs",
        Command(
            "schedule onto nodes with a newer driver (nodeSelector), or use an image built "
            "for an older CUDA"
        ),
    ),
    Signature(
        Code.POD_UNSCHEDULABLE,
        ("nodes are available", "Insufficient nvidia.com/gpu"),
        "no node can take the predictor pod",
        Command(
            "kubectl -n {namespace} describe pod -l "
            "serving.kserve.io/inferenceservice={name} # free or add nodes, or lower "
            "requests; check nodeSelector, affinity and tolerations"
        ),
    ),
    Signature(
        Code.IMAGE_PULL_FAILED,
        (
            "Failed to pull image",
            "ErrImagePull",
            "ImagePullBackOff",
            "Unable to fetch image",
            "failed to resolve image to digest",
            "failed to pull and unpack image",  # containerd's words
            "pull access denied",
        ),
        "an image of the predictor cannot be pulled (or, in Knative mode, resolved to a digest)",
        Command(
            "check the image and registry access from the nodes; in Knative mode, skip tag "
            "resolution for the registry (config-deployment registries-skipping-tag-"
            "resolving) or give the image by digest"
        ),
    ),
    Signature(
        Code.IMAGE_PULL_FAILED,
        (
            # A registry's refusal, as go-containerregistry (Knative's digest resolution),
            # Docker and containerd word it.
            "unsupported status code 401",
            "unsupported status code 403",
            "unauthorized: authentication required",
            "UNAUTHORIZED: authentication required",
            "no basic auth credentials",
        ),
        "the image registry refuses the credentials it is sent (or gets none): a private "
        "registry needs a pull secret, which Knative's digest resolution reads from the "
        "service account too",
        Command(
            "kubectl -n {namespace} create secret docker-registry regcred --docker-server="
            "<registry> --docker-username=<user> --docker-password=<password> && kubectl -n "
            "{namespace} patch serviceaccount default -p "
            '\'{{"imagePullSecrets":[{{"name":"regcred"}}]}}\' # the predictor\'s '
            "service account, if not default"
        ),
    ),
    Signature(
        Code.IMAGE_PULL_FAILED,
        ("x509: ", "tls: "),
        "the image registry's TLS certificate is not trusted by the client that pulls or "
        "resolves the image (a private registry's own CA, or a self-signed certificate)",
        Command(
            "add the registry's CA to the nodes' container runtime (containerd: "
            "/etc/containerd/certs.d/<registry>/ca.crt) and, in Knative mode, to the "
            "controller's trust (or skip tag resolution for the registry: config-deployment "
            "registries-skipping-tag-resolving); openssl s_client -connect <registry>:443 "
            "-showcerts shows the chain"
        ),
        # The registry API (OCI distribution): https://HOST/v2/, its manifests and blobs.
        near=re.compile(
            r"https?://[\w.-]{1,253}(?::\d{1,5})?/v2/(?:(?:[\w.-]{1,100}/){1,6}"
            r"(?:manifests|blobs)/[\w:.-]{1,100})?\"?: (?:x509|tls):"
        ),
    ),
    Signature(
        Code.POD_EVICTED,
        (
            "Usage of EmptyDir volume",
            "ephemeral local storage usage exceeds",
            "The node was low on resource",
        ),
        "the kubelet evicted the predictor pod: it used more disk (an emptyDir, ephemeral "
        "storage) or memory than the node or its limit allows",
        Command(
            "raise the limit the message names (e.g. the model emptyDir's sizeLimit, "
            "resources.limits.ephemeral-storage), or give the model a volume of its own"
        ),
    ),
    Signature(
        Code.OOM_KILLED,
        ("OOMKilled",),
        "a container of the predictor ran out of memory",
        Command(
            "raise spec.predictor.model.resources.limits.memory (or the initializer's "
            "memoryLimit in inferenceservice-config)"
        ),
    ),
    Signature(
        Code.S3_CREDENTIALS_INVALID,
        (
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "NoCredentialsError",
            "Unable to locate credentials",
            "AssumeRoleWithWebIdentity",
            "InvalidClientTokenId",
            "NoCredentialProviders",
            # botocore found no key, so it asks the EC2 metadata server for a role's credentials
            "/latest/meta-data/iam/security-credentia",
            # kserve-storage's own words (v0.20.0 storage_errors.py)
            "Invalid AWS credentials",
            "S3 authentication failed",
        ),
        "S3 rejects the credentials the storage initializer sends, or it finds none",
        Command(
            "kubectl -n {namespace} get serviceaccount -o yaml # the service account's "
            "secret needs AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or a working IRSA role) "
            "for the storageUri"
        ),
    ),
    Signature(
        Code.S3_BUCKET_MISSING,
        ("NoSuchBucket", "S3 bucket '", "S3 resource '"),
        "the S3 bucket of {uri} does not exist at that endpoint",
        Command(
            "aws s3 ls --endpoint-url <endpoint> # fix storageUri or the "
            "serving.kserve.io/s3-endpoint annotation"
        ),
        near=re.compile(r"NoSuchBucket|does not exist|not found"),
    ),
    # HeadBucket, kserve-storage's first S3 request, is a HEAD: its 403 carries no reason (on
    # AWS too), so an unknown key and a key without s3:ListBucket read the same.
    Signature(
        Code.S3_ACCESS_DENIED,
        ("(403) when calling the HeadBucket operation", "S3 error [403]"),
        "S3 answers 403 Forbidden to the storage initializer's first request (HeadBucket "
        "for {uri}): the access key is unknown to that endpoint, or it lacks "
        "s3:ListBucket on the bucket (a HEAD answer says no more)",
        Command(
            "aws s3api list-objects-v2 --bucket <bucket> --max-keys 1 --endpoint-url "
            "<endpoint> # with the secret's key: InvalidAccessKeyId means a wrong key, "
            "AccessDenied a missing grant of s3:ListBucket and s3:GetObject"
        ),
    ),
    Signature(
        Code.S3_ACCESS_DENIED,
        (
            "minio.error.AccessDenied",
            "(AccessDenied)",
            "<Code>AccessDenied</Code>",
            "Access denied to S3 resource",
        ),
        "S3 denies the storage initializer's credentials access to {uri}",
        Command(
            "grant s3:ListBucket and s3:GetObject on the bucket to the key in the service "
            "account's secret (or its IAM role; a secret with empty AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY keeps the client from using the node's or IRSA's role: "
            "leave the keys out)"
        ),
        sources=INITIALIZER,
    ),
    Signature(
        Code.HF_ACCESS_DENIED,
        (
            # The Hub's words for a gated or private repository (huggingface_hub's
            # GatedRepoError, and its message for a download without a token).
            "You must have access to it and be authenticated",
            "GatedRepoError",
            "Cannot access gated repo",
        ),
        "the Hugging Face Hub refuses the model's repository: it is gated or private, and the "
        "container that downloads it sends no token (HF_TOKEN) or one without access",
        Command(
            "kubectl -n {namespace} create secret generic hf-secret "
            "--from-literal=HF_TOKEN=<token> # then give HF_TOKEN from it to the container "
            "that downloads (the storage "
            "initializer's env, e.g. its ClusterStorageContainer, not only kserve-container), "
            "and request access on the model's Hub page"
        ),
        near=re.compile(r"restricted|gated|authenticated|Please log in"),
    ),
    Signature(
        Code.AZURE_AUTH_FAILED,
        (
            "AuthenticationFailed",
            "Server failed to authenticate the request",
            "Azure authentication failed",
            "ClientAuthenticationError",
            "AuthorizationPermissionMismatch",
        ),
        "Azure Blob Storage refuses the storage initializer's credentials",
        Command(
            "check AZ_CLIENT_ID / AZ_CLIENT_SECRET / AZ_TENANT_ID (or the SAS) in the service "
            "account's secret, and the container's role assignment"
        ),
    ),
    Signature(
        Code.MODEL_PATH_MISSING,
        # KFServing's storage code in the model server: the model directory it was handed is
        # no URI and no existing path, i.e. /mnt/models was never filled.
        ("are the current available storage type", "Cannot recognize storage type"),
        "the model server cannot find the model directory it was given: no storage "
        "initializer ran for this pod (a namespace KServe's pod webhook skips, such as one "
        "labelled control-plane), so /mnt/models was never filled",
        Command(
            "kubectl -n {namespace} get pod -l serving.kserve.io/inferenceservice={name} -o "
            "jsonpath='{{.items[0].spec.initContainers[*].name}}' # expect "
            "storage-initializer; deploy into a namespace of your own"
        ),
        sources=SERVER_CONTAINER,
    ),
    Signature(
        Code.STORAGE_URI_INVALID,
        (
            "Cannot recognize storage type",
            "are the current available storage type",
            "Local path file://",
        ),
        "KServe cannot use storageUri {uri}: no scheme, a scheme it does not support, or "
        "file:// (a path inside the initializer's container, where nothing is mounted)",
        Command(
            "set spec.predictor.model.storageUri to gs://, s3://, pvc://, https:// or hf:// "
            "(pvc://CLAIM/PATH for a volume)"
        ),
    ),
    Signature(
        Code.MODEL_PATH_MISSING,
        (
            "No such file or directory: '/mnt/models'",
            "Could not find base path /mnt/models",
            "/mnt/models not found",
        ),
        "the model server has no /mnt/models: no storage initializer ran for this pod "
        "(a storageUri without scheme, or a namespace KServe's pod webhook skips, such "
        "as KServe's own or one labelled control-plane)",
        Command(
            "kubectl -n {namespace} get pod -l serving.kserve.io/inferenceservice={name} -o "
            "jsonpath='{{.items[0].spec.initContainers[*].name}}' # expect "
            "storage-initializer; deploy into a namespace of your own"
        ),
    ),
    Signature(
        Code.MODEL_NOT_FOUND,
        (
            "ailed to locate model file",
            "ail to locate model file",
            "Model file not found",
            "No model found in",
            "LocalFileSystem::Open",
        ),
        "the storage path {uri} holds no model file the runtime can load",
        Command(
            "list the path and fix storageUri (a folder with the model file in the layout "
            "the runtime expects)"
        ),
    ),
    Signature(
        Code.MODEL_NOT_FOUND,
        ("no version is available",),
        "Triton finds no version of the model to load: it loads numbered version directories "
        "under the model's directory (MODEL/1/model.onnx, with config.pbtxt beside them), and "
        "the directory {uri} gives has none (or an empty one)",
        Command(
            "list the storage path: the model's files must sit in a numbered directory (PATH/1/"
            "model.onnx), with PATH the storage path of the model; fix the layout or the path"
        ),
    ),
    Signature(
        Code.STORAGE_UNREACHABLE,
        (
            "Temporary failure in name resolution",
            "Name or service not known",
            "Connection refused",
            "Failed to establish a new connection",
            "Could not connect to the endpoint URL",
            "CERTIFICATE_VERIFY_FAILED",
            "certificate verify failed",
            "ConnectTimeoutError",
            "Network is unreachable",
            "ProxyError",
            "Failed to connect to HTTP endpoint",
            "Failed to connect to S3 endpoint",
            "Failed to connect to GCS endpoint",
            "Failed to connect to Azure endpoint",
            "Max retries exceeded",
        ),
        "the storage initializer cannot reach the storage endpoint of {uri} (DNS, "
        "connection, proxy or TLS)",
        Command(
            "check DNS and egress from the model's namespace, any proxy settings, and "
            "the endpoint annotations (serving.kserve.io/s3-endpoint, s3-usehttps, "
            "s3-verifyssl)"
        ),
        sources=INITIALIZER,
    ),
    Signature(
        Code.RUNTIME_MISSING,
        # KServe's controller, when spec.predictor.model.runtime names no installed runtime.
        ("No ServingRuntimes or ClusterServingRuntimes with the name", "RuntimeNotRecognized"),
        "the ServingRuntime the InferenceService names is not installed in {namespace} or "
        "the cluster (KServe's default ClusterServingRuntimes come in their own manifest)",
        Command(
            "kubectl get clusterservingruntimes,servingruntimes -A # install KServe's "
            "kserve-cluster-resources manifest (the default runtimes), or fix "
            "spec.predictor.model.runtime"
        ),
    ),
    Signature(
        Code.RUNTIME_UNSUPPORTED,
        ("no runtime found to support", "No runtime found to support", "NoSupportingRuntime"),
        "no installed ServingRuntime supports this model's format and protocol",
        Command(
            "kubectl get clusterservingruntimes,servingruntimes -A # install the runtime, or "
            "fix spec.predictor.model.modelFormat / runtime"
        ),
    ),
    Signature(
        Code.WORKLOAD_IDENTITY_API_DISABLED,
        ("IAM Service Account Credentials API has not been used",),
        "the GKE metadata server cannot mint tokens: the IAM Service Account "
        "Credentials API is disabled in the project",
        Command("gcloud services enable iamcredentials.googleapis.com --project=<project>"),
    ),
    Signature(
        Code.MODEL_LOAD_FAILED,
        ("Load model failed:",),
        "TorchServe's worker process died while loading the model: its handler raised (a file "
        "or package it needs, a path in it) or the process was killed (memory, GPU memory)",
        Command(
            "kubectl -n {namespace} logs -l serving.kserve.io/inferenceservice={name} -c "
            "kserve-container --tail=200 # the worker's MODEL_LOG lines above say which; "
            "raise the memory limits if it was killed"
        ),
        near=re.compile(r"Worker died|error:"),
        sources=MODEL_SERVER,
    ),
    Signature(
        Code.MODEL_LOAD_FAILED,
        (
            "fail to load model",
            "Failed to load model",
            "load failed",
            "InconsistentVersionWarning",
            "Trying to unpickle estimator",
            "joblib.load(",
            "UnpicklingError",
            "pickle.load(",
            "No module named 'sklearn",
            "XGBoostError",
        ),
        "the model server cannot load the model file: usually a model saved with "
        "another version of the framework than the runtime's, a corrupt file, or none there",
        Command(
            "kubectl exec <pod> -c kserve-container -- ls -lR /mnt/models # the model file "
            "must be there, whole; then save the model with the runtime's framework version "
            "(or pick a runtime version that matches), then redeploy"
        ),
        sources=MODEL_SERVER,
    ),
)


def first_match(lines: list[tuple[str, str]]) -> tuple[Signature, str, str, int] | None:
    """The first signature, in the table's order, that a line carries: (signature, source,
    line, where in the line)."""
    for signature in SIGNATURES:
        for source, line in lines:
            at = signature.find(source, line)
            if at is not None:
                return signature, source, line, at
    return None
