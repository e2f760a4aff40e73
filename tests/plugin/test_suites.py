"""The conformance suites through real pytest against the embedded cluster, per scenario."""

from pathlib import Path

import pytest

SUITES = str(Path(__file__).resolve().parents[2] / "suites")

BUCKET = [
    "test_the_serving_identity_has_google_credentials",
    "test_the_key_secret_is_usable",
    "test_the_serving_identity_can_list_the_model_prefix",
    "test_the_serving_identity_can_read_the_model",
    "test_an_in_cluster_probe_lists_then_reads_as_the_initializer",
]
IAM = ["test_the_bucket_policy_grants_the_serving_principal_read",
       "test_the_serving_principal_holds_no_broader_role_than_needed"]
TRANSITIONS = ["test_a_fresh_deploy_passes_the_documented_states_to_loaded",
               "test_an_update_keeps_the_active_model_loaded_until_the_new_one_is",
               "test_an_update_to_an_unreadable_path_blocks_but_keeps_serving",
               "test_deletion_removes_the_predictor_pods",
               "test_the_model_answers_its_sample_correctly"]

# scenario -> (tests expected to fail, expected phrases in the output)
EXPECTED = {
    "healthy": (set(), []),
    "gcs-permission-denied": (
        {BUCKET[2], BUCKET[4], IAM[0], *TRANSITIONS},
        ["gcs-permission-denied@kfs-demo.iam.gserviceaccount.com cannot list "
         "gs://kfserving-examples/models/sklearn/1.0/model",
         "[GCS_LIST_DENIED]",
         "--role=roles/storage.objectViewer"]),
    "anonymous-fallback": (
        {BUCKET[0], BUCKET[4], *TRANSITIONS},
        ["has no key secret with gcloud-application-credentials.json",
         "[GCS_ANONYMOUS_FALLBACK]"]),
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_suites_fail_exactly_the_right_tests(pytester, scenario):
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=local", f"--kfs-scenario={scenario}", SUITES, "-p", "no:cacheprovider",
        "-rfE", "--tb=short", timeout=400)
    output = result.stdout.str()
    failing, phrases = EXPECTED[scenario]
    failed = {line.split("::")[1].split("[")[0] for line in output.splitlines()
              if line.startswith(("FAILED ", "ERROR "))}
    assert failed == failing, output[-3000:]
    for phrase in phrases:
        assert phrase in output
    assert "BEGIN PRIVATE KEY" not in output
    assert "private_key" not in output
