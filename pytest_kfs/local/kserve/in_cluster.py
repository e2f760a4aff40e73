"""A KServe release as its own kustomize install (`config/default`) puts it into a real cluster,
for kind (pure: files in, dicts out).

What differs from `config/default`, each the choice an operator makes on a cluster without
cert-manager and without a registry:
- the webhook certificate is made by pytest-kfs (the Secret `kserve-webhook-server-cert` and
  the webhooks' caBundle) instead of cert-manager's self-signed Issuer: cert-manager would be one
  more controller to build and run, and all it does for KServe is write that Secret and inject
  that caBundle;
- no kube-rbac-proxy sidecar: it only guards /metrics, and its image is not KServe's;
- the manager's image is pulled only if not present (the release says Always): images are built
  and loaded into the node here, no registry answers;
- `inferenceservice-config` in the Standard mode, as `manifests.config_map` gives the embedded
  cluster (Serverless on kind is its own issue).
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

from pytest_kfs.kube import apply
from pytest_kfs.local.kserve.manifests import NAMESPACE, documents, webhooks_calling
from pytest_kfs.local.kserve.releases import Release
from pytest_kfs.local.pki import ServiceCertificate

CONTROLLER_IMAGE = "kserve/kserve-controller"
MANAGER = "kserve-controller-manager"
WEBHOOK_SERVICE = "kserve-webhook-server-service"
WEBHOOK_SECRET = "kserve-webhook-server-cert"
# cert-manager's Certificate in config/certmanager/kserve names these.
WEBHOOK_DNS_NAMES = (
    f"{WEBHOOK_SERVICE}.{NAMESPACE}.svc",
    f"{WEBHOOK_SERVICE}.{NAMESPACE}.svc.cluster.local",
)
# config/default's `labels`: on every object, not on selectors.
LABELS = {"app.kubernetes.io/name": "kserve", "app.kubernetes.io/component": "kserve"}
# config/rbac/kustomization.yaml less the auth proxy's three files.
RBAC_FILES = (
    "service_account.yaml",
    "role.yaml",
    "role_binding.yaml",
    "leader_election_role.yaml",
    "leader_election_role_binding.yaml",
)


def controller_image(release: Release) -> str:
    """The manager's image as the release's install pins it."""
    return f"{CONTROLLER_IMAGE}:{release.version}"


def _placed(doc: dict[str, Any]) -> dict[str, Any]:
    """kustomize's namespace and labels transformers on one object."""
    doc = copy.deepcopy(doc)
    metadata = doc.setdefault("metadata", {})
    metadata.pop("creationTimestamp", None)
    metadata["labels"] = {**(metadata.get("labels") or {}), **LABELS}
    if apply.namespaced(doc.get("kind", "")):
        metadata["namespace"] = NAMESPACE
    for subject in doc.get("subjects") or []:
        if subject.get("kind") == "ServiceAccount":
            subject["namespace"] = NAMESPACE
    return doc


def namespace() -> dict[str, Any]:
    """The release's namespace."""
    return _placed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})


def rbac(folder: Path) -> list[dict[str, Any]]:
    """The manager's ServiceAccount, ClusterRole and leader-election Role, with bindings."""
    return [
        _placed(doc) for name in RBAC_FILES for doc in documents(folder / "config" / "rbac" / name)
    ]


def manager(folder: Path, release: Release) -> list[dict[str, Any]]:
    """config/manager/manager.yaml with the release's image: the Deployment, and the Secret
    the file declares beside it."""
    placed = []
    for doc in documents(folder / "config" / "manager" / "manager.yaml"):
        doc = _placed(doc)
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                if container["name"] == "manager":
                    container["image"] = controller_image(release)
                    container["imagePullPolicy"] = "IfNotPresent"
        placed.append(doc)
    return placed


def webhook_service(folder: Path) -> dict[str, Any]:
    """config/webhook/service.yaml: the Service the API server calls the webhooks through."""
    (doc,) = documents(folder / "config" / "webhook" / "service.yaml")
    return _placed(doc)


def webhook_secret(certificate: ServiceCertificate) -> dict[str, Any]:
    """The Secret the manager mounts at /tmp/k8s-webhook-server/serving-certs, with the keys
    cert-manager writes (tls.crt, tls.key, ca.crt)."""
    data = {
        "tls.crt": certificate.cert,
        "tls.key": certificate.key,
        "ca.crt": certificate.ca_cert,
    }
    return _placed(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": WEBHOOK_SECRET},
            "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
        }
    )


def webhook_configurations(folder: Path, ca_pem: bytes) -> list[dict[str, Any]]:
    """config/webhook/manifests.yaml with kustomize's replacements (the Service's name and
    namespace) and the caBundle cert-manager's CA injector would write."""
    return [
        _placed(doc)
        for doc in webhooks_calling(
            folder,
            ca_pem,
            lambda service: {
                "service": {**service, "name": WEBHOOK_SERVICE, "namespace": NAMESPACE}
            },
        )
    ]
