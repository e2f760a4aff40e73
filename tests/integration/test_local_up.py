"""The embedded cluster (KServe's own manager) used as a plain live cluster: the shipped suites
run against it through `--kfs-cluster=<context>` only, as users run them against theirs."""

import base64
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# One worker runs the module, so the tests that share a `local up` find it running.
pytestmark = pytest.mark.xdist_group("local-up")
SUITES = str(Path(__file__).resolve().parents[2] / "suites")
LIST = "test_the_serving_identity_can_list_the_model_prefix"
PROBE = "test_an_in_cluster_probe_lists_then_reads_as_the_initializer"
LOADING = {
    "test_the_model_answers_its_sample_correctly",
    "test_a_fresh_deploy_passes_the_documented_states_to_loaded",
    "test_an_update_keeps_the_active_model_loaded_until_the_new_one_is",
    "test_an_update_to_an_unreadable_path_blocks_but_keeps_serving",
    "test_deletion_removes_the_predictor_pods",
}
POLICY = "test_the_bucket_policy_grants_the_serving_principal_read"
# scenario -> (failing tests, passed, failed, skipped): inference runs over v1 and v2;
# --kfs-existing's two tests skip; the seed also skips the read check (nothing listed to
# read). The IAM suite reads the bucket policy with the operator's own credentials (ADC).
EXPECTED = {
    "healthy": (set(), 18, 0, 2),
    "gcs-permission-denied": ({LIST, PROBE, POLICY, *LOADING}, 8, 9, 3),
}


@pytest.fixture(scope="module")
def live(request):
    """`python -m pytest_kfs.local up --scenario=...` running; its NAME=value lines. One per
    scenario for the module: the tests that use `healthy` share it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_kfs.local", "up", f"--scenario={request.param}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: dict[str, str] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line or line.startswith("# run the suites"):
            break
        if "=" in line and not line.startswith("#"):
            name, _, value = line.strip().partition("=")
            lines[name] = value
    assert {"KFS_SERVING_KEY", "GOOGLE_APPLICATION_CREDENTIALS"} <= set(lines), (
        process.stderr.read() if process.poll() else lines
    )
    yield request.param, lines
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert not Path(lines["KFS_KUBECONFIG"]).exists(), "the cluster left its directory behind"


def _run_suites(pytester, lines, monkeypatch, *identity):
    monkeypatch.setenv("KFS_GCS_ENDPOINT", lines["KFS_GCS_ENDPOINT"])
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", lines["GOOGLE_APPLICATION_CREDENTIALS"])
    return pytester.runpytest_subprocess(
        f"--kfs-cluster={lines['KFS_CONTEXT']}",
        f"--kfs-kubeconfig={lines['KFS_KUBECONFIG']}",
        *identity,
        f"--kfs-models={lines['KFS_MODELS']}",
        f"--kfs-ingress={lines['KFS_INGRESS']}",
        SUITES,
        "-p",
        "no:cacheprovider",
        "-rfE",
        "--tb=short",
        timeout=400,
    )


@pytest.mark.parametrize("live", sorted(EXPECTED), indirect=True)
def test_the_shipped_suites_run_against_it_as_a_live_context(pytester, live, monkeypatch):
    scenario, lines = live
    result = _run_suites(
        pytester, lines, monkeypatch, f"--kfs-serving-key={lines['KFS_SERVING_KEY']}"
    )
    output = result.stdout.str()
    failed = {
        line.split("::")[1].split("[")[0]
        for line in output.splitlines()
        if line.startswith(("FAILED ", "ERROR "))
    }
    expected_failures, passed, failed_count, skipped = EXPECTED[scenario]
    assert failed == expected_failures, output[-3000:]
    result.assert_outcomes(passed=passed, failed=failed_count, skipped=skipped)
    assert "KServe CRDs installed" in output  # a live context: no knowledge of the embedding
    if scenario == "gcs-permission-denied":
        principal = "gcs-permission-denied@kfs-demo.iam.gserviceaccount.com"
        assert f"[GCS_LIST_DENIED] {principal} cannot list gs://kfs-demo-models" in output
        assert (
            "gcloud storage buckets add-iam-policy-binding gs://kfs-demo-models "
            f"--member=serviceAccount:{principal} --role=roles/storage.objectViewer"
        ) in output


@pytest.mark.parametrize("live", ["healthy"], indirect=True)
def test_a_serving_account_is_copied_into_each_test_namespace(pytester, live, monkeypatch):
    # The platform team's service account and key secret live in a namespace of theirs; each
    # test namespace gets a copy (secrets and annotations), and the source is left alone.
    from pytest_kfs.kube.cluster import connect_context

    _, lines = live
    cluster = connect_context(lines["KFS_CONTEXT"], Path(lines["KFS_KUBECONFIG"]))
    cluster.core.create_namespace({"metadata": {"name": "serving-src"}})
    key = Path(lines["KFS_SERVING_KEY"]).read_bytes()
    cluster.core.create_namespaced_secret(
        "serving-src",
        {
            "metadata": {"name": "reader-key"},
            "type": "Opaque",
            "data": {"gcloud-application-credentials.json": base64.b64encode(key).decode()},
        },
    )
    cluster.core.create_namespaced_service_account(
        "serving-src",
        {
            "metadata": {"name": "reader", "annotations": {"team": "ml"}},
            "secrets": [{"name": "reader-key"}],
        },
    )
    result = _run_suites(pytester, lines, monkeypatch, "--kfs-serving-account=serving-src/reader")
    result.assert_outcomes(passed=18, skipped=2)
    assert cluster.core.read_namespace("serving-src").status.phase == "Active"
    assert cluster.core.read_namespaced_secret("reader-key", "serving-src").data
