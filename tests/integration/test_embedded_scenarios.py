"""Every rehearsal scenario on KServe's own manager, per supported release: IAM, KServe's own
storage-initializer code, KServe's own status. What each release writes differs (see
docs/kserve-statuses.md); the tests assert each release's own behaviour, never ours."""

import contextlib

import pytest
from kubernetes import client

from pytest_kfs.kserve import api
from pytest_kfs.kserve import manifests as isvc
from pytest_kfs.kube.cluster import connect_context
from pytest_kfs.local.embedded import start_embedded
from pytest_kfs.local.gcp.admin import GcpAdmin
from pytest_kfs.local.kserve.releases import RELEASES
from pytest_kfs.local.scenarios import PRIVATE_BUCKET, PRIVATE_URI, SCENARIOS

from .helpers import (
    eventually,
    get_isvc,
    initializer_log,
    model_status,
    ready_condition,
    wait_default_service_account,
)

pytestmark = pytest.mark.xdist_group("kserve-releases")

# What the storage-initializer log must say for each broken scenario: Google's own words.
EXPECTED_LOG = {
    "gcs-permission-denied": [
        "gcs-permission-denied@kfs-demo.iam.gserviceaccount.com does not have "
        "storage.objects.list access to the Google Cloud Storage bucket. Permission "
        "'storage.objects.list' denied on resource"
    ],
    "object-read-denied": [
        "object-read-denied@kfs-demo.iam.gserviceaccount.com does not have "
        "storage.objects.get access to the Google Cloud Storage object"
    ],
    # Nothing under the prefix: v0.20.0 tries the path as one object (404); v0.13.1 gives up.
    "wrong-path": {
        "v0.20.0": ["No such object: kfs-demo-models/models/sklearn/9.9/model"],
        "v0.13.1": ["No model found in gs://kfs-demo-models/models/sklearn/9.9/model"],
    },
    "bucket-missing": ["The specified bucket does not exist."],
    "anonymous-fallback": ["Anonymous credentials cannot be refreshed"],
    "bad-key": ["invalid_grant: Invalid JWT Signature."],
    "broken-workload-identity": [
        "iam.serviceAccounts.getAccessToken",
        "missing IAM policy binding on the target IAM service account",
    ],
}
# The module of KServe's own downloader that must appear in its traceback, per release.
DOWNLOADER = {"v0.20.0": "kserve_storage", "v0.13.1": "kserve/storage/storage.py"}


@pytest.fixture(scope="module", params=sorted(RELEASES))
def release_cluster(request):
    """An embedded cluster running one release's own manager, its local GCP admin."""
    with start_embedded(kserve_version=request.param) as embedded:
        yield (
            request.param,
            connect_context(embedded.context, embedded.kubeconfig),
            GcpAdmin(embedded.gcp),
        )


@pytest.fixture
def deploy(release_cluster, request):
    """deploy(scenario) -> namespace: the scenario arranged and its model created."""
    _, cluster, gcp = release_cluster
    created = []

    def deploy(scenario_name: str) -> str:
        namespace = f"sc-{len(created)}-{request.node.name[-20:]}".lower()
        namespace = "".join(c if c.isalnum() else "-" for c in namespace).strip("-")[:40]
        cluster.core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
        )
        created.append(namespace)
        wait_default_service_account(cluster, namespace)
        plan = SCENARIOS[scenario_name].arrange_namespace(cluster.core, namespace, gcp)
        cluster.custom.create_namespaced_custom_object(
            api.GROUP,
            api.VERSION,
            namespace,
            api.PLURAL,
            isvc.manifest(
                "model",
                model_format=plan.model_format,
                storage_uri=plan.storage_uri,
                runtime=plan.runtime,
                service_account=plan.service_account,
                min_replicas=plan.min_replicas,
            ),
        )
        return namespace

    yield deploy
    for namespace in created:
        with contextlib.suppress(client.ApiException):
            cluster.core.delete_namespace(namespace)


def _loaded(cluster, namespace):
    status = model_status(cluster, namespace, "model")
    return status if status.get("transitionStatus") == "UpToDate" else None


@pytest.mark.parametrize("scenario_name", ["healthy", "workload-identity"])
def test_loaded_scenarios_reach_loaded(release_cluster, deploy, scenario_name):
    _, cluster, _ = release_cluster
    namespace = deploy(scenario_name)
    status = eventually(lambda: _loaded(cluster, namespace), what="Loaded", timeout=90)
    assert status["states"] == {"activeModelState": "Loaded", "targetModelState": "Loaded"}
    assert status["copies"]["totalCopies"] == 1
    assert ready_condition(cluster, namespace, "model") == "True"
    stored = get_isvc(cluster, namespace, "model")
    # Standard mode on both: a Deployment, and the default ingress domain in status.url.
    assert stored["status"]["url"] == f"http://model-{namespace}.example.com"
    deployment = client.AppsV1Api(cluster.api_client).read_namespaced_deployment(
        "model-predictor", namespace
    )
    assert deployment.status.ready_replicas == 1
    log = initializer_log(cluster, namespace, "model")
    assert "model.joblib" in log, log


