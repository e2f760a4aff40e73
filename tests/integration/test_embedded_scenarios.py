"""Every rehearsal scenario through the real flow: IAM, the storage-initializer, KServe's rules."""

import contextlib
import time

import pytest
from kubernetes import client

from pytest_kfs import inferenceservice as isvc
from pytest_kfs.local.assets import initializer_python
from pytest_kfs.local.scenarios import SAMPLE_BUCKET, SCENARIOS

from .helpers import (
    eventually,
    initializer_log,
    model_status,
    ready_condition,
    wait_default_service_account,
)

FAILED = ("BlockedByFailedLoad", "InvalidSpec")

# What the storage-initializer log must say for each broken scenario: Google's own words.
EXPECTED_LOG = {
    "gcs-permission-denied": [
        "gcs-permission-denied@kfs-demo.iam.gserviceaccount.com does not have "
        "storage.objects.list access to the Google Cloud Storage bucket. Permission "
        "'storage.objects.list' denied on resource",
        f"Access denied to GCS resource '{SAMPLE_BUCKET}'. Verify permissions."],
    "object-read-denied": [
        "object-read-denied@kfs-demo.iam.gserviceaccount.com does not have "
        "storage.objects.get access to the Google Cloud Storage object"],
    # Nothing under the prefix: KServe then tries the path as a single object, which 404s.
    "wrong-path": ["No such object: kfserving-examples/models/sklearn/9.9/model",
                   "GCS resource 'kfserving-examples' not found."],
    "bucket-missing": ["The specified bucket does not exist.",
                       "GCS resource 'kfs-no-such-bucket' not found."],
    "anonymous-fallback": ["Anonymous credentials cannot be refreshed",
                           "GCS authentication failed"],
    "bad-key": ["invalid_grant: Invalid JWT Signature."],
    "broken-workload-identity": ["iam.serviceAccounts.getAccessToken",
                                 "missing IAM policy binding on the target IAM service account"],
}


def deploy(kfs_cluster, kfs_gcp, scenario_name: str, namespace: str) -> str:
    scenario = SCENARIOS[scenario_name]
    kfs_cluster.core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    wait_default_service_account(kfs_cluster, namespace)
    plan = scenario.arrange_namespace(kfs_cluster.core, namespace, kfs_gcp)
    body = isvc.manifest("model", model_format=plan.model_format, storage_uri=plan.storage_uri,
                         runtime=plan.runtime, service_account=plan.service_account,
                         min_replicas=plan.min_replicas)
    kfs_cluster.custom.create_namespaced_custom_object(isvc.GROUP, isvc.VERSION, namespace,
                                                       isvc.PLURAL, body)
    return "model"


@pytest.fixture
def namespace(kfs_cluster, request):
    test_id = request.node.callspec.id if hasattr(request.node, "callspec") else \
        request.node.name.removeprefix("test_")
    name = ("sc-" + test_id).replace("_", "-")[:50].rstrip("-")
    yield name
    kfs_cluster.core.delete_namespace(name)


@pytest.mark.parametrize("scenario_name", ["healthy", "workload-identity"])
def test_loaded_scenarios_reach_loaded(kfs_cluster, kfs_gcp, namespace, scenario_name):
    started = time.monotonic()
    name = deploy(kfs_cluster, kfs_gcp, scenario_name, namespace)
    status = eventually(lambda: (s := model_status(kfs_cluster, namespace, name)).get(
        "transitionStatus") == "UpToDate" and s, what="Loaded", timeout=30)
    elapsed = time.monotonic() - started
    assert status["states"] == {"activeModelState": "Loaded", "targetModelState": "Loaded"}
    assert status["copies"] == {"failedCopies": 0, "totalCopies": 1}
    assert ready_condition(kfs_cluster, namespace, name) == "True"
    assert elapsed < 30
    log = initializer_log(kfs_cluster, namespace, name)
    assert "Successfully copied gs://kfserving-examples/models/sklearn/1.0/model" in log or \
        "Downloading" in log


@pytest.mark.parametrize("scenario_name", sorted(EXPECTED_LOG))
def test_broken_scenarios_fail_with_googles_words(kfs_cluster, kfs_gcp, namespace,
                                                  scenario_name):
    name = deploy(kfs_cluster, kfs_gcp, scenario_name, namespace)
    status = eventually(lambda: (s := model_status(kfs_cluster, namespace, name)).get(
        "transitionStatus") in FAILED and s, what="FailedToLoad", timeout=30)
    assert status["transitionStatus"] == "BlockedByFailedLoad"
    assert status["states"]["targetModelState"] == "FailedToLoad"
    assert status["lastFailureInfo"]["reason"] == "ModelLoadFailed"
    assert status["lastFailureInfo"]["exitCode"] == 1
    assert status["lastFailureInfo"]["location"].startswith("model-predictor-00001-")
    # The initializer restarts with back-off: a fresh attempt's log may not have failed yet.
    seen = {"log": ""}

    def failed_log() -> str:
        seen["log"] = initializer_log(kfs_cluster, namespace, name)
        return seen["log"] if EXPECTED_LOG[scenario_name][0] in seen["log"] else ""
    with contextlib.suppress(AssertionError):  # the asserts below show what the log said
        eventually(failed_log, what="the failure in the initializer log")
    log = seen["log"]
    for expected in EXPECTED_LOG[scenario_name]:
        assert expected in log, log
    if initializer_python().endswith("/bin/python") and "storage-initializer-" in \
            initializer_python():
        assert "kserve_storage.py" in log  # KServe's own downloader ran


