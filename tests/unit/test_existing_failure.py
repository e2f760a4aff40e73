"""A stuck existing model's failure leads with its answer, as every other check's does."""

from pytest_kfs.diagnosis.codes import Code
from pytest_kfs.diagnosis.finding import Finding
from pytest_kfs.existing import ExistingCheck
from pytest_kfs.kserve.status import ModelState, Verdict

# The seed's status shape (docs/kserve-statuses.md), trimmed to the fields the state reads.
SEED = {
    "metadata": {"namespace": "team-a", "name": "iris", "generation": 2},
    "status": {
        "observedGeneration": 2,
        "conditions": [{"type": "Ready", "status": "True"}],
        "modelStatus": {
            "states": {"activeModelState": "Loaded", "targetModelState": "Pending"},
            "transitionStatus": "InProgress",
        },
    },
}


FIX = "gcloud storage buckets add-iam-policy-binding gs://models --role=roles/storage.objectViewer"


def test_the_first_line_is_the_answer_then_the_state_and_findings():
    finding = Finding(
        Code.GCS_LIST_DENIED,
        "reader@p.iam.gserviceaccount.com cannot list gs://models/iris",
        ("storage-initializer: 403 ... storage.objects.list ...",),
        FIX,
    )
    check = ExistingCheck("team-a", "iris", ModelState.from_isvc(SEED), Verdict.FAILED, [finding])
    lines = check.failure().splitlines()
    assert lines[0] == (
        "GCS_LIST_DENIED: reader@p.iam.gserviceaccount.com cannot list gs://models/iris "
        f"— fix: {FIX}"
    )
    assert lines[1] == (
        "InferenceService team-a/iris is not Loaded (Active Loaded / Target Pending / "
        "InProgress, Ready=True)"
    )
    assert "Findings (most likely first):" in lines
