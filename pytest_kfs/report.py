"""Readable blocks for a failed or finished wait: timeline and findings (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_kfs.diagnose import Finding
from pytest_kfs.wait import WaitResult

_MAX_TIMELINE = 40


def outcome_line(namespace: str, name: str, result: WaitResult, timeout: float) -> str:
    """One line: what happened to the model, and how long it took."""
    where = f"InferenceService {namespace}/{name}"
    state = result.state.summary() if result.state else "no status written"
    if result.loaded:
        kind = "Loaded" if result.verdict.value == "loaded" else "healthy, scaled to zero"
        return f"{where} is {kind} after {result.elapsed:.2f}s ({state})"
    if result.timed_out:
        return f"{where} did not load within the {timeout:g}s deadline ({state})"
    why = f": {result.reason}" if result.reason else ""
    return f"{where} failed to load after {result.elapsed:.2f}s{why} ({state})"


def format_timeline(result: WaitResult) -> list[str]:
    """Timeline lines, trimmed in the middle when long."""
    entries = result.timeline
    if len(entries) > _MAX_TIMELINE:
        half = _MAX_TIMELINE // 2
        skipped = len(entries) - _MAX_TIMELINE
        entries = [*entries[:half], None, *entries[-half:]]  # type: ignore[list-item]
    lines = []
    for entry in entries:
        if entry is None:
            lines.append(f"  ... {skipped} more ...")
        else:
            lines.append(f"  +{entry.at:7.2f}s  {entry.source:<5}  {entry.text}")
    return lines


def format_findings(findings: Sequence[Finding]) -> list[str]:
    """Findings, most likely first: code and cause, evidence, fix."""
    lines = []
    for index, finding in enumerate(findings, 1):
        lines.append(f"  {index}. [{finding.code}] {finding.cause}")
        for item in finding.evidence:
            lines.append(f"     evidence: {item}")
        if finding.fix:
            lines.append(f"     fix:      {finding.fix}")
    return lines


def format_block(namespace: str, name: str, result: WaitResult, findings: Sequence[Finding],
                 timeout: float) -> str:
    """The block a failing test shows."""
    lines = [outcome_line(namespace, name, result, timeout), "", "Timeline:"]
    lines += format_timeline(result) or ["  (nothing observed)"]
    lines += ["", "Findings (most likely first):"]
    lines += format_findings(findings) or ["  (none: see the timeline)"]
    return "\n".join(lines)