def test_seed_failure_restarts_with_back_off(kfs_cluster, kfs_gcp, namespace):
    name = deploy(kfs_cluster, kfs_gcp, "gcs-permission-denied", namespace)

    def crash_looping():
        pods = kfs_cluster.core.list_namespaced_pod(namespace).items
        statuses = pods[0].status.init_container_statuses if pods else None
        waiting = statuses and statuses[0].state.waiting
        return waiting and waiting.reason == "CrashLoopBackOff" and statuses[0]

    status = eventually(crash_looping, what="CrashLoopBackOff")
    assert status.restart_count >= 1
    assert status.last_state.terminated.exit_code == 1
    events = kfs_cluster.core.list_namespaced_event(namespace).items
    reasons = {(event.reason, event.type) for event in events}
    assert ("BackOff", "Warning") in reasons
    assert ("Scheduled", "Normal") in reasons
    assert model_status(kfs_cluster, namespace, name)["states"]["activeModelState"] == "Pending"


def test_missing_runtime_is_an_invalid_spec(kfs_cluster, kfs_gcp, namespace):
    name = deploy(kfs_cluster, kfs_gcp, "runtime-missing", namespace)
    status = eventually(lambda: (s := model_status(kfs_cluster, namespace, name)).get(
        "transitionStatus") == "InvalidSpec" and s, what="InvalidSpec")
    assert status["lastFailureInfo"]["reason"] == "RuntimeNotRecognized"
    assert status["states"]["targetModelState"] == "FailedToLoad"
    assert not kfs_cluster.core.list_namespaced_pod(namespace).items


def test_scale_to_zero_reads_pending_while_ready(kfs_cluster, kfs_gcp, namespace):
    name = deploy(kfs_cluster, kfs_gcp, "scale-to-zero", namespace)
    eventually(lambda: model_status(kfs_cluster, namespace, name).get("transitionStatus")
               == "UpToDate", what="Loaded first")
    status = eventually(lambda: not kfs_cluster.core.list_namespaced_pod(namespace).items and (
        s := model_status(kfs_cluster, namespace, name)).get("transitionStatus") ==
        "InProgress" and s, what="scaled to zero", timeout=30)
    # kserve/kserve#6079: Loaded / Pending / InProgress on a healthy, Ready service.
    assert status["states"] == {"activeModelState": "Loaded", "targetModelState": "Pending"}
    assert ready_condition(kfs_cluster, namespace, name) == "True"


def test_rollout_keeps_serving_while_new_revision_fails(kfs_cluster, kfs_gcp, namespace):
    name = deploy(kfs_cluster, kfs_gcp, "healthy", namespace)
    eventually(lambda: model_status(kfs_cluster, namespace, name).get("transitionStatus")
               == "UpToDate", what="first revision Loaded")
    kfs_cluster.custom.patch_namespaced_custom_object(
        isvc.GROUP, isvc.VERSION, namespace, isvc.PLURAL, name,
        {"spec": {"predictor": {"model": {"storageUri": "gs://kfserving-examples/nowhere"}}}})
    status = eventually(lambda: (s := model_status(kfs_cluster, namespace, name)).get(
        "transitionStatus") == "BlockedByFailedLoad" and s, what="new revision failed")
    assert status["states"] == {"activeModelState": "Loaded", "targetModelState": "FailedToLoad"}
    assert status["lastFailureInfo"]["modelRevisionName"] == "model-predictor-00002"
    revisions = {pod.metadata.labels["serving.knative.dev/revision"]
                 for pod in kfs_cluster.core.list_namespaced_pod(namespace).items}
    assert revisions == {"model-predictor-00001", "model-predictor-00002"}
    # Fix the path: the new revision loads, becomes active, and the old pod goes.
    kfs_cluster.custom.patch_namespaced_custom_object(
        isvc.GROUP, isvc.VERSION, namespace, isvc.PLURAL, name,
        {"spec": {"predictor": {"model": {"storageUri":
                                          "gs://kfserving-examples/models/sklearn/1.0/model"}}}})
    eventually(lambda: model_status(kfs_cluster, namespace, name).get("transitionStatus")
               == "UpToDate", what="third revision Loaded")
    eventually(lambda: {pod.metadata.labels["serving.knative.dev/revision"] for pod in
                        kfs_cluster.core.list_namespaced_pod(namespace).items
                        if not pod.metadata.deletion_timestamp} == {"model-predictor-00003"},
               what="old revisions removed")
