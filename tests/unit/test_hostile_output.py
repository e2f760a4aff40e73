"""One hostile corpus through every output: the failure block, the terminal rows, the GitHub
step summary, the JSON and HTML reports, and the offline diagnosis. Nothing in it may act:
no terminal control sequence, no Markdown link/image/HTML, no raw <script>, no unbounded size."""

import html.parser
import json
import re
import unicodedata

import pytest

from pytest_kfs.diagnosis.evidence import Evidence
from pytest_kfs.diagnosis.rules import diagnose
from pytest_kfs.kserve.status import ModelState, Verdict
from pytest_kfs.reports.html import render
from pytest_kfs.reports.terminal import format_block, markdown_summary, model_record, summary_rows
from pytest_kfs.wait import TimelineEntry, WaitResult

HOSTILE = [
    "\x1b]0;owned-title\x07",  # OSC: window title
    "\x1b[2K\r PASSED",  # erase the line, print a fake result
    "nul\x00byte",
    "pipe | breaks | tables",
    "tick ` breaks ``` code",
    "<script>alert(1)</script>",
    "[click](https://evil.example/x) ![pixel](https://evil.example/p.png)",
    "\u202eevil bidi",
    "x" * 1_000_000,  # one megabyte without a space
]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]")


def _failed_wait(text: str) -> tuple[WaitResult, list]:
    isvc = {
        "metadata": {"name": "model", "namespace": "ns"},
        "spec": {"predictor": {"model": {"storageUri": "gs://b/p"}}},
        "status": {
            "conditions": [{"type": "Ready", "status": "False", "message": text}],
            "modelStatus": {
                "states": {"activeModelState": "", "targetModelState": "FailedToLoad"},
                "transitionStatus": "BlockedByFailedLoad",
                "lastFailureInfo": {"reason": "ModelLoadFailed", "message": text},
            },
        },
    }
    state = ModelState.from_isvc(isvc)
    result = WaitResult(
        verdict=Verdict.FAILED,
        state=state,
        elapsed=1.0,
        reason=f"Failed: {text[:5000]}",
        timeline=[TimelineEntry(0.5, "event", text)],
    )
    evidence = Evidence(
        isvc=isvc,
        logs={"pod/storage-initializer": text},
        events=[{"reason": "Failed", "message": text}],
    )
    return result, diagnose(evidence)


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_nothing_from_the_cluster_acts_in_any_output(text):
    result, findings = _failed_wait(text)
    block = format_block("ns", "model", result, findings, 60)
    record = model_record("t.py::test", "ns", "model", "gs://b/p", result, findings)
    rows = summary_rows([record])
    for line in [*block.splitlines(), *rows]:
        assert not CONTROL.search(line), repr(line[:200])
        assert len(line) < 5000
    markdown = markdown_summary([record])
    assert not re.search(r"(?<!\\)[<\[]", markdown.replace("## pytest-kfs", "")), markdown[:300]
    assert not CONTROL.search(markdown.replace("\n", ""))
    for row in (line for line in markdown.splitlines() if line.startswith("| ")):
        assert len(re.findall(r"(?<!\\)\|", row)) == 6, row  # five cells, no more
    document = json.dumps(record)
    assert len(document) < 60_000
    page = render([record])
    assert "<script>alert" not in page
    assert all(unicodedata.category(ch) != "Cc" or ch in "\n\t" for ch in page if ch != "\r")
    html.parser.HTMLParser().feed(page)  # parses


def test_failures_are_grouped_by_root_cause_first():
    from pytest_kfs.reports.terminal import root_causes

    def record(name, code, principal, namespace="team-a"):
        return {
            "findings": [
                {
                    "code": code,
                    "principal": principal,
                    "bucket": "models",
                    "fix": "grant it",
                    "failure": True,
                }
            ],
            "name": name,
            "namespace": namespace,
            "loaded": False,
        }

    records = [
        record(f"m{i}", "GCS_LIST_DENIED", "reader@p.iam.gserviceaccount.com", f"team-{i % 3}")
        for i in range(6)
    ] + [record("odd", "OOM_KILLED", None)]
    records.append({"findings": [], "name": "quiet", "namespace": "team-b", "loaded": False})
    records.append({"findings": [], "name": "fine", "namespace": "team-b", "loaded": True})
    assert root_causes(records) == [
        "6 models in 3 namespaces: GCS_LIST_DENIED for reader@p.iam.gserviceaccount.com on "
        "gs://models — fix: grant it",
        "1 model: OOM_KILLED on gs://models — fix: grant it",
        "1 model: no cause found",
    ]


