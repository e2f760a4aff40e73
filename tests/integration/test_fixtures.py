"""kfs_deploy / kfs_namespace against the embedded cluster: handles, verdicts, diagnoses."""

import time

import pytest
from kubernetes.client.rest import ApiException

from pytest_kfs.deploy import ModelNotLoaded
from pytest_kfs.errors import DeployError
from pytest_kfs.kserve.status import Verdict
from pytest_kfs.kube import namespaces
from pytest_kfs.local.scenarios import PRIVATE_URI, PROJECT, SAMPLE_BUCKET, sample_key

from .helpers import eventually, model_status


@pytest.fixture
def reader_key(kfs_gcp):
    return sample_key(kfs_gcp, "fixture-reader")


@pytest.fixture
def stranger_key(kfs_gcp):
    return sample_key(kfs_gcp, "fixture-stranger", can_read=False)


def test_namespace_is_labelled_with_the_run(kfs_cluster, kfs_namespace, pytestconfig):
    from pytest_kfs.plugin.stash import RUN_ID

    labels = kfs_cluster.core.read_namespace(kfs_namespace).metadata.labels
    assert labels[namespaces.MANAGED_BY] == "pytest-kfs"
    assert labels[namespaces.RUN_ID_LABEL] == pytestconfig.stash[RUN_ID]


def test_deploy_sample_with_credentials_loads(kfs_deploy, reader_key):
    model = kfs_deploy("sklearn-iris", credentials=reader_key)
    result = model.wait_loaded()
    assert result.verdict is Verdict.LOADED
    assert model.status.summary() == "Active Loaded / Target Loaded / UpToDate, Ready=True"
    sources = {entry.source for entry in model.timeline}
    assert {"isvc", "pod"} <= sources
    assert [entry.at for entry in model.timeline] == sorted(entry.at for entry in model.timeline)
    model.delete()
    # KServe's finalizer holds the object until its controller has cleaned up.
    deadline = time.monotonic() + 30
    with pytest.raises(ApiException) as gone:
        while time.monotonic() < deadline:
            model.status  # noqa: B018 - reading it is the check
            time.sleep(0.1)
    assert gone.value.status == 404


def test_seed_failure_is_diagnosed_in_seconds(kfs_deploy, stranger_key):
    model = kfs_deploy("sklearn-iris", storage_uri=PRIVATE_URI, credentials=stranger_key)
    started = time.monotonic()
    with pytest.raises(ModelNotLoaded) as failure:
        model.wait_loaded(timeout=120)
    assert time.monotonic() - started < 20  # the answer comes from the state, not the timeout
    top = failure.value.findings[0]
    assert top.code == "GCS_LIST_DENIED"
    assert top.principal == f"fixture-stranger@{PROJECT}.iam.gserviceaccount.com"
    message = str(failure.value)
    assert "failed to load after" in message
    assert "Timeline:" in message and "Findings (most likely first):" in message
    assert "--role=roles/storage.objectViewer" in message
    assert "BEGIN PRIVATE KEY" not in message


def test_deploy_from_yaml(kfs_deploy, reader_key):
    spec = f"""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: from-yaml
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: gs://{SAMPLE_BUCKET}/models/sklearn/1.0/model
"""
    model = kfs_deploy(spec=spec, credentials=reader_key)
    assert model.name == "from-yaml"
    assert model.wait_loaded().loaded


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("kind: Deployment\napiVersion: apps/v1\n", "expected kind InferenceService"),
        ("a: [b", "not valid YAML"),
        (
            {"kind": "InferenceService", "apiVersion": "serving.kserve.io/v1beta1", "spec": {}},
            "no spec.predictor",
        ),
    ],
)
def test_bad_specs_are_refused_before_the_cluster_sees_them(kfs_deploy, spec, message):
    with pytest.raises(DeployError, match=message):
        kfs_deploy(spec=spec)


def test_unknown_sample(kfs_deploy):
    with pytest.raises(DeployError, match="unknown sample 'mnist'; known samples: sklearn-iris"):
        kfs_deploy("mnist")


def _huge(resources):
    """The iris sample asking for these resources."""
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "huge"},
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": "sklearn"},
                    "storageUri": f"gs://{SAMPLE_BUCKET}/models/sklearn/1.0/model",
                    "resources": resources,
                }
            }
        },
    }


def test_unschedulable_pod_stops_the_wait(kfs_deploy, reader_key):
    model = kfs_deploy(spec=_huge({"requests": {"memory": "1Ti"}, "limits": {"memory": "1Ti"}}))
    with pytest.raises(ModelNotLoaded) as failure:
        model.wait_loaded(timeout=60)
    assert failure.value.findings[0].code == "POD_UNSCHEDULABLE"
    assert "Insufficient memory" in str(failure.value)


