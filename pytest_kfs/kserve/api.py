"""KServe's own names: API group and versions, labels, annotations, its ConfigMap (pure data).

Spelled once here; everything that reads or writes KServe objects takes them from this module.
"""

from __future__ import annotations

GROUP = "serving.kserve.io"
VERSION = "v1beta1"
PLURAL = "inferenceservices"
API_VERSION = f"{GROUP}/{VERSION}"
# ServingRuntime and ClusterServingRuntime are served at v1alpha1 in every supported release.
RUNTIME_VERSION = "v1alpha1"

# The label KServe puts on every object it makes for an InferenceService (pods included).
ISVC_LABEL = f"{GROUP}/inferenceservice"
# A service account annotation that names the storage secret to use (KServe's credential builder).
STORAGE_SECRET_ANNOTATION = f"{GROUP}/storageSecretName"
# The storage URI the webhook gave the initializer, written on the pod it mutated.
SOURCE_URI_ANNOTATION = f"internal.{GROUP}/storage-initializer-sourceuri"

# Where KServe's controller and its ConfigMap live (upstream install, then Kubeflow's).
KSERVE_NAMESPACES = ("kserve", "kubeflow")
CONFIG_MAP = "inferenceservice-config"
# The file KServe's credential builder expects in a GCS key secret (credentials.gcs in the
# ConfigMap can rename it; `gcs_key_file` in diagnosis.evidence reads that).
GCS_KEY_FILE = "gcloud-application-credentials.json"
# The containers whose logs explain a model: the storage download, then the model server.
LOG_CONTAINERS = ("storage-initializer", "kserve-container")
COMPONENTS = ("predictor", "transformer", "explainer")

# KServe's default `ingress.domainTemplate` and `ingressDomain` (inferenceservice-config).
DEFAULT_DOMAIN_TEMPLATE = "{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}"
DEFAULT_INGRESS_DOMAIN = "example.com"
