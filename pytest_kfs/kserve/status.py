"""InferenceService status -> a typed snapshot, and what it means (pure).

Reads `status.modelStatus` and the conditions the way kserve.md describes them. The verdict
separates a model that is done (Loaded, or failed for good) from one still on its way, and never
mistakes a healthy scale-to-zero service (kserve/kserve#6079) for a stuck one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from pytest_kfs.kserve.api import SOURCE_URI_ANNOTATION

# Knative's message for reason RevisionFailed, which a pasted condition may come without.
_REVISION_FAILED = re.compile(r'Revision "[^"]+" failed with message: ')


class State(StrEnum):
    """KServe's model states (modelStatus.states.activeModelState / targetModelState). Kept
    as the strings KServe writes: a state KServe adds later reads as its own text."""

    PENDING = "Pending"
    STANDBY = "Standby"
    LOADING = "Loading"
    LOADED = "Loaded"
    FAILED_TO_LOAD = "FailedToLoad"


class Transition(StrEnum):
    """KServe's modelStatus.transitionStatus."""

    UP_TO_DATE = "UpToDate"
    IN_PROGRESS = "InProgress"
    BLOCKED_BY_FAILED_LOAD = "BlockedByFailedLoad"
    INVALID_SPEC = "InvalidSpec"


class Verdict(Enum):
    """Where a model stands."""

    LOADED = "loaded"
    SCALED_TO_ZERO = "scaled-to-zero"
    FAILED = "failed"
    WAITING = "waiting"

    @property
    def final(self) -> bool:
        """Whether waiting longer can change the answer."""
        return self is not Verdict.WAITING

    @property
    def healthy(self) -> bool:
        """Whether the model serves."""
        return self in (Verdict.LOADED, Verdict.SCALED_TO_ZERO)


def _mapping(value: object) -> dict[str, Any]:
    """`value` when it is a mapping, else {} (a part of the wrong type is missing)."""
    return value if isinstance(value, dict) else {}