@pytest.mark.parametrize("scenario_name", sorted(EXPECTED_LOG))
def test_broken_scenarios_fail_in_kserves_initializer_with_googles_words(
    release_cluster, deploy, scenario_name
):
    version, cluster, _ = release_cluster
    namespace = deploy(scenario_name)
    expected_lines = EXPECTED_LOG[scenario_name]
    if isinstance(expected_lines, dict):
        expected_lines = expected_lines[version]
    seen = {"log": ""}

    def failed_log() -> str:
        seen["log"] = initializer_log(cluster, namespace, "model")
        return seen["log"] if expected_lines[0] in seen["log"] else ""

    with contextlib.suppress(AssertionError):  # the asserts below show what the log said
        eventually(failed_log, what="the failure in the initializer log", timeout=60)
    log = seen["log"]
    for expected in expected_lines:
        assert expected in log, log
    assert DOWNLOADER[version] in log, "KServe's own downloader must have run"
    # Nothing ever loaded. v0.13.1 may not have written any states yet (or at all, for a
    # crash-looping initializer): no states is no loaded model either.
    states = model_status(cluster, namespace, "model").get("states") or {}
    assert states.get("activeModelState", "") == ""
    assert states.get("targetModelState") != "Loaded"
    if version == "v0.20.0":  # it watches init containers: the failure reaches the status
        status = eventually(
            lambda: (
                (s := model_status(cluster, namespace, "model")).get("transitionStatus")
                == "BlockedByFailedLoad"
                and s
            ),
            what="BlockedByFailedLoad",
        )
        failure = status["lastFailureInfo"]
        assert (failure["reason"], failure["exitCode"]) == ("ModelLoadFailed", 1)
        assert expected_lines[-1].split(". ")[0] in failure["message"]


def test_the_seed_failure_crash_loops_with_back_off(release_cluster, deploy):
    _, cluster, _ = release_cluster
    namespace = deploy("gcs-permission-denied")

    def crash_looping():
        pods = cluster.core.list_namespaced_pod(namespace).items
        statuses = pods[0].status.init_container_statuses if pods else None
        waiting = statuses and statuses[0].state.waiting
        return waiting and waiting.reason == "CrashLoopBackOff" and statuses[0]

    status = eventually(crash_looping, what="CrashLoopBackOff", timeout=60)
    assert status.restart_count >= 1
    assert status.last_state.terminated.exit_code == 1
    reasons = {
        (event.reason, event.type) for event in cluster.core.list_namespaced_event(namespace).items
    }
    assert ("BackOff", "Warning") in reasons
    assert ("ScalingReplicaSet", "Normal") in reasons  # the Deployment controller's own


def test_a_runtime_that_is_not_installed_is_an_invalid_spec(release_cluster, deploy):
    _, cluster, _ = release_cluster
    namespace = deploy("runtime-missing")
    status = eventually(
        lambda: (
            (s := model_status(cluster, namespace, "model")).get("transitionStatus")
            == "InvalidSpec"
            and s
        ),
        what="InvalidSpec",
    )
    assert status["lastFailureInfo"]["reason"] == "RuntimeNotRecognized"
    assert status["states"]["targetModelState"] == "FailedToLoad"
    assert not cluster.core.list_namespaced_pod(namespace).items


def test_a_missing_key_secret_is_refused_by_kserves_pod_webhook(release_cluster, deploy):
    _, cluster, _ = release_cluster
    namespace = deploy("healthy")
    eventually(lambda: _loaded(cluster, namespace), what="Loaded", timeout=90)
    cluster.core.delete_namespaced_secret("kserve-gcs-key", namespace)
    cluster.custom.patch_namespaced_custom_object(
        api.GROUP,
        api.VERSION,
        namespace,
        api.PLURAL,
        "model",
        {"spec": {"predictor": {"model": {"storageUri": PRIVATE_URI + "/"}}}},
    )

    def refused():
        return [
            event.message
            for event in cluster.core.list_namespaced_event(namespace).items
            if event.reason == "FailedCreate" and "denied the request" in event.message
        ]

    messages = eventually(refused, what="FailedCreate from the webhook", timeout=60)
    assert 'secrets "kserve-gcs-key" not found' in messages[0]
    assert "pod-mutator" in messages[0] or "kserve-webhook-server" in messages[0]


def test_a_failed_update_keeps_the_old_pod_serving(release_cluster, deploy):
    version, cluster, _ = release_cluster
    namespace = deploy("healthy")
    eventually(lambda: _loaded(cluster, namespace), what="Loaded", timeout=90)
    cluster.custom.patch_namespaced_custom_object(
        api.GROUP,
        api.VERSION,
        namespace,
        api.PLURAL,
        "model",
        {"spec": {"predictor": {"model": {"storageUri": f"gs://{PRIVATE_BUCKET}/nowhere"}}}},
    )
    eventually(
        lambda: "RuntimeError" in initializer_log(cluster, namespace, "model"),
        what="the new pod's initializer failure",
        timeout=60,
    )
    assert f"gs://{PRIVATE_BUCKET}/nowhere" in initializer_log(cluster, namespace, "model")
    pods = cluster.core.list_namespaced_pod(namespace).items
    assert len({pod.metadata.labels["pod-template-hash"] for pod in pods}) == 2
    status = model_status(cluster, namespace, "model")
    assert status["states"]["activeModelState"] == "Loaded"
    assert ready_condition(cluster, namespace, "model") == "True"
    if version == "v0.20.0":
        eventually(
            lambda: (
                model_status(cluster, namespace, "model").get("transitionStatus")
                == "BlockedByFailedLoad"
            ),
            what="BlockedByFailedLoad",
        )
