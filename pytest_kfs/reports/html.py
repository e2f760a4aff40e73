"""A self-contained HTML report: per model, a state timeline drawn as SVG, then findings."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pytest_kfs.kserve.status import State
from pytest_kfs.reports.terminal import headline, listed, root_causes
from pytest_kfs.untrusted import printable

_COLOURS = {
    State.PENDING: "#b0b7c3",
    State.LOADING: "#4a90d9",
    State.LOADED: "#2e9d5b",
    State.FAILED_TO_LOAD: "#d64545",
    State.STANDBY: "#8e7cc3",
    "": "#dddddd",
}
_OTHER = "#999999"  # a state this report does not know
_LEGEND = {
    **{state: colour for state, colour in _COLOURS.items() if state},
    "no status yet": _COLOURS[""],
    "other": _OTHER,
}
_WIDTH, _BAR, _LEFT = 760, 22, 10


def _segments(record: dict[str, Any]) -> list[tuple[float, float, str, str]]:
    """(start, end, state, label) from the isvc entries of the timeline."""
    points = [
        (entry["at"], entry.get("target") or "", entry["text"])
        for entry in record["timeline"]
        if entry["source"] == "isvc"
    ]
    end = max([record.get("seconds") or 0.0] + [entry["at"] for entry in record["timeline"]])
    segments = []
    for index, (start, state, text) in enumerate(points):
        stop = points[index + 1][0] if index + 1 < len(points) else end
        segments.append((start, max(stop, start), state, text))
    return segments


def _ticks(total: float) -> list[float]:
    """Axis marks at a round step: about five between 0 and `total` seconds."""
    step = next(
        (
            step
            for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600)
            if total / step <= 6
        ),
        1200.0,
    )
    return [index * step for index in range(int(total / step) + 1)]


def _failure(record: dict[str, Any]) -> tuple[float, str] | None:
    """When and why a failed wait failed: the first entry that shows it (else the end)."""
    if record.get("loaded"):
        return None
    code = record["findings"][0]["code"] if record["findings"] else record["verdict"]
    for entry in record["timeline"]:
        text = entry["text"]
        if (
            entry.get("target") == State.FAILED_TO_LOAD
            or entry["source"] == "event"
            or any(
                word in text
                for word in (
                    "Error",
                    "CrashLoopBackOff",
                    "OOMKilled",
                    "Unschedulable",
                    "ErrImagePull",
                    "ImagePullBackOff",
                )
            )
        ):
            return entry["at"], code
    return record.get("seconds") or 0.0, code


def _svg(record: dict[str, Any]) -> str:
    total = max(record.get("seconds") or 0.0, 0.001)
    scale = (_WIDTH - 2 * _LEFT) / total
    parts = [
        f'<svg width="{_WIDTH}" height="78" role="img" '
        f'aria-label="state timeline of {html.escape(record["name"])}">'
    ]
    for start, stop, state, text in _segments(record):
        x, width = _LEFT + start * scale, max((stop - start) * scale, 2)
        parts.append(
            f'<rect x="{x:.1f}" y="8" width="{width:.1f}" height="{_BAR}" '
            f'fill="{_COLOURS.get(state, _OTHER)}"><title>+{start:.2f}s '
            f"{html.escape(text)}</title></rect>"
        )
    for entry in record["timeline"]:
        if entry["source"] in ("pod", "event"):
            x = _LEFT + entry["at"] * scale
            colour = "#d64545" if "Error" in entry["text"] or entry["source"] == "event" else "#555"
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="34" y2="44" stroke="{colour}">'
                f"<title>+{entry['at']:.2f}s {html.escape(entry['text'])}</title>"
                "</line>"
            )
    failure = _failure(record)
    if failure is not None:
        at, code = failure
        x = _LEFT + at * scale
        anchor = "end" if x > _WIDTH / 2 else "start"
        parts.append(
            f'<line class="failure" x1="{x:.1f}" x2="{x:.1f}" y1="4" y2="46" '
            f'stroke="#d64545" stroke-width="3"><title>+{at:.2f}s failed: '
            f"{html.escape(code)}</title></line>"
            f'<text x="{x:.1f}" y="56" font-size="11" fill="#d64545" '
            f'text-anchor="{anchor}">failed +{at:.2f}s: {html.escape(code)}</text>'
        )
    for mark in _ticks(total):
        x = _LEFT + mark * scale
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="60" y2="64" stroke="#888"/>'
            f'<text x="{x:.1f}" y="75" font-size="10" text-anchor="middle">'
            f"{mark:g}s</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _visible(value: Any) -> Any:
    """Cluster text with its control characters shown, not kept (html.escape leaves them)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return [_visible(item) for item in value]
    if isinstance(value, dict):
        return {key: _visible(item) for key, item in value.items()}
    return value