def _items(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _scalar(value: object) -> str:
    """A condition's field as text: a number or a flag as written, anything else ""."""
    return "" if value is None or isinstance(value, dict | list) else str(value)


def _whole(value: object) -> int | None:
    """A count or generation: a whole number (or its digits as text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.strip().isdigit() else None


@dataclass(frozen=True)
class FailureInfo:
    """status.modelStatus.lastFailureInfo."""

    reason: str
    message: str
    location: str = ""
    revision: str = ""
    exit_code: int | None = None


@dataclass(frozen=True)
class Condition:
    """One of status.conditions (Ready, PredictorReady, IngressReady, ...)."""

    type: str
    status: str
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class ModelState:
    """One observation of an InferenceService."""

    namespace: str
    name: str
    generation: int
    observed_generation: int | None
    ready: str | None
    ready_reason: str
    ready_message: str
    active: str
    target: str
    transition: str
    failed_copies: int
    total_copies: int | None
    failure: FailureInfo | None
    url: str | None
    deployment_mode: str
    latest_created_revision: str | None
    latest_ready_revision: str | None
    min_replicas: int | None
    conditions: tuple[Condition, ...] = ()

    @staticmethod
    def from_isvc(obj: dict[str, Any]) -> ModelState:
        """Snapshot an InferenceService (as a dict from the API, or pasted). A part of the
        wrong type (a string lastFailureInfo, a list for status) is missing data, never a
        crash: the status is read for what it says, not trusted for its shape."""
        meta, status = _mapping(obj.get("metadata")), _mapping(obj.get("status"))
        model = _mapping(status.get("modelStatus"))
        states = _mapping(model.get("states"))
        copies = _mapping(model.get("copies"))
        conditions = [c for c in _items(status.get("conditions")) if isinstance(c, dict)]
        ready = next((c for c in conditions if c.get("type") == "Ready"), {})
        failure = _mapping(model.get("lastFailureInfo"))
        predictor = _mapping(_mapping(status.get("components")).get("predictor"))
        spec_predictor = _mapping(_mapping(obj.get("spec")).get("predictor"))
        return ModelState(
            namespace=_text(meta.get("namespace")),
            name=_text(meta.get("name")),
            generation=_whole(meta.get("generation")) or 0,
            observed_generation=_whole(status.get("observedGeneration")),
            ready=_text(ready.get("status")) or None,
            ready_reason=_text(ready.get("reason")),
            ready_message=_text(ready.get("message")),
            # KServe writes "" until a first copy loads (the CRD's Pending is only a default).
            active=_text(states.get("activeModelState")),
            target=_text(states.get("targetModelState")),
            transition=_text(model.get("transitionStatus")),
            failed_copies=_whole(copies.get("failedCopies")) or 0,
            total_copies=_whole(copies.get("totalCopies")),
            failure=FailureInfo(
                reason=_text(failure.get("reason")),
                message=_text(failure.get("message")),
                location=_text(failure.get("location")),
                revision=_text(failure.get("modelRevisionName")),
                exit_code=_whole(failure.get("exitCode")),
            )
            if failure
            else None,
            url=_text(status.get("url")) or None,
            deployment_mode=_text(status.get("deploymentMode")),
            latest_created_revision=_text(predictor.get("latestCreatedRevision")) or None,
            latest_ready_revision=_text(predictor.get("latestReadyRevision")) or None,
            min_replicas=_whole(spec_predictor.get("minReplicas")),
            conditions=tuple(
                Condition(
                    _scalar(c.get("type")),
                    _scalar(c.get("status")),
                    _scalar(c.get("reason")),
                    _scalar(c.get("message")),
                )
                for c in conditions
            ),
        )

    @property
    def reported(self) -> bool:
        """Whether the controller has written a model status yet."""
        return bool(self.transition)

    @property
    def standard_mode(self) -> bool:
        """KServe serves it with a Deployment (Standard, formerly RawDeployment, mode)."""
        return self.deployment_mode in ("Standard", "RawDeployment")

    @property
    def current(self) -> bool:
        """Whether the status describes the latest spec (generation)."""
        return self.observed_generation is None or self.observed_generation >= self.generation

    def not_ready(self) -> list[Condition]:
        """Conditions that are not True, Ready last (it repeats the others). Stopped=False is
        the healthy value of KServe's Stopped condition, so it is left out."""
        return sorted(
            (c for c in self.conditions if c.status != "True" and c.type != "Stopped"),
            key=lambda c: c.type == "Ready",
        )

    @property
    def rollout_behind(self) -> bool:
        """A newer revision was created than the one ready (Knative mode shows both)."""
        return bool(
            self.latest_created_revision
            and self.latest_ready_revision
            and self.latest_created_revision != self.latest_ready_revision
        )

    def summary(self) -> str:
        """The three values `kubectl describe` shows, plus Ready."""
        if not self.reported:
            return "no model status yet"
        target = self.target or "-"
        return (
            f"Active {self.active or '(none)'} / Target {target} / {self.transition}, "
            f"Ready={self.ready or 'Unknown'}"
        )


def verdict(
    state: ModelState, pods_running: int | None = None, standard_mode: bool = False
) -> Verdict:
    """Where the model stands from its status alone (`pods_running` when known).

    In Standard mode observedGeneration is the Deployment's counter (kserve#6081), not the
    InferenceService's: it says nothing about the spec, and the rollout is checked instead.
    """
    if not state.reported or not (state.current or standard_mode):
        return Verdict.WAITING
    if (
        state.transition in (Transition.BLOCKED_BY_FAILED_LOAD, Transition.INVALID_SPEC)
        or state.target == State.FAILED_TO_LOAD
    ):
        return Verdict.FAILED
    if state.transition == Transition.UP_TO_DATE and state.active == State.LOADED:
        return Verdict.LOADED
    if scaled_to_zero(state, pods_running):
        return Verdict.SCALED_TO_ZERO
    return Verdict.WAITING


def running_pods(pods: list[dict[str, Any]]) -> int:
    """Pods that are not on their way out."""
    return sum(1 for pod in pods if not (pod.get("metadata") or {}).get("deletionTimestamp"))


def describe(state: ModelState, pods_running: int | None = None) -> str:
    """What the status says, in one sentence: which revision serves, which is stuck, and
    never "not Loaded" next to "Active Loaded"."""
    if not state.reported and not state.conditions:
        return "no status written yet"
    if scaled_to_zero(state, pods_running):
        return "healthy: Ready and scaled to zero (Target Pending / InProgress means no pod)"
    if state.active == State.LOADED and state.transition != Transition.UP_TO_DATE:
        if state.rollout_behind:
            return (
                f"revision {state.latest_created_revision} is not ready "
                f"({state.summary()}); revision {state.latest_ready_revision} still serves"
            )
        if state.ready == "True" and pods_running:
            return (
                f"healthy: Ready with {pods_running} pod(s) running; the transition status "
                f"is stale ({state.summary()}, kserve/kserve#3686)"
            )
        if pods_running is None:
            return (
                f"a loaded version is Active; Target {state.target or '-'} / "
                f"{state.transition} means a new version is on its way, or no pod runs "
                f"(scaled to zero): the pods tell which ({state.summary()})"
            )
        return (
            f"a new version is not loaded yet; the last loaded one is still Active "
            f"({state.summary()})"
        )
    if state.active == State.LOADED:
        return f"Loaded ({state.summary()})"
    conditions = "; ".join(
        f"{c.type}={c.status}"
        + (f" {c.reason[:100]}" if c.reason else "")
        + (f": {c.message[:300]}" if c.message else "")
        for c in state.not_ready()[:2]
    )
    where = state.summary() if state.reported else "no model status"
    return f"not serving ({where})" + (f"; {conditions}" if conditions else "")


def snapshot_verdict(state: ModelState, pods_running: int | None = None) -> Verdict:
    """The verdict from one status read, with no wait to come: a status that records a failure
    (lastFailureInfo, a failed revision) is FAILED even before KServe's transition says so."""
    found = verdict(state, pods_running, state.standard_mode)
    if found is Verdict.WAITING and (
        state.failure is not None
        or any(
            c.reason in ("RevisionFailed", "ProgressDeadlineExceeded")
            or _REVISION_FAILED.match(c.message)
            for c in state.conditions
        )
    ):
        return Verdict.FAILED
    return found


def scaled_to_zero(state: ModelState, pods_running: int | None = None) -> bool:
    """Healthy and scaled to zero: Loaded / Pending / InProgress while Ready (#6079, #3686).

    With `pods_running` unknown, minReplicas 0 is required as well; a rollout stuck on a new
    revision (kserve/kserve#3798) shows the same three values, with pods.
    """
    looks_idle = (
        state.ready == "True"
        and state.active == State.LOADED
        and state.target == State.PENDING
        and state.transition == Transition.IN_PROGRESS
    )
    if not looks_idle:
        return False
    if pods_running is not None:
        return pods_running == 0
    return state.min_replicas == 0


def _created(pod: dict[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("creationTimestamp") or "")


def _pod_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def rollout_pending(pods: list[dict[str, Any]]) -> str | None:
    """The newest pod's name while it is not Ready yet, else None.

    In Standard mode KServe reads the status from the pods of the old and the new ReplicaSet
    together, so it says Loaded / UpToDate while only the old pod serves (seen on v0.20.0: ~2 s
    before the new pod was Ready), and its observedGeneration is the Deployment's counter
    (kserve#6081). A rollout is done when the newest pod serves.
    """
    live = [pod for pod in pods if not (pod.get("metadata") or {}).get("deletionTimestamp")]
    if not live:
        return None
    newest = max(live, key=_created)
    return None if _pod_ready(newest) else str(newest["metadata"].get("name", ""))


# KServe's record of the storage URI on the pod template (v0.13.1 and v0.20.0 alike).


def rollout_unfinished(deployment: dict[str, Any], isvc: dict[str, Any]) -> str | None:
    """Why the predictor Deployment does not serve the current spec yet, or None when it does.

    KServe's Standard mode writes Loaded / UpToDate from the old and the new pods together, and
    its observedGeneration is the Deployment's (kserve#6081), so neither says the new model
    serves. `kubectl rollout status` does: the Deployment observed, every replica updated and
    available, no old replica left; and its pod template names the storage URI of the spec.
    """
    meta, spec, status = (deployment.get(key) or {} for key in ("metadata", "spec", "status"))
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return "the Deployment controller has not seen the latest pod template yet"
    replicas = spec.get("replicas")
    wanted = int(replicas) if replicas is not None else 1
    updated, total = int(status.get("updatedReplicas") or 0), int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < wanted or total > updated or available < updated:
        return (
            f"rollout in progress: {updated} of {wanted} pods updated, {available} "
            f"available, {total - updated} old still running"
        )
    template = ((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}
    model = ((isvc.get("spec") or {}).get("predictor") or {}).get("model") or {}
    deployed, wanted_uri = template.get(SOURCE_URI_ANNOTATION), model.get("storageUri")
    if deployed and wanted_uri and deployed != wanted_uri:
        return f"the Deployment still serves {deployed}, not yet {wanted_uri}"
    return None
