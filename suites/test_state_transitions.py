"""State transitions: the model moves through KServe's documented states, and updates are safe."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NoReturn

from pytest_kfs import (
    Cluster,
    Code,
    Deployer,
    Finding,
    ModelHandle,
    ModelState,
    Serving,
    State,
    Transition,
    Verdict,
    fail_with,
)

ALLOWED_TARGETS = {"", State.PENDING, State.LOADING, State.LOADED}


def _deploy(kfs_deploy: Deployer, kfs_serving: Serving) -> ModelHandle:
    config = kfs_serving.config
    return kfs_deploy(
        storage_uri=config.storage_uri,
        model_format=config.model_format,
        service_account=kfs_serving.service_account,
        runtime=config.runtime,
        protocol=config.protocol,
        min_replicas=config.min_replicas,
    )


def test_a_fresh_deploy_passes_the_documented_states_to_loaded(
    kfs_deploy: Deployer, kfs_serving: Serving, kfs_property: Callable[[str, object], None]
) -> None:
    model = _deploy(kfs_deploy, kfs_serving)
    result = model.require_loaded()
    kfs_property("time_to_loaded_s", result.elapsed)
    targets = [
        entry.state.target
        for entry in result.timeline
        if entry.state is not None and entry.state.reported
    ]
    if not set(targets) <= ALLOWED_TARGETS:
        unexpected(f"target states outside {sorted(ALLOWED_TARGETS)} on the way: {targets}")
    final = result.state
    if final is None:
        unexpected("the wait ended without reading a status")
    elif not (final.transition == Transition.UP_TO_DATE and final.active == State.LOADED):
        unexpected(f"Loaded, but the status reads {final.summary()}", final)
    elif not (final.total_copies or 0) >= 1:
        unexpected(f"Loaded with modelCopies.totalCopies {final.total_copies}", final)


def test_an_update_keeps_the_active_model_loaded_until_the_new_one_is(
    kfs_deploy: Deployer, kfs_serving: Serving
) -> None:
    model = _deploy(kfs_deploy, kfs_serving)
    model.require_loaded()
    model.update(
        {
            "metadata": {"annotations": {"pytest-kfs/rollout": "2"}},
            "spec": {"predictor": {"model": {"storageUri": kfs_serving.config.storage_uri + "/"}}},
        }
    )
    result = model.require_loaded()
    actives = {
        entry.state.active
        for entry in result.timeline
        if entry.state is not None and entry.state.reported
    }
    if actives != {State.LOADED}:
        unexpected(f"the active model left Loaded during the update: {sorted(actives)}")


def test_an_update_to_an_unreadable_path_blocks_but_keeps_serving(
    kfs_deploy: Deployer, kfs_serving: Serving
) -> None:
    model = _deploy(kfs_deploy, kfs_serving)
    model.require_loaded()
    bucket = kfs_serving.bucket
    model.update(
        {
            "spec": {
                "predictor": {
                    "model": {"storageUri": f"gs://{bucket}/pytest-kfs-does-not-exist/model"}
                }
            }
        }
    )
    result = model.wait()
    if result.state is None:
        unexpected("the wait ended without reading a status")
    elif result.verdict is not Verdict.FAILED:
        unexpected(
            f"an update to an unreadable path ended {result.verdict.value}, not failed",
            result.state,
        )
    elif result.state.active != State.LOADED:
        unexpected("the previous revision stopped serving when the update failed", result.state)
    # The wait may stop on the failed initializer before KServe records it; give it a moment.
    deadline = time.monotonic() + 15
    state = model.status
    while state.failure is None and time.monotonic() < deadline:
        time.sleep(0.2)
        state = model.status
    if state.transition != Transition.BLOCKED_BY_FAILED_LOAD:
        unexpected(
            f"KServe did not record the failed rollout in the InferenceService's status within "
            f"15 s, while the new pod failed ({result.reason}): users of `kubectl get isvc` "
            "are told all is well; KServe releases whose controller does not watch pods "
            "(v0.13.1 here; v0.20.0 does) notice only at the Deployment's progress deadline",
            state,
        )
    elif state.active != State.LOADED:
        unexpected("the previous revision stopped serving when the update failed", state)
    elif state.failure is None:
        unexpected("the rollout is blocked, but lastFailureInfo does not say why", state)


def test_deletion_removes_the_predictor_pods(
    kfs_cluster: Cluster, kfs_deploy: Deployer, kfs_serving: Serving
) -> None:
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
    unexpected(f"predictor pods of {model.name} still running 60 s after its deletion")


def unexpected(cause: str, state: ModelState | None = None) -> NoReturn:
    """KServe's status left its documented path: the finding, with the status as read."""
    fail_with(
        Finding(
            Code.KSERVE_STATUS_UNEXPECTED,
            cause,
            (f"status: {state.summary()}",) if state is not None else (),
        )
    )
