"""status.py on real snapshots: the verdict never mistakes scale-to-zero for a stuck model."""

import pytest

from pytest_kfs.kserve.status import ModelState, Verdict, scaled_to_zero, verdict

from .snapshots import ISSUE_3798, ISSUE_6079, LOADED, failed_to_load, isvc, ready


def test_loaded_is_final_and_healthy():
    state = ModelState.from_isvc(isvc(LOADED, ready()))
    assert verdict(state) is Verdict.LOADED
    assert state.summary() == "Active Loaded / Target Loaded / UpToDate, Ready=True"
    assert state.total_copies == 1


def test_failed_to_load_is_final():
    state = ModelState.from_isvc(isvc(failed_to_load("Access denied"), ready("False")))
    assert verdict(state) is Verdict.FAILED
    assert state.failure.reason == "ModelLoadFailed"
    assert state.failure.exit_code == 1


def test_invalid_spec_is_final():
    status = failed_to_load("Waiting for runtime to become available", "RuntimeNotRecognized")
    status["transitionStatus"] = "InvalidSpec"
    assert verdict(ModelState.from_isvc(isvc(status))) is Verdict.FAILED


def test_issue_6079_scaled_to_zero_is_healthy_not_stuck():
    state = ModelState.from_isvc(isvc(ISSUE_6079, ready(), min_replicas=0))
    assert scaled_to_zero(state)
    assert verdict(state) is Verdict.SCALED_TO_ZERO
    assert verdict(state).healthy


def test_issue_3798_same_values_with_pods_is_still_waiting():
    # Ready and Loaded / Pending / InProgress, but a new revision's pod exists: not idle.
    state = ModelState.from_isvc(isvc(ISSUE_3798, ready()))
    assert verdict(state, pods_running=1) is Verdict.WAITING
    assert verdict(state) is Verdict.WAITING  # minReplicas is not 0: never assume idle


def test_pods_known_to_be_gone_means_scaled_to_zero_even_without_min_replicas():
    state = ModelState.from_isvc(isvc(ISSUE_6079, ready()))
    assert verdict(state, pods_running=0) is Verdict.SCALED_TO_ZERO


def test_stale_status_of_an_older_generation_is_not_a_verdict():
    state = ModelState.from_isvc(isvc(LOADED, ready(), generation=2, observed=1))
    assert verdict(state) is Verdict.WAITING


@pytest.mark.parametrize("status", [None, {}])
def test_no_model_status_yet(status):
    state = ModelState.from_isvc(isvc(status))
    assert not state.reported
    assert state.summary() == "no model status yet"
    assert verdict(state) is Verdict.WAITING


def test_standard_mode_loaded_counts_only_once_the_rollout_is_done():
    from pytest_kfs.kserve.status import rollout_unfinished

    from .snapshots import NEW_URI, ROLLOUT_DONE, ROLLOUT_HALFWAY, ROLLOUT_NOT_STARTED

    spec = isvc(LOADED, ready(), generation=2, observed=2, storage_uri=NEW_URI)
    assert "still serves gs://kfserving-examples/models/sklearn/1.0/model" in rollout_unfinished(
        ROLLOUT_NOT_STARTED, spec
    )
    assert rollout_unfinished(ROLLOUT_HALFWAY, spec) == (
        "rollout in progress: 1 of 1 pods updated, 1 available, 1 old still running"
    )
    assert rollout_unfinished(ROLLOUT_DONE, spec) is None


def test_standard_mode_does_not_trust_observed_generation():
    # kserve#6081: observedGeneration is the Deployment's counter; an annotation-only patch
    # left generation 1 and observedGeneration 2, and a spec change the Deployment does not
    # reflect leaves it behind for good. Standard mode judges the rollout instead.
    behind = ModelState.from_isvc(isvc(LOADED, ready(), generation=3, observed=2))
    assert verdict(behind) is Verdict.WAITING
    assert verdict(behind, standard_mode=True) is Verdict.LOADED


def test_the_newest_pod_must_be_ready():
    from pytest_kfs.kserve.status import rollout_pending

    def pod(name, created, is_ready, deleting=False):
        meta = {
            "name": name,
            "creationTimestamp": created,
            **({"deletionTimestamp": "2026-11-26T03:53:09Z"} if deleting else {}),
        }
        return {
            "metadata": meta,
            "status": {
                "conditions": [{"type": "Ready", "status": "True" if is_ready else "False"}]
            },
        }

    old = pod("model-predictor-6848bd6c7d-gq5vq", "2026-11-26T03:53:01Z", True)
    new = pod("model-predictor-5876d64fb7-6nd72", "2026-11-26T03:53:05Z", False)
    assert rollout_pending([old, new]) == "model-predictor-5876d64fb7-6nd72"
    assert rollout_pending([old]) is None
    assert (
        rollout_pending([old, pod(new["metadata"]["name"], "2026-11-26T03:53:05Z", True)]) is None
    )
    assert rollout_pending([]) is None


@pytest.mark.parametrize(
    "status",
    [
        {"modelStatus": {"lastFailureInfo": "it broke", "transitionStatus": ["x"]}},
        {"modelStatus": "Loaded", "conditions": "Ready"},
        {"modelStatus": {"states": [], "copies": {"failedCopies": "many"}}, "components": 7},
        {"conditions": [7, {"type": "Ready", "status": {"a": 1}, "reason": 3}]},
        {"observedGeneration": "new", "url": ["u"]},
        ["not", "a", "mapping"],
    ],
)
def test_a_status_of_the_wrong_types_is_missing_data_not_a_crash(status):
    obj = isvc(None)
    obj["status"] = status
    obj["metadata"]["generation"] = "abc"
    state = ModelState.from_isvc(obj)
    assert state.failure is None and state.failed_copies == 0 and state.generation == 0
    assert verdict(state) is Verdict.WAITING
