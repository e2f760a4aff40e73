"""The cluster serves KServe's API the way the other suites rely on."""

from typing import NoReturn

import pytest

from pytest_kfs import Cluster, Code, Finding, fail_with

KSERVE_CRDS = {
    "inferenceservices.serving.kserve.io": "InferenceService",
    "servingruntimes.serving.kserve.io": "ServingRuntime",
    "clusterservingruntimes.serving.kserve.io": "ClusterServingRuntime",
}


def test_cluster_serves_the_inferenceservice_api(kfs_cluster: Cluster) -> None:
    if not kfs_cluster.kserve_installed:
        missing(f"{kfs_cluster.context} does not serve InferenceService")


@pytest.mark.parametrize("crd_name", sorted(KSERVE_CRDS))
def test_kserve_crd_is_established(kfs_cluster: Cluster, crd_name: str) -> None:
    crd = kfs_cluster.apiextensions.read_custom_resource_definition(crd_name)
    conditions = {c.type: c.status for c in crd.status.conditions or []}
    if conditions.get("Established") != "True":
        missing(f"{crd_name} is not established (conditions: {conditions})")
    if crd.spec.names.kind != KSERVE_CRDS[crd_name]:
        missing(f"{crd_name} names kind {crd.spec.names.kind}, not {KSERVE_CRDS[crd_name]}")


def test_inferenceservice_status_is_a_subresource(kfs_cluster: Cluster) -> None:
    crd = kfs_cluster.apiextensions.read_custom_resource_definition(
        "inferenceservices.serving.kserve.io"
    )
    served = [version for version in crd.spec.versions if version.name == "v1beta1"]
    if not served:
        missing("InferenceService v1beta1 is not served")
    if not (served[0].subresources and served[0].subresources.status is not None):
        missing(
            "InferenceService has no status subresource: the controller's status writes "
            "would race with spec updates"
        )


def missing(cause: str) -> NoReturn:
    fail_with(
        Finding(
            Code.KSERVE_API_MISSING,
            cause,
            (),
            "install KServe's CRDs of the release the cluster runs (kubectl apply "
            "--server-side -f kserve-crds.yaml from its release page)",
        )
    )