def test_requests_above_kserves_default_limits_are_refused(kfs_deploy):
    # KServe fills in limits from inferenceservice-config (2Gi): a request above them makes the
    # Deployment invalid; KServe says so in an InternalError event (v0.20.0) and no pod exists.
    model = kfs_deploy(spec=_huge({"requests": {"memory": "1Ti"}}))
    with pytest.raises(ModelNotLoaded) as failure:
        model.wait_loaded(timeout=60)
    top = failure.value.findings[0]
    assert top.code == "KSERVE_RECONCILE_FAILED"
    assert "must be less than or equal to memory limit of 2Gi" in " ".join(top.evidence)
    assert failure.value.result.elapsed < 30, "a refusal ends the wait; no deadline needed"


def test_missing_service_account_stops_the_wait(kfs_deploy):
    model = kfs_deploy("sklearn-iris", service_account="does-not-exist")
    with pytest.raises(ModelNotLoaded) as failure:
        model.wait_loaded(timeout=60)
    top = failure.value.findings[0]
    assert top.code == "SERVICE_ACCOUNT_MISSING"
    assert top.fix.endswith("create serviceaccount does-not-exist")


def test_a_refused_download_is_named_with_the_initializers_exception(kfs_deploy):
    # Nothing listens on port 9: KServe's storage initializer (the release's own code) crashes,
    # KServe reports FailedToLoad, and the initializer's own words are the evidence.
    model = kfs_deploy(storage_uri="http://127.0.0.1:9/model.joblib", model_format="sklearn")
    with pytest.raises(ModelNotLoaded) as failure:
        model.wait_loaded(timeout=60)
    top = failure.value.findings[0]
    assert top.code == "STORAGE_UNREACHABLE"
    assert "Connection refused" in " ".join(top.evidence), top.evidence
    assert "http://127.0.0.1:9/model.joblib" in top.cause


def test_a_resource_quota_refusing_the_pods_is_named(
    kfs_cluster, kfs_namespace, kfs_deploy, reader_key
):
    # Kubernetes' own ResourceQuota admission refuses the ReplicaSet's pods.
    kfs_cluster.core.create_namespaced_resource_quota(
        kfs_namespace, {"metadata": {"name": "tight"}, "spec": {"hard": {"limits.memory": "64Mi"}}}
    )
    model = kfs_deploy("sklearn-iris", credentials=reader_key)
    with pytest.raises(ModelNotLoaded) as failure:
        model.wait_loaded(timeout=60)
    top = failure.value.findings[0]
    assert top.code == "QUOTA_EXCEEDED"
    assert "exceeded quota: tight" in " ".join(top.evidence), top.evidence
    assert top.fix.startswith(f"kubectl -n {kfs_namespace} describe resourcequota")
    assert failure.value.result.elapsed < 30, "a refusal ends the wait; no deadline needed"


def test_image_pull_failure(kfs_cluster, kfs_namespace, kfs_deploy, reader_key):
    kfs_cluster.custom.create_namespaced_custom_object(
        "serving.kserve.io",
        "v1alpha1",
        kfs_namespace,
        "servingruntimes",
        {
            "apiVersion": "serving.kserve.io/v1alpha1",
            "kind": "ServingRuntime",
            "metadata": {"name": "private-runtime"},
            "spec": {
                "supportedModelFormats": [{"name": "sklearn", "version": "1"}],
                "protocolVersions": ["v1"],
                "containers": [
                    {"name": "kserve-container", "image": "registry.example.com/private/sklearn:1"}
                ],
            },
        },
    )
    model = kfs_deploy(
        storage_uri=f"gs://{SAMPLE_BUCKET}/models/sklearn/1.0/model",
        model_format="sklearn",
        runtime="private-runtime",
        credentials=reader_key,
    )
    with pytest.raises(ModelNotLoaded) as failure:
        model.wait_loaded(timeout=60)
    top = failure.value.findings[0]
    assert top.code == "IMAGE_PULL_FAILED"
    assert "registry.example.com/private/sklearn:1" in " ".join(top.evidence)


def test_min_replicas_zero_is_served_by_one_pod_in_standard_mode(
    kfs_cluster, kfs_deploy, reader_key
):
    # Scale-to-zero is Knative's: in Standard mode KServe's own controller keeps a pod and the
    # status reads Loaded (v0.20.0 and v0.13.1 alike; see docs/kserve-statuses.md).
    model = kfs_deploy("sklearn-iris", credentials=reader_key, min_replicas=0)
    result = model.wait_loaded()
    assert result.verdict is Verdict.LOADED
    assert result.state.ready == "True"


def test_a_missing_key_secret_is_kserves_webhook_refusal(kfs_cluster, kfs_namespace, kfs_deploy):
    # Real KServe's pod webhook denies the pod when the service account names a secret that
    # does not exist (FailedCreate on the ReplicaSet); no pod is ever created.
    kfs_cluster.core.create_namespaced_service_account(
        kfs_namespace, {"metadata": {"name": "reader"}, "secrets": [{"name": "gone-key"}]}
    )
    model = kfs_deploy("sklearn-iris", service_account="reader")
    with pytest.raises(ModelNotLoaded) as failure:
        model.wait_loaded(timeout=60)
    top = failure.value.findings[0]
    assert top.code == "SECRET_MISSING", top.evidence
    assert "KServe's pod webhook refuses the predictor pods: secret gone-key" in top.cause
    assert (
        'admission webhook "inferenceservice.kserve-webhook-server.pod-mutator" denied the '
        'request: secrets "gone-key" not found'
    ) in top.evidence[0]
    assert failure.value.result.elapsed < 30


