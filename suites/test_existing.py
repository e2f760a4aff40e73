"""Read-only verification of InferenceServices that already run (--kfs-existing).

Nothing here creates, patches or deletes: status, pods, events and identity are read, and the
bucket is checked as the serving identity through Google's APIs.
"""

from __future__ import annotations

import pytest

from pytest_kfs import inferenceservice as isvc
from pytest_kfs.diagnose import diagnose
from pytest_kfs.evidence import collect
from pytest_kfs.models import config_from_isvc
from pytest_kfs.plugin import record_snapshot
from pytest_kfs.report import format_findings
from pytest_kfs.status import ModelState, verdict


@pytest.fixture
def existing(kfs_cluster, kfs_existing_model):
    """The selected InferenceService as the API returns it."""
    if kfs_existing_model is None:
        pytest.skip("no --kfs-existing given, or it selects no InferenceService")
    namespace, name = kfs_existing_model
    return kfs_cluster.custom.get_namespaced_custom_object(
        isvc.GROUP, isvc.VERSION, namespace, isvc.PLURAL, name)


def test_the_existing_model_is_loaded(kfs_cluster, existing, request):
    meta = existing["metadata"]
    evidence = collect(kfs_cluster, meta["namespace"], meta["name"], existing)
    running = sum(1 for pod in evidence.pods if not pod["metadata"].get("deletionTimestamp"))
    state = ModelState.from_isvc(existing)
    outcome = verdict(state, running)
    findings = [] if outcome.healthy else diagnose(evidence)
    storage_uri = ((existing["spec"]["predictor"].get("model") or {}).get("storageUri") or "")
    record_snapshot(request.node, meta["namespace"], meta["name"], storage_uri, state,
                    outcome, findings)
    if outcome.healthy:
        return
    pytest.fail(f"InferenceService {meta['namespace']}/{meta['name']} is not Loaded "
                f"({state.summary()})\n\nFindings (most likely first):\n"
                + "\n".join(format_findings(findings)), pytrace=False)


def test_the_serving_identity_can_read_the_existing_model(existing, kfs_preflight,
                                                          kfs_property):
    config = config_from_isvc(existing)
    if not config.is_gcs:
        pytest.skip(f"{config.storage_uri or 'no storageUri'} is not in Google Cloud Storage")
    prediction = kfs_preflight(existing["metadata"]["namespace"], config)
    kfs_property("preflight", prediction.describe())
    if prediction.outcome == "unknown":
        pytest.skip(f"could not check: {prediction.reason}")
    assert prediction.outcome == "loads", prediction.describe()
