"""The plugin's manifests pass KServe's own admission: the release's CRD schema, its defaulting
and validating webhooks (server-side dry run against the embedded cluster's real manager)."""

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from pytest_kfs import inferenceservice as isvc


@pytest.fixture(scope="module")
def compat(kfs_cluster):
    """A namespace for dry runs (nothing is stored)."""
    kfs_cluster.core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name="compat")))
    yield kfs_cluster
    kfs_cluster.core.delete_namespace("compat")


def test_the_release_crds_are_served(kfs_cluster):
    served = {crd.spec.names.kind for crd in
              kfs_cluster.apiextensions.list_custom_resource_definition().items}
    assert {"InferenceService", "ServingRuntime", "ClusterServingRuntime", "TrainedModel",
            "InferenceGraph", "ClusterStorageContainer"} <= served


def _variants() -> list[tuple[str, dict]]:
    variants = [(name, isvc.sample_manifest(name)) for name in sorted(isvc.SAMPLES)]
    variants.append(("user-model", isvc.manifest(
        "user-model", model_format="xgboost", storage_uri="gs://bucket/models/xgb",
        protocol="v2", runtime="kserve-xgbserver", service_account="sa-reader",
        min_replicas=0, annotations={"serving.kserve.io/deploymentMode": "Standard"},
        labels={"team": "ml"})))
    return variants


@pytest.mark.parametrize(("label", "body"), _variants(), ids=[v[0] for v in _variants()])
def test_manifest_passes_kserves_admission(compat, label, body):
    created = compat.custom.create_namespaced_custom_object(
        isvc.GROUP, isvc.VERSION, "compat", isvc.PLURAL, body, dry_run="All")
    predictor = created["spec"]["predictor"]
    # KServe's defaulter may add fields; every field the plugin wrote stays as written.
    for key, value in body["spec"]["predictor"]["model"].items():
        assert predictor["model"][key] == value, key


def test_kserve_rejects_a_malformed_spec(compat):
    body = isvc.manifest("bad", model_format="sklearn", storage_uri="gs://b/p")
    body["spec"]["predictor"]["minReplicas"] = "zero"
    with pytest.raises(ApiException) as error:
        compat.custom.create_namespaced_custom_object(
            isvc.GROUP, isvc.VERSION, "compat", isvc.PLURAL, body, dry_run="All")
    # KServe's defaulting webhook decodes the object before the schema is checked.
    assert error.value.status in (400, 422), error.value.body
    assert "minReplicas" in error.value.body


def test_kserves_validating_webhook_answers(compat):
    # A name KServe's own validator refuses (it must start with a letter): the webhook, not
    # the schema, says so.
    body = isvc.manifest("1model", model_format="sklearn", storage_uri="gs://b/p")
    with pytest.raises(ApiException) as error:
        compat.custom.create_namespaced_custom_object(
            isvc.GROUP, isvc.VERSION, "compat", isvc.PLURAL, body, dry_run="All")
    assert "admission webhook" in error.value.body and "denied the request" in error.value.body
