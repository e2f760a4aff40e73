"""kfs_model and friends as users run them: real pytest, the embedded cluster, a scenario."""

import re

TEST_MODEL = """
def test_model_serves(kfs_model):
    assert kfs_model.status.active == "Loaded"
"""


def test_seed_scenario_fails_fast_with_principal_permission_bucket_and_fix(pytester):
    pytester.makepyfile(TEST_MODEL)
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=local",
        "--kfs-scenario=gcs-permission-denied",
        "--kfs-timeout=300",
        "-v",
        "-p",
        "no:cacheprovider",
        timeout=240,
    )
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    took = float(re.search(r"failed to load after ([\d.]+)s", output)[1])
    assert took < 30, "the verdict must come from the state, not the 300s deadline"
    principal = "gcs-permission-denied@kfs-demo.iam.gserviceaccount.com"
    # The answer comes first: the failure's first line is the cause, the principal and the fix.
    first = output.split("ERROR at setup of test_model_serves")[1].splitlines()[1]
    assert first.startswith(
        f"GCS_LIST_DENIED: {principal} cannot list gs://kfs-demo-models/models/sklearn/1.0/model: "
    )
    assert first.endswith(
        f" — fix: gcloud storage buckets add-iam-policy-binding "
        f"gs://kfs-demo-models --member=serviceAccount:{principal} "
        "--role=roles/storage.objectViewer"
    )
    assert f"[GCS_LIST_DENIED] {principal} cannot list gs://kfs-demo-models" in output
    assert "Permission 'storage.objects.list' denied" in output
    assert (
        f"fix:      gcloud storage buckets add-iam-policy-binding gs://kfs-demo-models "
        f"--member=serviceAccount:{principal} --role=roles/storage.objectViewer"
    ) in output
    # Progress is visible while waiting (-v), and the block is not a dict dump. KServe may
    # write FailedToLoad before the initializer's Error reaches the pod's status, so the
    # progress line names the initializer in whatever state it had reached.
    assert re.search(
        r"kfs kfs-\w+-test-model-serves-\w+/model \+[\d.]+s pod: .*"
        r"storage-initializer=\w+",
        output,
    )
    assert "{'" not in output.split("Timeline:")[1]
    assert "Traceback" not in output


def test_scale_to_zero_scenario_passes(pytester):
    pytester.makepyfile(TEST_MODEL)
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=local", "--kfs-scenario=scale-to-zero", "-p", "no:cacheprovider", timeout=240
    )
    result.assert_outcomes(passed=1)


MARKER_AND_KEEP = """
import pytest
from pytest_kfs.local.scenarios import SCENARIOS

@pytest.fixture
def healthy_account(kfs_cluster, kfs_namespace, kfs_gcp):
    return SCENARIOS["healthy"].arrange_namespace(kfs_cluster.core, kfs_namespace, kfs_gcp)

@pytest.mark.kfs(sample="sklearn-iris-v2", service_account="kserve-serving")
def test_marker_model(healthy_account, kfs_model, kfs_namespace):
    assert kfs_model.manifest["spec"]["predictor"]["model"]["protocolVersion"] == "v2"
    print("KEPT-NAMESPACE", kfs_namespace)

def test_failing_keeps_namespace(kfs_namespace):
    print("FAILED-NAMESPACE", kfs_namespace)
    assert False, "on purpose"

@pytest.mark.kfs("no-such-sample")
def test_unknown_sample(kfs_model):
    pass
"""


def test_marker_keep_on_failure_and_unknown_sample(pytester):
    pytester.makepyfile(test_marker=MARKER_AND_KEEP)
    pytester.makeconftest("""
import pytest
from kubernetes.client.rest import ApiException

STATE = {}

@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    from pytest_kfs.plugin.stash import RUN_CLUSTER
    cluster = session.config.stash[RUN_CLUSTER].cluster
    for ns in cluster.core.list_namespace(label_selector="pytest-kfs/run-id").items:
        deleting = bool(ns.metadata.deletion_timestamp)
        print("NAMESPACE-STATE", ns.metadata.name, "deleting" if deleting else "kept")
""")
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=local", "--kfs-keep=on-failure", "-s", "-p", "no:cacheprovider", timeout=240
    )
    result.assert_outcomes(passed=1, failed=1, errors=1)
    output = result.stdout.str()
    kept = re.search(r"FAILED-NAMESPACE (\S+)", output)[1]
    passed = re.search(r"KEPT-NAMESPACE (\S+)", output)[1]
    assert f"NAMESPACE-STATE {kept} kept" in output
    assert (
        f"NAMESPACE-STATE {passed} deleting" in output
        or passed not in output.split("NAMESPACE-STATE")[-1]
    )
    assert "pytest-kfs: cannot deploy: unknown sample 'no-such-sample'" in output


def test_preflight_fails_before_deploying(pytester):
    pytester.makepyfile(TEST_MODEL)
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=local",
        "--kfs-scenario=gcs-permission-denied",
        "--kfs-preflight",
        "-p",
        "no:cacheprovider",
        timeout=240,
    )
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert "pytest-kfs preflight:" in output
    assert "fails: GCS_LIST_DENIED" in output
    assert "not deployed" in output
    assert "Timeline:" not in output  # nothing was deployed, so nothing was watched
