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
               "test_deletion_removes_the_predictor_pods"]

INFERENCE = "test_the_model_answers_its_sample_correctly"
LIST, READ, PROBE = BUCKET[2], BUCKET[3], BUCKET[4]
NOT_LOADING = {*TRANSITIONS, INFERENCE}
GRANT = "--role=roles/storage.objectViewer"

# scenario -> (tests expected to fail, phrases the output must contain): every scenario of the
# embedded catalogue, each failure with its diagnosis.
EXPECTED = {
    "healthy": (set(), []),
    "workload-identity": (set(), []),
    "scale-to-zero": (set(), []),
    "gcs-permission-denied": (
        {LIST, PROBE, IAM[0], *NOT_LOADING},
        ["gcs-permission-denied@kfs-demo.iam.gserviceaccount.com cannot list "
         "gs://kfserving-examples/models/sklearn/1.0/model", "[GCS_LIST_DENIED]", GRANT]),
    "object-read-denied": (
        {READ, PROBE, IAM[0], *NOT_LOADING},
        ["[GCS_GET_DENIED]", "storage.objects.get access to the Google Cloud Storage object"]),
    "wrong-path": ({READ, PROBE, *TRANSITIONS}, ["[GCS_PATH_EMPTY]"]),
    "bucket-missing": ({LIST, PROBE, *IAM, *TRANSITIONS},
                       ["[GCS_BUCKET_MISSING]", "bucket gs://kfs-no-such-bucket does not exist"]),
    "anonymous-fallback": (
        {BUCKET[0], PROBE, *NOT_LOADING},
        ["has no key secret with gcloud-application-credentials.json",
         "[GCS_ANONYMOUS_FALLBACK]"]),
    "bad-key": ({BUCKET[1], PROBE, *NOT_LOADING},
                ["[GCS_KEY_INVALID]", "invalid_grant: Invalid JWT Signature"]),
    "broken-workload-identity": (
        {PROBE, *NOT_LOADING},
        ["[WORKLOAD_IDENTITY_BINDING_MISSING]", "roles/iam.workloadIdentityUser"]),
    "runtime-missing": ({*NOT_LOADING}, ["[RUNTIME_MISSING]"]),
    "corrupt-model": ({*TRANSITIONS}, ["[MODEL_LOAD_FAILED]"]),
}


def _failed(output: str) -> set[str]:
    return {line.split("::")[1].split("[")[0].split(" ")[0] for line in output.splitlines()
            if line.startswith(("FAILED ", "ERROR "))}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_suites_fail_exactly_the_right_tests(pytester, scenario):
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=local", f"--kfs-scenario={scenario}", SUITES, "-p", "no:cacheprovider",
        "-rfE", "--tb=short", timeout=400)
    output = result.stdout.str()
    failing, phrases = EXPECTED[scenario]
    failed = _failed(output)
    assert failed == failing, (f"unexpected failures: {sorted(failed - failing)}; expected but "
                               f"passed: {sorted(failing - failed)}\n{output[-2000:]}")
    for phrase in phrases:
        assert phrase in output
    assert "BEGIN PRIVATE KEY" not in output
    assert "private_key" not in output


def test_two_workers_give_the_same_results(pytester):
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=local", "--kfs-scenario=object-read-denied", SUITES, "-n", "2",
        "-p", "xdist", "-p", "no:cacheprovider", "-rfE", "--tb=short", timeout=400)
    assert _failed(result.stdout.str()) == EXPECTED["object-read-denied"][0]
