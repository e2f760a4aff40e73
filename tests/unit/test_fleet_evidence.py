"""A model's evidence holds its own events, not its neighbours' in the same namespace."""

from pytest_kfs.diagnosis.evidence import events_about, newest_first


def _event(kind, name, reason):
    return {"involvedObject": {"kind": kind, "name": name}, "reason": reason}


def test_events_about_one_model_leave_out_the_neighbours():
    pods = [{"metadata": {"name": "fraud-predictor-7d9f-abcde"}}]
    events = [
        _event("InferenceService", "fraud", "InternalError"),
        _event("ReplicaSet", "fraud-predictor-7d9f", "FailedCreate"),
        _event("Pod", "fraud-predictor-7d9f-abcde", "FailedMount"),
        _event("Deployment", "fraud-v2-predictor", "ScalingReplicaSet"),  # another model
        _event("Pod", "churn-predictor-1-xyz", "FailedMount"),  # another model
        _event("InferenceService", "fraud-v2", "InternalError"),  # another model
        {"reason": "Pasted", "message": "an event without its object (offline)"},
    ]
    kept = [event["reason"] for event in events_about(events, "fraud", pods)]
    assert kept == ["InternalError", "FailedCreate", "FailedMount", "Pasted"]


def test_pods_are_read_newest_first_like_kserve():
    pods = [
        {"metadata": {"name": "old", "creationTimestamp": "2026-11-26T08:00:00Z"}},
        {"metadata": {"name": "new", "creationTimestamp": "2026-11-26T09:00:00Z"}},
    ]
    assert [pod["metadata"]["name"] for pod in newest_first(pods)] == ["new", "old"]