def _summary(
    records: Sequence[dict[str, Any]],
    cluster: str | None,
    run_id: str | None,
    scenario: str | None,
    duration: float | None,
) -> str:
    """What a reader needs at a glance, before any timeline: counts, where, and why."""
    counts = Counter(record["verdict"] for record in records)
    rows = [
        (
            "models",
            html.escape(headline(records))
            + " — "
            + ", ".join(
                f'<span class="{html.escape(verdict)}">{count} {html.escape(verdict)}</span>'
                for verdict, count in counts.most_common()
            ),
        ),
        *([("cluster", html.escape(cluster))] if cluster else []),
        *([("scenario", html.escape(scenario))] if scenario else []),
        *([("run", html.escape(run_id))] if run_id else []),
        *([("duration", f"{duration:.1f}s")] if duration is not None else []),
    ]
    causes = root_causes(records)
    table = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    return f'<table class="summary">{table}</table>' + (
        f'<ul class="causes">{"".join(f"<li>{html.escape(c)}</li>" for c in causes)}</ul>'
        if causes
        else ""
    )


def _where(record: dict[str, Any]) -> str:
    """`namespace/name`, after its cluster's context in a merged report."""
    cluster = f"{record['cluster']}:" if record.get("cluster") else ""
    return f"{cluster}{record['namespace']}/{record['name']}"


def render(
    records: Sequence[dict[str, Any]],
    title: str = "pytest-kfs report",
    cluster: str | None = None,
    run_id: str | None = None,
    scenario: str | None = None,
    duration: float | None = None,
) -> str:
    """The whole document: a summary on top (counts by verdict, cluster, run, the failures by
    root cause), then each model's timeline and findings, titled by its test."""
    records = [_visible(record) for record in records]
    body = [
        f"<h1>{html.escape(title)}</h1>",
        _summary(records, cluster, run_id, scenario, duration),
        '<p class="legend">'
        + " ".join(
            f'<span style="background:{colour}">&nbsp;{state}&nbsp;</span>'
            for state, colour in _LEGEND.items()
        )
        + " — short ticks: pod changes (red: "
        "errors and warning events); the thick red line: where the model failed</p>",
    ]
    # Models of one root cause side by side: the first failures, grouped; the healthy last.
    shown = sorted(
        listed(records),
        key=lambda record: (
            record["loaded"],
            record["findings"][0]["code"] if record["findings"] else "",
        ),
    )
    if len(shown) < len(records):
        body.append(
            f"<p>{len(records) - len(shown)} healthy models are not drawn; the JSON "
            "report (--kfs-report) lists every model.</p>"
        )
    for record in shown:
        verdict = html.escape(record["verdict"])
        test = record["test"].split("::")[-1]
        body.append(
            f"<section><h2>{html.escape(test)} — {html.escape(record['name'])} "
            f'<span class="{verdict}">{verdict}</span></h2><p>'
            f"<code>{html.escape(_where(record))}</code> · "
            f"{html.escape(record.get('storage_uri') or '')} · "
            f"{record.get('seconds') or 0:.2f}s · {html.escape(record.get('state') or '')}"
            f"</p>{_svg(record)}"
        )
        for finding in record["findings"]:
            body.append(
                f'<div class="finding"><b>{html.escape(finding["code"])}</b> '
                f"{html.escape(finding['cause'])}<ul>"
                + "".join(f"<li>{html.escape(item)}</li>" for item in finding["evidence"])
                + f"</ul><p>fix: <code>{html.escape(finding['fix'])}</code></p></div>"
            )
        body.append("</section>")
    style = (
        "body{font-family:sans-serif;max-width:820px;margin:2em auto}"
        ".loaded,.scaled-to-zero{color:#2e9d5b}.failed,.waiting{color:#d64545}"
        ".finding{border-left:3px solid #d64545;padding-left:8px;margin:8px 0}"
        "code{background:#f3f3f3}.legend span{margin-right:4px;color:#fff}"
        ".summary th{text-align:left;padding-right:1em}.causes li{color:#d64545}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )
