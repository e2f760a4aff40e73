"""Readable blocks for a failed or finished wait: timeline and findings (pure)."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_kfs.diagnosis.finding import Finding
from pytest_kfs.untrusted import capped, markdown, markdown_code, printable
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
            text = printable(capped(entry.text, 500))
            lines.append(f"  +{entry.at:7.2f}s  {entry.source:<5}  {text}")
    return lines


def answer_line(finding: Finding) -> str:
    """`CODE: cause — fix: ...`, the line a failure leads with (short summary, JUnit)."""
    fix = f" — fix: {printable(capped(finding.fix))}" if finding.fix else ""
    return f"{finding.code}: {printable(capped(finding.cause))}{fix}"


def format_answer(finding: Finding) -> str:
    """A failed check: its answer line, then its evidence."""
    return "\n".join(
        [
            answer_line(finding),
            *(f"  evidence: {printable(capped(item))}" for item in finding.evidence),
        ]
    )


# An answer line: `CODE: cause — fix: command`.
_ANSWER = re.compile(r"^(?P<code>[A-Z][A-Z0-9_]{2,60}): .*? — fix: (?P<fix>.+)$", re.S)


def cause_key(answer: str) -> str:
    """What makes two answers one cause: the same code and the same fix (a bucket check and
    a failed model word the same denial differently, and it is one grant to make)."""
    found = _ANSWER.match(answer)
    return f"{found['code']} — fix: {found['fix']}" if found else answer


def _wrapped(text: str, width: int) -> list[str]:
    # Words stay whole (a command, an e-mail, a test id): copied, not read, they may run
    # past the width rather than break.
    return textwrap.wrap(
        text, width, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False
    )


def cause_lines(said: Mapping[str, Sequence[str]], width: int) -> list[str]:
    """Failed checks grouped by cause (`cause_key`: one cause worded two ways is one), most
    tests first, wrapped to `width`: the answer as first said, then the tests it failed."""
    causes: dict[str, tuple[str, list[str]]] = {}
    for answer, failed in said.items():
        causes.setdefault(cause_key(answer), (answer, []))[1].extend(failed)
    lines = []
    for answer, tests in sorted(causes.values(), key=lambda cause: -len(cause[1])):
        lines += _wrapped(answer, width)
        lines.append(f"  failed {len(tests)} test{'s' if len(tests) > 1 else ''}:")
        lines += [f"    {test}" for test in tests]
    return lines


def format_findings(findings: Sequence[Finding]) -> list[str]:
    """Findings, most likely first: code and cause, evidence, fix."""
    lines = []
    for index, finding in enumerate(findings, 1):
        lines.append(f"  {index}. [{finding.code}] {printable(capped(finding.cause))}")
        for item in finding.evidence:
            lines.append(f"     evidence: {printable(capped(item))}")
        if finding.fix:
            lines.append(f"     fix:      {printable(capped(finding.fix))}")
    return lines


def format_block(
    namespace: str, name: str, result: WaitResult, findings: Sequence[Finding], timeout: float
) -> str:
    """The block a failing test shows: the answer first (the likeliest cause and its fix),
    then what happened, the findings with their evidence, and the timeline."""
    outcome = printable(capped(outcome_line(namespace, name, result, timeout)))
    lines = []
    if findings:
        lines += [answer_line(findings[0]), ""]
    lines += [outcome, "", "Findings (most likely first):"]
    lines += format_findings(findings) or ["  (none: see the timeline)"]
    lines += ["", "Timeline:"]
    lines += format_timeline(result) or ["  (nothing observed)"]
    return "\n".join(lines)


REPORT_SCHEMA = "pytest-kfs/report"
REPORT_VERSION = 1


def model_record(
    test: str,
    namespace: str,
    name: str,
    storage_uri: str,
    result: WaitResult,
    findings: Sequence[Finding],
) -> dict[str, Any]:
    """One model's outcome as plain data (JSON report, JUnit properties, summaries)."""
    state = result.state
    principal = next((f.principal for f in findings if f.principal), None)
    return {
        "test": test,
        "namespace": namespace,
        "name": name,
        "storage_uri": capped(storage_uri),
        "verdict": result.verdict.value,
        "loaded": result.loaded,
        "seconds": result.elapsed,
        "timed_out": result.timed_out,
        "state": capped(state.summary(), 500) if state else None,
        "principal": capped(principal, 500) if principal else None,
        "timeline": [
            {
                "at": e.at,
                "source": e.source,
                "text": capped(e.text),
                **({"target": capped(e.state.target, 100)} if e.state else {}),
            }
            for e in result.timeline
        ],
        "findings": [_capped_finding(f.as_dict()) for f in findings],
    }


def _capped_finding(finding: dict[str, Any]) -> dict[str, Any]:
    """A finding's strings come from the cluster: bounded before they reach any report."""
    return {
        key: capped(value)
        if isinstance(value, str)
        else [capped(item) for item in value]
        if isinstance(value, list)
        else value
        for key, value in finding.items()
    }


# Beyond this many models, the healthy ones are counted, not listed (the JSON report has all).
LISTED_HEALTHY = 20


def headline(records: Sequence[dict[str, Any]]) -> str:
    """`120 models: 114 healthy, 6 not loaded`."""
    healthy = sum(1 for record in records if record["loaded"])
    return (
        f"{len(records)} model{'s' if len(records) != 1 else ''}: {healthy} healthy, "
        f"{len(records) - healthy} not loaded"
    )


def root_causes(records: Sequence[dict[str, Any]]) -> list[str]:
    """Failures grouped by root cause, most models first: `6 models in 3 namespaces:
    GCS_LIST_DENIED for reader@p.iam.gserviceaccount.com on gs://models — fix: ...` (one line
    per cause, principal and bucket; a model not loaded with no cause found is counted too)."""
    groups: dict[tuple[str, str, str, str], list[tuple[str, dict[str, Any]]]] = {}
    several = len({record.get("cluster") for record in records}) > 1
    for record in records:
        where = str(record.get("cluster") or "") if several else ""
        failing = [f for f in record["findings"] if f.get("failure")]
        if failing:
            top = failing[0]
            key = (where, top["code"], top.get("principal") or "", top.get("bucket") or "")
        elif not record["loaded"]:
            top = {
                "code": record["findings"][0]["code"] if record["findings"] else "no cause found",
                "fix": "",
            }
            key = (where, top["code"], "", "")
        else:
            continue
        groups.setdefault(key, []).append((record["namespace"], top))
    lines = []
    for (cluster, code, principal, bucket), members in sorted(
        groups.items(), key=lambda item: -len(item[1])
    ):
        count, namespaces = len(members), len({namespace for namespace, _ in members})
        spread = f" in {namespaces} namespaces" if namespaces > 1 else ""
        spread += f" on cluster {cluster}" if cluster else ""
        who = f" for {principal}" if principal else ""
        where = f" on gs://{bucket}" if bucket else ""
        fix = f" — fix: {members[0][1]['fix']}" if members[0][1].get("fix") else ""
        lines.append(
            capped(f"{count} model{'s' if count > 1 else ''}{spread}: {code}{who}{where}{fix}", 600)
        )
    return lines


def listed(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records shown one by one: all of a small run; of a fleet, those not loaded."""
    if len(records) <= LISTED_HEALTHY:
        return list(records)
    return [record for record in records if not record["loaded"]]


def summary_rows(records: Sequence[dict[str, Any]], width: int | None = None) -> list[str]:
    """The terminal summary: how many are healthy, the root causes, then one row per model
    (of a fleet, per model not loaded); a row wider than `width` puts the state on a line
    of its own, so a CI log at 80 columns keeps model, verdict and finding on one line."""
    # A root cause stays one line, whole: the answer a reader greps a CI log for.
    rows = [printable(line) for line in [headline(records), *root_causes(records)]]
    for record in listed(records):
        top = record["findings"][0]["code"] if record["findings"] else "-"
        took = f"{record['seconds']:.2f}s" if record.get("seconds") is not None else "-"
        cluster = f"{record['cluster']}:" if record.get("cluster") else ""
        model = printable(f"{cluster}{record['namespace']}/{record['name']}")
        state = printable(capped(record.get("state") or "-", 300))
        row = f"{model}  {record['verdict']:<14} {took:>8}  {state}  finding: {top}"
        if width is None or len(row) <= width:
            rows.append(row)
        else:
            rows.append(f"{model}  {record['verdict']}  finding: {top}")
            rows += _wrapped(f"    {took}  {state}", width)
    return rows


def markdown_summary(records: Sequence[dict[str, Any]]) -> str:
    """A GitHub step summary: counts and causes, a table of models, each failure's findings."""
    causes = root_causes(records)
    shown = listed(records)
    lines = [
        "## pytest-kfs models",
        "",
        f"**{markdown(headline(records))}**",
        "",
        *[f"- **{markdown(line)}**" for line in causes],
        *([""] if causes else []),
        *(
            [
                f"_{len(records) - len(shown)} healthy models are not listed (see the JSON "
                "report)._",
                "",
            ]
            if len(shown) < len(records)
            else []
        ),
        "| model | verdict | time | state | top finding |",
        "|---|---|---|---|---|",
    ]
    for record in shown:
        top = record["findings"][0]["code"] if record["findings"] else ""
        took = f"{record['seconds']:.2f}s" if record.get("seconds") is not None else "-"
        cluster = f"{record['cluster']}:" if record.get("cluster") else ""
        lines.append(
            f"| {markdown_code(cluster + record['namespace'] + '/' + record['name'])} | "
            f"{markdown(record['verdict'])} | {took} | "
            f"{markdown(record.get('state') or '')} | {markdown(top)} |"
        )
    for record in shown:
        failing = [f for f in record["findings"] if f.get("failure")]
        if failing:
            lines += ["", f"### {markdown_code(record['name'])} ({markdown(record['test'])})"]
            for finding in failing:
                lines += [
                    f"- **{markdown(finding['code'])}**: {markdown(finding['cause'])}",
                    f"  - fix: {markdown_code(finding['fix'])}",
                ]
    return "\n".join(lines) + "\n"


def json_report(
    records: Sequence[dict[str, Any]], run_id: str, cluster: dict[str, Any]
) -> dict[str, Any]:
    """The --kfs-report document (schema pytest-kfs/report, version 1)."""
    return {
        "schema": REPORT_SCHEMA,
        "version": REPORT_VERSION,
        "run_id": run_id,
        "cluster": cluster,
        "models": list(records),
    }
