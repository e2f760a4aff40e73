"""The plugin's manifests pass server-side validation against KServe's real CRDs."""

from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from pytest_kfs import inferenceservice as isvc
from pytest_kfs.cluster import connect_context
from pytest_kfs.local import crds, start_embedded

REAL_CRDS = Path(__file__).resolve().parents[3] / "shared" / "kserve" / "crds"


@pytest.fixture(scope="module")
def real_kserve_cluster():
    """A second embedded cluster with KServe's own CRDs instead of ours."""
    files = sorted(REAL_CRDS.glob("serving.kserve.io_*.yaml"))
    if not files:
        pytest.skip(f"KServe's CRDs are not beside this checkout ({REAL_CRDS})")
    with start_embedded(extra_crds=crds.load_crd_files(files), own_crds=False) as embedded:
        cluster = connect_context(embedded.context, embedded.kubeconfig)
        cluster.core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name="compat")))
        yield cluster


def test_real_crds_install_and_are_served(real_kserve_cluster):
    assert real_kserve_cluster.kserve_installed
    served = {crd.spec.names.kind for crd in
              real_kserve_cluster.apiextensions.list_custom_resource_definition().items}
    assert {"InferenceService", "ServingRuntime", "ClusterServingRuntime",
            "TrainedModel"} <= served


def _variants() -> list[tuple[str, dict]]:
    variants = [(name, isvc.sample_manifest(name)) for name in sorted(isvc.SAMPLES)]
    variants.append(("user-model", isvc.manifest(
        "user-model", model_format="xgboost", storage_uri="gs://bucket/models/xgb",
        protocol="v2", runtime="kserve-xgbserver", service_account="sa-reader",
        min_replicas=0, annotations={"serving.kserve.io/deploymentMode": "RawDeployment"},
        labels={"team": "ml"})))
    return variants


@pytest.mark.parametrize(("label", "body"), _variants(), ids=[v[0] for v in _variants()])
def test_manifest_passes_server_side_dry_run(real_kserve_cluster, label, body):
    created = real_kserve_cluster.custom.create_namespaced_custom_object(
        isvc.GROUP, isvc.VERSION, "compat", isvc.PLURAL, body, dry_run="All")
    assert created["spec"]["predictor"] == body["spec"]["predictor"]


def test_dry_run_rejects_what_kserve_rejects(real_kserve_cluster):
    body = isvc.manifest("bad", model_format="sklearn", storage_uri="gs://b/p")
    body["spec"]["predictor"]["minReplicas"] = "zero"
    with pytest.raises(ApiException) as error:
        real_kserve_cluster.custom.create_namespaced_custom_object(
            isvc.GROUP, isvc.VERSION, "compat", isvc.PLURAL, body, dry_run="All")
    assert error.value.status == 422


def test_status_written_by_embedded_kserve_fits_the_real_schema(real_kserve_cluster, kfs_cluster):
    """A status the embedded cluster accepts is accepted by KServe's schema too."""
    body = isvc.sample_manifest("sklearn-iris")
    for cluster in (real_kserve_cluster, kfs_cluster):
        namespace = "compat"
        if cluster is kfs_cluster:
            namespace = "compat-own"
            cluster.core.create_namespace(
                client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        cluster.custom.create_namespaced_custom_object(
            isvc.GROUP, isvc.VERSION, namespace, isvc.PLURAL, body)
        status = {"status": {"modelStatus": {
            "transitionStatus": "BlockedByFailedLoad",
            "states": {"activeModelState": "Loaded", "targetModelState": "FailedToLoad"},
            "copies": {"failedCopies": 1, "totalCopies": 0},
            "lastFailureInfo": {"reason": "ModelLoadFailed", "message": "denied",
                                "exitCode": 1, "location": "sklearn-iris-predictor-x"}},
            "conditions": [{"type": "Ready", "status": "False", "reason": "x"}]}}
        cluster.custom.patch_namespaced_custom_object_status(
            isvc.GROUP, isvc.VERSION, namespace, isvc.PLURAL, "sklearn-iris", status)
    kfs_cluster.core.delete_namespace("compat-own")
