"""A KServe release's own manifests, made fit for the embedded cluster (pure: files in, dicts out).

What the embedded cluster changes, and only this (each is what an operator would set there):
- the ConfigMap's `deploy.defaultDeploymentMode` is the release's Standard (raw) mode: there is
  no Knative here; `ingress` creates no Ingress/Gateway and no Istio virtual host (no Istio);
- image tags `latest` become the release's tag, as the release's install manifest pins them;
- the webhooks reach the manager at a loopback URL instead of the `kserve-webhook-server-service`
  Service (no Service network here), with the embedded CA as their caBundle.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from pytest_kfs.local.kserve.releases import Release

NAMESPACE = "kserve"
CONFIG_MAP = "inferenceservice-config"
# The CRDs KServe's manager needs, by the file names of the release (config/crd/...).
CRD_FILES = tuple(
    f"serving.kserve.io_{plural}.yaml"
    for plural in (
        "inferenceservices",
        "servingruntimes",
        "clusterservingruntimes",
        "trainedmodels",
        "inferencegraphs",
        "clusterstoragecontainers",
    )
)
# libyaml when PyYAML has it: the InferenceService CRD alone is 2 MB of YAML.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_LATEST = re.compile(r'"(kserve/[a-z0-9-]+):latest"')


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.load_all(path.read_text(), Loader=_LOADER) if isinstance(doc, dict)]


def crds(folder: Path) -> list[dict[str, Any]]:
    """The release's CRDs that KServe's manager needs (the full schemas)."""
    parsed = folder / "crds.json"  # parsed once per release: 2 MB of YAML take seconds
    if parsed.exists():
        return list(json.loads(parsed.read_text()))
    found: dict[str, Any] = {}
    for path in sorted((folder / "config" / "crd").rglob("serving.kserve.io_*.yaml")):
        if path.name in CRD_FILES and "/minimal/" not in path.as_posix():
            for doc in documents(path):
                if doc.get("kind") == "CustomResourceDefinition":
                    found.setdefault(doc["metadata"]["name"], doc)
    partial = parsed.with_name(f".crds.json.{os.getpid()}")
    partial.write_text(json.dumps(list(found.values())))
    partial.replace(parsed)  # atomic: parallel runs never read half a file
    return list(found.values())


def config_map(folder: Path, release: Release) -> dict[str, Any]:
    """`inferenceservice-config` of the release, in the Standard mode, without Istio."""
    (document,) = documents(folder / "config" / "configmap" / "inferenceservice.yaml")
    # `_example` is documentation inside the ConfigMap: left as the release wrote it.
    data = {
        key: value if key == "_example" else _LATEST.sub(rf'"\1:{release.version}"', value)
        for key, value in document["data"].items()
    }
    deploy = json.loads(data.get("deploy") or "{}")
    deploy["defaultDeploymentMode"] = release.standard_mode
    data["deploy"] = json.dumps(deploy, indent=2)
    ingress = json.loads(data.get("ingress") or "{}")
    ingress.update(disableIstioVirtualHost=True, disableIngressCreation=True)
    data["ingress"] = json.dumps(ingress, indent=2)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG_MAP, "namespace": NAMESPACE},
        "data": data,
    }


def cluster_serving_runtimes(folder: Path, release: Release) -> list[dict[str, Any]]:
    """The release's ClusterServingRuntimes with kustomize's image mapping applied."""
    runtimes_dir = folder / "config" / "runtimes"
    kustomization = documents(runtimes_dir / "kustomization.yaml")[0]
    images = {entry["name"]: entry for entry in kustomization.get("images") or []}
    runtimes = []
    for resource in kustomization.get("resources") or []:
        for doc in documents(runtimes_dir / resource):
            if doc.get("kind") != "ClusterServingRuntime":
                continue
            doc = copy.deepcopy(doc)
            for container in doc["spec"].get("containers") or []:
                container["image"] = _resolve_image(container["image"], images, release)
            runtimes.append(doc)
    return runtimes


def _resolve_image(image: str, images: dict[str, dict[str, str]], release: Release) -> str:
    name = image.rsplit(":", 1)[0]
    entry = images.get(name)
    if entry is None:
        return image
    new_name = entry.get("newName", name)
    tag = entry.get("newTag", "latest")
    if new_name.startswith("kserve/") and tag.startswith("latest"):
        tag = release.version + tag[len("latest") :]
    return f"{new_name}:{tag}"


def webhook_configurations(folder: Path, base_url: str, ca_pem: bytes) -> list[dict[str, Any]]:
    """The release's webhook configurations, pointed at the manager on loopback."""
    return webhooks_calling(
        folder, ca_pem, lambda service: {"url": base_url.rstrip("/") + service["path"]}
    )


def webhooks_calling(
    folder: Path, ca_pem: bytes, client_config: Callable[[dict[str, Any]], dict[str, Any]]
) -> list[dict[str, Any]]:
    """The release's webhook configurations (config/webhook/manifests.yaml), each webhook
    called as `client_config` says from the Service the release names, trusting `ca_pem`."""
    bundle = base64.b64encode(ca_pem).decode()
    configurations = []
    for doc in documents(folder / "config" / "webhook" / "manifests.yaml"):
        doc = copy.deepcopy(doc)
        doc["metadata"].pop("creationTimestamp", None)
        for hook in doc.get("webhooks") or []:
            service = hook["clientConfig"]["service"]
            hook["clientConfig"] = {**client_config(service), "caBundle": bundle}
        configurations.append(doc)
    return configurations
