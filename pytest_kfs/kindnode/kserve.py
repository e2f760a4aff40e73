"""KServe installed into a kind cluster: the release's images built here and loaded into the
node (`kind load image-archive`: no registry answers here), then the release's own
config/default applied (`local.kserve.in_cluster`), until its webhooks answer.

The manager's image is KServe's Dockerfile on distroless/static:nonroot: the static manager
binary of the release (built once from the Go module proxy, as the embedded cluster runs it)
as /manager, USER 65532. The storage-initializer and sklearnserver: `model_images`.
"""

from __future__ import annotations

import json
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException

from pytest_kfs.errors import SettingsError
from pytest_kfs.kindnode import model_images
from pytest_kfs.kindnode.archives import ImageSpec, archive_name, write_archive
from pytest_kfs.kindnode.cluster import wait_until
from pytest_kfs.kube import apply, kind
from pytest_kfs.local import assets, crds, pki, progress
from pytest_kfs.local.kserve import in_cluster, manifests
from pytest_kfs.local.kserve.releases import Release, UnknownRelease, release
from pytest_kfs.untrusted import shown

MANAGER_READY_SECONDS = 240.0  # its readiness probe waits 30 s before the first check
WEBHOOKS_READY_SECONDS = 60.0
# distroless/static:nonroot's user.
NONROOT = "65532:65532"
# A model the webhooks are asked about (server-side dry run: nothing is stored).
_PROBE = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "kfs-webhook-probe", "namespace": manifests.NAMESPACE},
    "spec": {"predictor": {"sklearn": {"storageUri": "gs://kfs-webhook-probe/model"}}},
}


def chosen_release(version: str | None) -> Release:
    """The release `--kfs-kserve-version` names for kind (the default when None);
    SettingsError naming those that can be installed."""
    try:
        return release(version)
    except UnknownRelease as error:
        raise SettingsError(
            str(error).replace("run in the embedded cluster", "be installed on kind")
        ) from None


def controller_spec(release: Release) -> ImageSpec:
    """kserve/kserve-controller of `release`: the manager binary on an empty base."""
    return ImageSpec(
        (f"docker.io/{in_cluster.controller_image(release)}",),
        (("/manager", assets.kserve_manager(release)),),
        ("/manager",),
        user=NONROOT,
    )


def ensure_built(release: Release) -> None:
    """The release's manager and manifests, built once per machine (with progress)."""
    try:
        assets.kserve_manager(release)
    except assets.AssetsMissing:
        progress.say(f"pytest-kfs: building KServe {release.version}'s manager (once) ...")
        with assets.build_lock():
            assets.build_kserve(release)


def image_archives(release: Release) -> list[Path]:
    """The release's images as archives in its cache (built once): the manager, then the
    storage-initializer and the sklearnserver (`model_images`)."""
    spec = controller_spec(release)
    folder = assets.kserve_dir(release) / "images"
    return [write_archive(spec, folder / archive_name(spec)), *model_images.archives(release)]


def _manager_state(core: client.CoreV1Api, apps: client.AppsV1Api) -> str | None:
    """None when the manager's Deployment is available, else what its pod waits on."""
    deployment = apps.read_namespaced_deployment(in_cluster.MANAGER, manifests.NAMESPACE)
    if (deployment.status.available_replicas or 0) >= 1:
        return None
    pods = core.list_namespaced_pod(
        manifests.NAMESPACE, label_selector=f"control-plane={in_cluster.MANAGER}"
    ).items
    for pod in pods:
        for status in pod.status.container_statuses or ():
            state = status.state
            if state and state.waiting:
                why = f"{state.waiting.reason}: {state.waiting.message or ''}"
                return f"{shown(pod.metadata.name, 253)}: {shown(why, 400)}"
            if not status.ready:
                return f"{shown(pod.metadata.name, 253)}: running, not ready yet"
        return f"{shown(pod.metadata.name, 253)}: {shown(pod.status.phase or '', 40)}"
    return "no manager pod yet"


def _webhook_state(api_client: client.ApiClient) -> str | None:
    """None once the API server reaches the webhooks (any answer of theirs, a denial too)."""
    try:
        apply.apply(api_client, [_PROBE], dry_run=True)
    except ApiException as error:
        message = str(json.loads(error.body or "{}").get("message") or error.reason)
        if "failed calling webhook" in message or error.status >= 500:
            return shown(message, 400)
    return None


def install(
    name: str,
    version: str | None,
    api_client: client.ApiClient,
    env: dict[str, str],
) -> str:
    """Load the release's images into kind cluster `name` and apply its install; returns
    what runs there, once the manager is available and its webhooks answer (ClusterError
    saying what did not)."""
    release = chosen_release(version)
    ensure_built(release)
    progress.say(f"pytest-kfs: installing KServe {release.version} into kind cluster '{name}' ...")
    for archive in image_archives(release):
        progress.say(f"pytest-kfs: loading {archive.name} into kind cluster '{name}' ...")
        kind.load_archive(name, archive, env)
    folder = assets.kserve_manifests(release)
    certificate = pki.service_certificate(in_cluster.WEBHOOK_DNS_NAMES)
    apply.apply(api_client, [in_cluster.namespace()])
    crds.install(api_client, manifests.crds(folder), timeout_seconds=60)
    # The runtimes before the webhooks: the release's validating webhook guards them.
    apply.apply(
        api_client,
        [
            manifests.config_map(folder, release),
            *manifests.cluster_serving_runtimes(folder, release),
            *in_cluster.rbac(folder),
            in_cluster.webhook_secret(certificate),
            in_cluster.webhook_service(folder),
            *in_cluster.manager(folder, release),
        ],
    )
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    what = f"KServe {release.version} in kind cluster '{name}'"
    wait_until(f"{what}: its manager", lambda: _manager_state(core, apps), MANAGER_READY_SECONDS)
    apply.apply(api_client, in_cluster.webhook_configurations(folder, certificate.ca_cert))
    wait_until(f"{what}: its webhooks", lambda: _webhook_state(api_client), WEBHOOKS_READY_SECONDS)
    progress.say(f"pytest-kfs: KServe {release.version} is installed in kind cluster '{name}'")
    return release.describe()
