"""The cluster serves KServe's API the way the other suites rely on."""

import pytest

from pytest_kfs import Cluster

KSERVE_CRDS = {
    "inferenceservices.serving.kserve.io": "InferenceService",
    "servingruntimes.serving.kserve.io": "ServingRuntime",
    "clusterservingruntimes.serving.kserve.io": "ClusterServingRuntime",
}


def test_cluster_serves_the_inferenceservice_api(kfs_cluster: Cluster) -> None:
    assert kfs_cluster.kserve_installed, f"{kfs_cluster.context} does not serve InferenceService"


@pytest.mark.parametrize("crd_name", sorted(KSERVE_CRDS))
def test_kserve_crd_is_established(kfs_cluster: Cluster, crd_name: str) -> None:
    crd = kfs_cluster.apiextensions.read_custom_resource_definition(crd_name)
    conditions = {c.type: c.status for c in crd.status.conditions or []}
    assert conditions.get("Established") == "True", f"{crd_name} conditions: {conditions}"
    assert crd.spec.names.kind == KSERVE_CRDS[crd_name]


def test_inferenceservice_status_is_a_subresource(kfs_cluster: Cluster) -> None:
    crd = kfs_cluster.apiextensions.read_custom_resource_definition(
        "inferenceservices.serving.kserve.io")
    served = [version for version in crd.spec.versions if version.name == "v1beta1"]
    assert served, "InferenceService v1beta1 is not served"
    assert served[0].subresources and served[0].subresources.status is not None, (
        "InferenceService has no status subresource: the controller's status writes would "
        "race with spec updates"
    )