def test_a_fleet_summary_counts_the_healthy_and_lists_only_the_rest():
    from pytest_kfs.reports.terminal import markdown_summary, summary_rows

    def record(index, loaded):
        return {
            "test": f"t::test[{index}]",
            "namespace": f"team-{index % 7}",
            "name": f"model-{index}",
            "verdict": "loaded" if loaded else "waiting",
            "loaded": loaded,
            "seconds": 0.0,
            "state": "",
            "timeline": [],
            "findings": []
            if loaded
            else [
                {
                    "code": "OOM_KILLED",
                    "cause": "killed",
                    "fix": "raise the memory limit",
                    "failure": True,
                }
            ],
        }

    records = [record(index, index % 50 != 49) for index in range(1000)]
    rows = summary_rows(records)
    assert rows[:2] == [
        "1000 models: 980 healthy, 20 not loaded",
        "20 models in 7 namespaces: OOM_KILLED — fix: raise the memory limit",
    ]
    assert len(rows) == 22 and all("waiting" in row for row in rows[2:])
    page = markdown_summary(records)
    assert "_980 healthy models are not listed (see the JSON report)._" in page
    assert page.count("| ` team-") == 20


def test_the_html_report_starts_with_a_summary_and_titles_models_by_test():
    def record(test, name, verdict, findings):
        return {
            "test": f"suites/t.py::{test}",
            "namespace": "kfs-1",
            "name": name,
            "verdict": verdict,
            "loaded": verdict == "loaded",
            "seconds": 1.0,
            "state": "",
            "storage_uri": "gs://b/p",
            "timeline": [],
            "findings": findings,
        }

    denied = [
        {
            "code": "GCS_LIST_DENIED",
            "cause": "denied",
            "evidence": [],
            "fix": "grant",
            "principal": "r@p.iam.gserviceaccount.com",
            "bucket": "b",
            "failure": True,
        }
    ]
    page = render(
        [
            record("test_ok", "iris", "loaded", []),
            record("test_a", "m1", "failed", denied),
            record("test_b", "m2", "failed", denied),
        ],
        cluster="kfs-local (KServe v0.20.0)",
        run_id="ci-42",
        scenario="gcs-permission-denied",
        duration=83.25,
    )
    summary = page[: page.index("<section>")]
    assert "<th>scenario</th><td>gcs-permission-denied</td>" in summary
    assert "<th>duration</th><td>83.2s</td>" in summary
    # The failures first, side by side; the healthy model last.
    assert page.index("<h2>test_a") < page.index("<h2>test_b") < page.index("<h2>test_ok")
    assert "3 models: 1 healthy, 2 not loaded" in summary
    assert "2 failed" in summary and "1 loaded" in summary
    assert "kfs-local (KServe v0.20.0)" in summary and "ci-42" in summary
    assert "2 models: GCS_LIST_DENIED for r@p.iam.gserviceaccount.com on gs://b" in summary
    assert "<h2>test_a — m1 " in page


def test_the_html_timeline_marks_where_the_model_failed_and_labels_its_axis():
    """The seed scenario's timeline as a real run recorded it (this project's CI, KServe
    v0.20.0's manager): the failure is marked at +0.98s, where FailedToLoad was written."""
    timeline = [
        (0.01, "isvc", "no model status yet", None),
        (0.41, "pod", "pod model-predictor-79ff459cc5-pqnwl: Pending", None),
        (0.54, "isvc", "Active (none) / Target Pending / InProgress, Ready=False", "Pending"),
        (
            0.59,
            "pod",
            "pod model-predictor-79ff459cc5-pqnwl: Pending, "
            "storage-initializer=running, kserve-container=PodInitializing",
            None,
        ),
        (0.65, "isvc", "Active (none) / Target Loading / InProgress, Ready=False", "Loading"),
        (
            0.98,
            "isvc",
            "Active (none) / Target FailedToLoad / BlockedByFailedLoad, Ready=False",
            "FailedToLoad",
        ),
    ]
    record = {
        "test": "t.py::test_model_serves",
        "namespace": "kfs-a",
        "name": "model",
        "verdict": "failed",
        "loaded": False,
        "seconds": 0.99,
        "state": "",
        "storage_uri": "gs://kfserving-examples/models/sklearn/1.0/model",
        "timeline": [
            {"at": at, "source": source, "text": text, **({"target": target} if target else {})}
            for at, source, text, target in timeline
        ],
        "findings": [
            {
                "code": "GCS_LIST_DENIED",
                "cause": "denied",
                "evidence": [],
                "fix": "grant",
                "failure": True,
            }
        ],
    }
    page = render([record])
    assert 'class="failure" x1="742.5"' in page  # 10 + 0.98 / 0.99 * (760 - 2 * 10)
    assert "failed +0.98s: GCS_LIST_DENIED" in page
    assert [f">{mark}s</text>" in page for mark in ("0", "0.2", "0.4", "0.6", "0.8")] == [True] * 5
    assert "&nbsp;no status yet&nbsp;" in page and "&nbsp;other&nbsp;" in page
    healthy = render([{**record, "verdict": "loaded", "loaded": True, "findings": []}])
    assert 'class="failure"' not in healthy