def test_a_host_name_kserve_refuses_ends_the_wait(kfs_cluster, kfs_namespace, kfs_deploy):
    # KServe builds `<name>-predictor-<namespace>` as one DNS label; over 63 characters its
    # controller refuses the model with an InternalError event ("invalid domain name"), which
    # no amount of waiting fixes. (kfs_deploy refuses such a name up front; this creates the
    # InferenceService directly, as other tools do.)
    from pytest_kfs.kserve import api
    from pytest_kfs.kserve.spec import ModelSpec
    from pytest_kfs.wait import wait_for_model

    name = "a-model-name-long-enough-to-overflow-the-label"
    kfs_cluster.custom.create_namespaced_custom_object(
        api.GROUP,
        api.VERSION,
        kfs_namespace,
        api.PLURAL,
        ModelSpec(name, sample="sklearn-iris").resolved().manifest(),
    )
    result = wait_for_model(kfs_cluster, kfs_namespace, name, timeout=60)
    assert result.verdict is Verdict.FAILED
    assert result.reason.startswith("InternalError: ")
    assert "invalid domain name" in result.reason and "must be no more than 63" in result.reason
    assert result.elapsed < 30
    with pytest.raises(DeployError, match=r"model name '[-a-z]+' is too long for namespace"):
        kfs_deploy("sklearn-iris", name=name + "-b")


def test_a_siblings_events_do_not_fail_a_healthy_model(
    kfs_cluster, kfs_namespace, kfs_deploy, reader_key
):
    # `model-v2` sorts after `model` and shares its prefix: its refusal event (a missing key
    # secret, KServe's webhook) must not end the wait of `model`, which loads.
    kfs_cluster.core.create_namespaced_service_account(
        kfs_namespace, {"metadata": {"name": "broken"}, "secrets": [{"name": "gone-key"}]}
    )
    broken = kfs_deploy("sklearn-iris", name="model-v2", service_account="broken")
    with pytest.raises(ModelNotLoaded):
        broken.wait_loaded(timeout=60)
    healthy = kfs_deploy("sklearn-iris", name="model", credentials=reader_key)
    assert healthy.wait_loaded().verdict is Verdict.LOADED


def test_a_second_key_for_the_same_account_replaces_the_first(kfs_deploy, reader_key, stranger_key):
    first = kfs_deploy(
        "sklearn-iris", storage_uri=PRIVATE_URI, service_account="shared", credentials=stranger_key
    )
    with pytest.raises(ModelNotLoaded):
        first.wait_loaded(timeout=60)
    second = kfs_deploy(
        "sklearn-iris",
        storage_uri=PRIVATE_URI,
        name="again",
        service_account="shared",
        credentials=reader_key,
    )
    assert second.wait_loaded(timeout=90).verdict is Verdict.LOADED


def test_a_diagnosis_out_of_time_says_what_it_did_not_read(
    kfs_cluster, kfs_namespace, kfs_deploy, stranger_key
):
    # wait_loaded keeps the last tenth of its deadline for the diagnosis; what it cannot read
    # by then is unknown, not empty. Here KServe's status alone still names the cause: it
    # carries the initializer's last words (lastFailureInfo).
    from pytest_kfs.diagnosis.evidence import collect

    model = kfs_deploy("sklearn-iris", storage_uri=PRIVATE_URI, credentials=stranger_key)
    model.wait(timeout=60)
    # The wait may end on the crashed initializer before KServe writes lastFailureInfo.
    eventually(
        lambda: model_status(kfs_cluster, kfs_namespace, "sklearn-iris").get("lastFailureInfo"),
        what="KServe's lastFailureInfo",
    )
    evidence = collect(kfs_cluster, kfs_namespace, "sklearn-iris", deadline=time.monotonic())
    assert {"pods", "logs", "events", "service account", "runtimes"} <= evidence.unread
    assert any("the deadline ran out during the diagnosis" in gap for gap in evidence.gaps)
    assert model.diagnose(deadline=time.monotonic())[0].code == "GCS_LIST_DENIED"


def test_the_sample_loads_with_no_credentials_as_in_kserves_docs(kfs_deploy):
    # KServe's docs deploy gs://kfserving-examples with no secret: the bucket is public, and
    # so is the embedded cluster's copy. KServe's initializer goes anonymous and is let in.
    model = kfs_deploy("sklearn-iris")
    assert model.wait_loaded(timeout=90).verdict is Verdict.LOADED
    assert model.manifest["spec"]["predictor"].get("serviceAccountName") is None
