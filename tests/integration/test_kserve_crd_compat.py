"""The plugin's manifests pass KServe's own admission: the release's CRD schema, its defaulting
and validating webhooks (server-side dry run against the embedded cluster's real manager)."""

import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from pytest_kfs.kserve import api, samples
from pytest_kfs.kserve import manifests as isvc
from pytest_kfs.kserve.spec import ModelSpec


@pytest.fixture(scope="module")
def compat(kfs_cluster):
    """(cluster, namespace) for dry runs (nothing is stored); one per xdist worker."""
    namespace = f"compat-{uuid.uuid4().hex[:8]}"
    kfs_cluster.core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
    )
    yield kfs_cluster, namespace
    kfs_cluster.core.delete_namespace(namespace)


def test_the_release_crds_are_served(kfs_cluster):
    served = {
        crd.spec.names.kind
        for crd in kfs_cluster.apiextensions.list_custom_resource_definition().items
    }
    assert {
        "InferenceService",
        "ServingRuntime",
        "ClusterServingRuntime",
        "TrainedModel",
        "InferenceGraph",
        "ClusterStorageContainer",
    } <= served


def _variants() -> list[tuple[str, dict]]:
    variants = [
        (name, ModelSpec(sample=name).resolved().manifest()) for name in sorted(samples.SAMPLES)
    ]
    variants.append(
        (
            "user-model",
            isvc.manifest(
                "user-model",
                model_format="xgboost",
                storage_uri="gs://bucket/models/xgb",
                protocol="v2",
                runtime="kserve-xgbserver",
                service_account="sa-reader",
                min_replicas=0,
                annotations={"serving.kserve.io/deploymentMode": "Standard"},
                labels={"team": "ml"},
            ),
        )
    )
    return variants


@pytest.mark.parametrize(("label", "body"), _variants(), ids=[v[0] for v in _variants()])
def test_manifest_passes_kserves_admission(compat, label, body):
    cluster, namespace = compat
    created = cluster.custom.create_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.PLURAL, body, dry_run="All"
    )
    predictor = created["spec"]["predictor"]
    # KServe's defaulter may add fields; every field the plugin wrote stays as written.
    for key, value in body["spec"]["predictor"]["model"].items():
        assert predictor["model"][key] == value, key


def test_kserve_rejects_a_malformed_spec(compat):
    body = isvc.manifest("bad", model_format="sklearn", storage_uri="gs://b/p")
    body["spec"]["predictor"]["minReplicas"] = "zero"
    cluster, namespace = compat
    with pytest.raises(ApiException) as error:
        cluster.custom.create_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.PLURAL, body, dry_run="All"
        )
    # KServe's defaulting webhook decodes the object before the schema is checked (v0.20.0).
    assert error.value.status == 400, error.value.body
    assert (
        'admission webhook \\"inferenceservice.kserve-webhook-server.defaulter\\" denied '
        "the request: json: cannot unmarshal string into Go struct field"
    ) in error.value.body


def test_kserves_validating_webhook_answers(compat):
    # A name KServe's own validator refuses (it must start with a letter): the webhook, not
    # the schema, says so.
    body = isvc.manifest("1model", model_format="sklearn", storage_uri="gs://b/p")
    cluster, namespace = compat
    with pytest.raises(ApiException) as error:
        cluster.custom.create_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.PLURAL, body, dry_run="All"
        )
    assert "admission webhook" in error.value.body and "denied the request" in error.value.body
