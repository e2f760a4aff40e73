"""The diagnosis corpus (tests/corpus/*.yaml): real cases from public sources, read as the
offline command reads what a user pastes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pytest_kfs.diagnosis.pasted import Diagnosis, Pasted, diagnose_pasted, read_text

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
# Cases gathered after the rules were written, by someone who did not read them: accuracy on
# these is the honest figure (bench/), and they are not required to pass.
HOLDOUT = CORPUS / "holdout"


@dataclass(frozen=True)
class Case:
    """One corpus file."""

    name: str
    source: str
    expected_code: str
    expected_verdict: str
    inputs: dict[str, Any]

    def pasted(self) -> Pasted:
        """The inputs as the offline command would have read them from files."""
        pasted = Pasted()
        for kind in ("inferenceservice", "pods", "events"):
            if self.inputs.get(kind):
                read_text(self.inputs[kind], pasted, f"{self.name}: {kind}")
                if kind == "pods":
                    pasted.pods = pasted.pods or []
        for container, text in (self.inputs.get("logs") or {}).items():
            pasted.logs[container] = text
        if self.inputs.get("kubectl"):
            pasted.texts["kubectl"] = self.inputs["kubectl"]
        return pasted

    def diagnose(self) -> Diagnosis:
        """What the offline diagnosis says about it."""
        return diagnose_pasted(self.pasted())


def cases(folder: Path = CORPUS) -> list[Case]:
    """Every case in `folder`, by file name."""
    found = []
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        found.append(
            Case(
                path.stem,
                data["source"],
                data["expected"]["code"],
                data["expected"]["verdict"],
                data["inputs"],
            )
        )
    return found
