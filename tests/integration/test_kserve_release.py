"""KServe's own manifests as the embedded cluster installs them: only the documented changes."""

import json

import pytest
import yaml

from pytest_kfs.local.assets import kserve_manifests
from pytest_kfs.local.kserve import manifests
from pytest_kfs.local.kserve.releases import RELEASES, release


@pytest.fixture(params=sorted(RELEASES))
def built(request):
    wanted = release(request.param)
    folder = kserve_manifests(wanted)
    if not folder.is_dir():
        pytest.skip(f"KServe {wanted.version} is not built (python -m pytest_kfs.local build)")
    return wanted, folder


def test_the_config_map_is_the_releases_own_but_for_mode_ingress_and_tags(built):
    wanted, folder = built
    (original,) = [
        doc
        for doc in yaml.safe_load_all(
            (folder / "config/configmap/inferenceservice.yaml").read_text()
        )
        if doc
    ]
    mine = manifests.config_map(folder, wanted)
    assert set(mine["data"]) == set(original["data"])
    changed = {key for key in original["data"] if mine["data"][key] != original["data"][key]}
    assert changed <= {
        "deploy",
        "ingress",
        "storageInitializer",
        "logger",
        "batcher",
        "agent",
        "router",
        "explainers",
        "localModel",
    }
    assert json.loads(mine["data"]["deploy"])["defaultDeploymentMode"] == wanted.standard_mode
    ingress = json.loads(mine["data"]["ingress"])
    assert ingress["disableIstioVirtualHost"] is True and ingress["disableIngressCreation"]
    assert ingress["domainTemplate"] == json.loads(original["data"]["ingress"])["domainTemplate"]
    image = json.loads(mine["data"]["storageInitializer"])["image"]
    assert image == f"kserve/storage-initializer:{wanted.version}"
    assert wanted.images[image] == "initializer"


def test_runtimes_get_kustomizes_images_with_the_release_tag(built):
    wanted, folder = built
    runtimes = {
        r["metadata"]["name"]: r for r in manifests.cluster_serving_runtimes(folder, wanted)
    }
    sklearn = runtimes["kserve-sklearnserver"]["spec"]["containers"][0]
    assert sklearn["image"] == f"kserve/sklearnserver:{wanted.version}"
    assert wanted.images[sklearn["image"]] == "sklearn"
    assert sklearn["args"][:2] == ["--model_name={{.Name}}", "--model_dir=/mnt/models"]
    assert not [
        name
        for name, r in runtimes.items()
        if r["spec"]["containers"][0]["image"].endswith(":replace")
    ]


def test_webhooks_point_at_loopback_with_the_ca(built):
    _, folder = built
    configurations = manifests.webhook_configurations(
        folder, "https://127.0.0.1:9443", b"-----BEGIN CERTIFICATE-----"
    )
    hooks = [hook for doc in configurations for hook in doc["webhooks"]]
    paths = {hook["clientConfig"]["url"] for hook in hooks}
    assert "https://127.0.0.1:9443/mutate-pods" in paths
    assert all(
        "service" not in hook["clientConfig"] and hook["clientConfig"]["caBundle"] for hook in hooks
    )
    pods = next(hook for hook in hooks if hook["clientConfig"]["url"].endswith("/mutate-pods"))
    assert pods["failurePolicy"] == "Fail"
    assert (
        pods["objectSelector"]["matchExpressions"][0]["key"] == "serving.kserve.io/inferenceservice"
    )
