"""A running InferenceService verified read-only (`kfs_existing`): its state from the run's
fleet snapshot, the diagnosis when it is not Loaded, and the bucket prediction (no writes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_kfs.diagnosis.finding import Finding
from pytest_kfs.diagnosis.fleet import Fleet
from pytest_kfs.diagnosis.preflight import Prediction
from pytest_kfs.diagnosis.rules import diagnose
from pytest_kfs.kserve.status import ModelState, Verdict, running_pods, verdict
from pytest_kfs.reports.terminal import answer_line, format_findings
from pytest_kfs.untrusted import capped, printable

# (namespace, name, storage URI, state, verdict, findings): what the run's report records.
Recorder = Callable[[str, str, str, ModelState, Verdict, list[Finding]], None]


@dataclass(frozen=True)
class ExistingCheck:
    """What the snapshot says of one model: its state, verdict and (if unhealthy) findings."""

    namespace: str
    name: str
    state: ModelState
    verdict: Verdict
    findings: list[Finding]

    @property
    def healthy(self) -> bool:
        """Loaded, or healthily scaled to zero."""
        return self.verdict.healthy

    def failure(self) -> str:
        """The answer first (`CODE: cause — fix`, the line CI shows), then the model's state
        and the findings (most likely first), for a failed test."""
        state = (
            f"InferenceService {self.namespace}/{self.name} is not Loaded ({self.state.summary()})"
        )
        return "\n".join(
            [
                *([answer_line(self.findings[0])] if self.findings else []),
                printable(capped(state, 600)),
                "",
                "Findings (most likely first):",
                *format_findings(self.findings),
            ]
        )


@dataclass
class ExistingModel:
    """One InferenceService that --kfs-existing selected, as the run's snapshot holds it."""

    fleet: Fleet = field(repr=False)
    namespace: str
    name: str
    recorder: Recorder | None = field(default=None, repr=False)

    @property
    def obj(self) -> dict[str, Any]:
        """The InferenceService as read."""
        found: dict[str, Any] = self.fleet.models[(self.namespace, self.name)]
        return found

    @property
    def storage_uri(self) -> str:
        """Its predictor model's storage URI ('' when it names none)."""
        return str((self.obj["spec"]["predictor"].get("model") or {}).get("storageUri") or "")

    def check(self) -> ExistingCheck:
        """Its verdict from the snapshot; the diagnosis (logs read then) only when it is not
        healthy. Recorded for the run's report."""
        evidence = self.fleet.evidence(self.namespace, self.name, with_logs=False)
        # Pods not read are unknown, not none: "scaled to zero" needs to know there are none.
        running = None if not evidence.known("pods") else running_pods(evidence.pods)
        state = ModelState.from_isvc(self.obj)
        outcome = verdict(state, running)
        findings = (
            []
            if outcome.healthy
            else diagnose(self.fleet.evidence(self.namespace, self.name, with_logs=True))
        )
        if self.recorder is not None:
            self.recorder(self.namespace, self.name, self.storage_uri, state, outcome, findings)
        return ExistingCheck(self.namespace, self.name, state, outcome, findings)

    def prediction(self) -> Prediction | None:
        """Whether its serving identity can load it (None when it is not in Cloud Storage)."""
        found: Prediction | None = self.fleet.prediction(self.namespace, self.name)
        return found
