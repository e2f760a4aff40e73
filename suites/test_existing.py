"""Read-only verification of InferenceServices that already run (--kfs-existing).

Nothing here creates, patches or deletes. The run reads each kind once (InferenceServices,
pods, events, service accounts, secrets, runtimes) and checks every model from that snapshot;
a stuck model's logs are the only per-model reads. Bucket access is checked as each serving
identity through Google's APIs, once per (principal, bucket, prefix).
"""

from __future__ import annotations

import pytest

from pytest_kfs.diagnosis.rules import diagnose
from pytest_kfs.kserve.status import ModelState, running_pods, verdict
from pytest_kfs.plugin import record_snapshot
from pytest_kfs.reports.terminal import format_findings
from pytest_kfs.untrusted import capped, printable


@pytest.fixture
def existing(kfs_fleet, kfs_existing_model):
    """The selected InferenceService as the run's snapshot holds it."""
    if kfs_existing_model is None:
        pytest.skip("no --kfs-existing given, or it selects no InferenceService")
    kfs_fleet.ask(*kfs_existing_model)  # Google answers while the status is read
    return kfs_fleet.models[kfs_existing_model]


def test_the_existing_model_is_loaded(kfs_fleet, existing, request):
    meta = existing["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    evidence = kfs_fleet.evidence(namespace, name, with_logs=False)
    # Pods not read are unknown, not none: "scaled to zero" needs to know there are none.
    running = None if not evidence.known("pods") else running_pods(evidence.pods)
    state = ModelState.from_isvc(existing)
    outcome = verdict(state, running)
    findings = [] if outcome.healthy else diagnose(
        kfs_fleet.evidence(namespace, name, with_logs=True))
    storage_uri = ((existing["spec"]["predictor"].get("model") or {}).get("storageUri") or "")
    record_snapshot(request.node, namespace, name, storage_uri, state, outcome, findings)
    if outcome.healthy:
        return
    pytest.fail(printable(capped(f"InferenceService {namespace}/{name} is not Loaded "
                                 f"({state.summary()})", 600))
                + "\n\nFindings (most likely first):\n"
                + "\n".join(format_findings(findings)), pytrace=False)


def test_the_serving_identity_can_read_the_existing_model(kfs_fleet, existing, kfs_property):
    storage_uri = (existing["spec"]["predictor"].get("model") or {}).get("storageUri")
    prediction = kfs_fleet.prediction(existing["metadata"]["namespace"],
                                      existing["metadata"]["name"])
    if prediction is None:
        pytest.skip(printable(capped(f"{storage_uri or 'no storageUri'} is not in Google "
                                     "Cloud Storage")))
    kfs_property("preflight", prediction.describe())
    if prediction.outcome == "unknown":
        pytest.skip(printable(capped(f"could not check: {prediction.reason}")))
    if prediction.outcome != "loads":
        who = f" as {prediction.principal}" if prediction.principal else ""
        pytest.fail(printable(capped(f"{prediction.code}: the serving identity cannot load "
                                     f"{storage_uri}{who}: {prediction.reason}", 1000)),
                    pytrace=False)
