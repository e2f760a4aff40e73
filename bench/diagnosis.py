"""Diagnosis accuracy on tests/corpus/: real cases from public issues, read as pasted text."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_kfs.errors import KfsError
from tests.unit.corpus import CORPUS, HOLDOUT, cases  # the loader the corpus test uses


def accuracy() -> dict[str, Any]:
    """The corpus (tuned: a regression bar) and a held-out batch still unjudged (the honest
    figure), each: right top finding and verdict, and the misses."""
    return {"corpus": _score(CORPUS), "holdout": _score(HOLDOUT)}


def _score(folder: Path) -> dict[str, Any]:
    rows = []
    for case in cases(folder):
        try:
            result = case.diagnose()
        except KfsError as refused:  # a user pasting this text gets the refusal: a miss
            rows.append(_row(case, "UNREADABLE", str(refused)[:120]))
            continue
        got = str(result.findings[0].code) if result.findings else "-"
        rows.append(
            {
                "case": case.name,
                "source": case.source,
                "expected": case.expected_code,
                "got": got,
                "verdict_expected": case.expected_verdict,
                "verdict_got": result.verdict,
                "right": got == case.expected_code and result.verdict == case.expected_verdict,
            }
        )
    return {
        "cases": len(rows),
        "right": sum(row["right"] for row in rows),
        "kserve_cases": sum(
            "kserve/" in row["source"] or "kubeflow/" in row["source"] for row in rows
        ),
        "misses": [row for row in rows if not row["right"]],
    }


def _row(case: Any, got: str, verdict: str) -> dict[str, Any]:
    return {
        "case": case.name,
        "source": case.source,
        "expected": case.expected_code,
        "got": got,
        "verdict_expected": case.expected_verdict,
        "verdict_got": verdict,
        "right": False,
    }
