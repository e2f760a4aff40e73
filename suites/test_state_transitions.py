"""State transitions: the model moves through KServe's documented states, and updates are safe."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from pytest_kfs import Cluster, Deployer, ModelHandle, Serving, State, Transition, Verdict

ALLOWED_TARGETS = {"", State.PENDING, State.LOADING, State.LOADED}


def _deploy(kfs_deploy: Deployer, kfs_serving: Serving) -> ModelHandle:
    config = kfs_serving.config
    return kfs_deploy(storage_uri=config.storage_uri, model_format=config.model_format,
                      service_account=kfs_serving.service_account,
                      runtime=config.runtime, protocol=config.protocol,
                      min_replicas=config.min_replicas)


def test_a_fresh_deploy_passes_the_documented_states_to_loaded(
        kfs_deploy: Deployer, kfs_serving: Serving,
        kfs_property: Callable[[str, object], None]) -> None:
    model = _deploy(kfs_deploy, kfs_serving)
    result = model.require_loaded()
    kfs_property("time_to_loaded_s", result.elapsed)
    targets = [entry.state.target for entry in result.timeline if entry.state is not None
               and entry.state.reported]
    assert set(targets) <= ALLOWED_TARGETS, f"unexpected target states on the way: {targets}"
    final = result.state
    assert final is not None, "the wait ended without reading a status"
    assert final.transition == Transition.UP_TO_DATE and final.active == State.LOADED
    assert (final.total_copies or 0) >= 1


def test_an_update_keeps_the_active_model_loaded_until_the_new_one_is(
        kfs_deploy: Deployer, kfs_serving: Serving) -> None:
    model = _deploy(kfs_deploy, kfs_serving)
    model.require_loaded()
    model.update({"metadata": {"annotations": {"pytest-kfs/rollout": "2"}},
                  "spec": {"predictor": {"model": {"storageUri":
                                                   kfs_serving.config.storage_uri + "/"}}}})
    result = model.require_loaded()
    actives = {entry.state.active for entry in result.timeline
               if entry.state is not None and entry.state.reported}
    assert actives == {State.LOADED}, f"the active model left Loaded: {actives}"


def test_an_update_to_an_unreadable_path_blocks_but_keeps_serving(
        kfs_deploy: Deployer, kfs_serving: Serving) -> None:
    model = _deploy(kfs_deploy, kfs_serving)
    model.require_loaded()
    bucket = kfs_serving.bucket
    model.update({"spec": {"predictor": {"model": {
        "storageUri": f"gs://{bucket}/pytest-kfs-does-not-exist/model"}}}})
    result = model.wait()
    assert result.state is not None, "the wait ended without reading a status"
    assert result.verdict is Verdict.FAILED, f"expected a failed rollout, got {result.verdict}"
    assert result.state.active == State.LOADED, "the previous revision must keep serving"
    # The wait may stop on the failed initializer before KServe records it; give it a moment.
    deadline = time.monotonic() + 15
    state = model.status
    while state.failure is None and time.monotonic() < deadline:
        time.sleep(0.2)
        state = model.status
    assert state.transition == Transition.BLOCKED_BY_FAILED_LOAD, (
        f"KServe did not record the failed rollout in the InferenceService's status within "
        f"15 s: it reads {state.summary()}, while the new pod failed ({result.reason}). Users "
        "of `kubectl get isvc` are told all is well; KServe releases whose controller does not "
        "watch pods (v0.13.1 here; v0.20.0 does) notice only at the Deployment's progress "
        "deadline")
    assert state.active == State.LOADED, "the previous revision must keep serving"
    assert state.failure is not None, "lastFailureInfo must say why"


def test_deletion_removes_the_predictor_pods(kfs_cluster: Cluster, kfs_deploy: Deployer,
                                             kfs_serving: Serving) -> None:
    model = _deploy(kfs_deploy, kfs_serving)
    model.require_loaded()
    model.delete()
    deadline = time.monotonic() + 60
    selector = f"serving.kserve.io/inferenceservice={model.name}"
    while time.monotonic() < deadline:
        pods = kfs_cluster.core.list_namespaced_pod(model.namespace, label_selector=selector)
        if not [p for p in pods.items if not p.metadata.deletion_timestamp]:
            return
        time.sleep(0.2)
    pytest.fail(f"predictor pods of {model.name} still running 60s after deletion")
