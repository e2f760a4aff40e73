"""The run's reporting, as its own plugin object (xdist's reporter pattern): the plugin's own
errors shown as their message, model records gathered from every worker, JUnit kept to what
its family allows, the terminal's model table, and the JSON, HTML and GitHub step summary."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# pytest has no public constructor for a failure's repr; xdist builds these the same way.
from _pytest._code.code import (
    ReprEntryNative,
    ReprExceptionInfo,
    ReprFileLocation,
    ReprTracebackNative,
)

from pytest_kfs.errors import DeployError, KfsError
from pytest_kfs.plugin.stash import RECORD_PROPERTY, RECORDS, REPORTS, RUN_CLUSTER, RUN_ID, SETTINGS
from pytest_kfs.untrusted import redacted

if TYPE_CHECKING:
    from pytest_kfs.deploy import ModelHandle
    from pytest_kfs.diagnosis.finding import Finding
    from pytest_kfs.kserve.status import ModelState, Verdict
    from pytest_kfs.wait import WaitResult


def answer_repr(message: str, where: str, path: str, lineno: int) -> ReprExceptionInfo:
    """A failure shown as its message and where it was raised, no traceback. The crash line,
    which the short summary and JUnit's message= show, is the message's first line: the
    answer, not the evidence under it. An exception repr (not a string) so that xdist carries
    the crash line to the controller."""
    text = f"{message}\n\n({where})\n"  # said_before() reads this shape
    first = message.split("\n", 1)[0]
    return ReprExceptionInfo(
        reprtraceback=ReprTracebackNative([text]), reprcrash=ReprFileLocation(path, lineno, first)
    )


# The end of an answer_repr() text: "(ModelNotLoaded at suites/test_x.py:12)".
_WHERE = re.compile(r"\n\n\(\w+ at [^\n]*\)\n\Z")


def said_before(report: pytest.TestReport, said: dict[str, list[str]]) -> None:
    """A check's finding is said once: a later test failing with the same answer line keeps
    the line and says which test shows the evidence (`said`: answer -> the tests, first
    first). The same cause worded another way keeps its own evidence (a failed model's
    timeline is not a bucket check's); the run's section groups them (cause_lines)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    traceback = getattr(report.longrepr, "reprtraceback", None)
    entries = getattr(traceback, "reprentries", None)
    if (
        not report.failed
        or crash is None
        or not entries
        or not isinstance(entries[0], ReprEntryNative)
    ):
        return
    text = "".join(entries[0].lines)
    where = _WHERE.search(text)
    if where is None:
        return  # not one of the plugin's own answers
    marker = where.start()
    tests = said.setdefault(crash.message, [])
    tests.append(report.nodeid)
    first = tests[0]
    if first != report.nodeid and traceback is not None:
        traceback.reprentries = [
            ReprEntryNative(
                [
                    f"{crash.message}\n  (the same finding as {first}; its evidence is there)"
                    f"{text[marker:]}"
                ]
            )
        ]


class KfsReporting:
    """Gathers what the tests recorded and writes it out at the end (controller only)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = time.monotonic()
        self.said: dict[str, list[str]] = {}  # a check's answer line -> the tests that failed so

    @property
    def _controller(self) -> bool:
        return not hasattr(self.config, "workerinput")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Remember each phase's report (namespaces are kept on failure when asked); show the
        plugin's own errors as their message, answer first (the short summary and JUnit's
        message= take the first line), then where in the test; no traceback."""
        report = yield
        item.stash.setdefault(REPORTS, {})[report.when] = report
        error = call.excinfo.value if call.excinfo else None
        if report.failed and isinstance(error, KfsError):
            assert call.excinfo is not None
            where = next(
                (
                    f"{entry.path}:{entry.lineno + 1}"
                    for entry in reversed(call.excinfo.traceback)
                    if Path(entry.path) == item.path
                ),
                item.nodeid,
            )
            prefix = "pytest-kfs: cannot deploy: " if isinstance(error, DeployError) else ""
            report.longrepr = answer_repr(
                f"{prefix}{redacted(str(error))}",
                f"{type(error).__name__} at {where}",
                str(item.path),
                item.location[1] or 0,
            )
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Gather model records (xdist brings them over from the workers), then keep JUnit
        to what its family allows: the record is transport, never a property, and test-level
        properties exist in xunit1 only (pytest's default, xunit2, has none)."""
        for key, value in report.user_properties:
            if key == RECORD_PROPERTY:
                record = json.loads(str(value))
                self.config.stash[RECORDS][
                    f"{record['test']}::{record['namespace']}/{record['name']}"
                ] = record
        if not self._controller:
            return  # the controller reads the record from the report it receives
        said_before(report, self.said)
        xunit1 = self.config.getini("junit_family") == "xunit1"
        report.user_properties = [
            (key, value)
            for key, value in report.user_properties
            if key != RECORD_PROPERTY and (xunit1 or not str(key).startswith("kfs_"))
        ]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The failed checks by cause, wrapped to the terminal (the answer survives 80
        columns, where pytest's short summary has no room left after a long test id); then
        one row per model."""
        if self.said:
            from pytest_kfs.reports.terminal import cause_lines

            terminalreporter.section("pytest-kfs failed checks")
            for line in cause_lines(self.said, self.config.get_terminal_writer().fullwidth):
                terminalreporter.write_line(line)
        records = list(self.config.stash[RECORDS].values())
        if records:
            from pytest_kfs.reports.terminal import summary_rows

            terminalreporter.section("pytest-kfs models")
            width = self.config.get_terminal_writer().fullwidth
            for row in summary_rows(records, width):
                terminalreporter.write_line(row)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write the JSON report, the HTML report and the GitHub step summary."""
        if not self._controller:
            return
        records = list(self.config.stash[RECORDS].values())
        run = self.config.stash.get(RUN_CLUSTER, None)
        path = self.config.getoption("kfs_report")
        if path:
            from pytest_kfs.reports.terminal import json_report

            cluster = (
                {
                    "context": run.cluster.context,
                    "server": run.cluster.address,
                    "kubernetes": run.cluster.server_version,
                    "kserve": run.cluster.kserve_description,
                }
                if run
                else {}
            )
            document = json_report(records, self.config.stash[RUN_ID], cluster)
            Path(path).write_text(json.dumps(document, indent=2))
        html_path = self.config.getoption("kfs_html")
        if html_path:
            from pytest_kfs.reports.html import render

            Path(html_path).write_text(
                render(
                    records,
                    cluster=run.cluster.describe() if run else None,
                    run_id=self.config.stash[RUN_ID],
                    scenario=", ".join(self.config.stash[SETTINGS].scenarios) or None,
                    duration=time.monotonic() - self.started,
                )
            )
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary and records:
            from pytest_kfs.reports.terminal import markdown_summary

            with open(step_summary, "a", encoding="utf-8") as out:
                out.write(markdown_summary(records))


def _record(node: pytest.Item, data: dict[str, Any], seconds: float | None) -> None:
    node.user_properties += [
        ("kfs_model", f"{data['namespace']}/{data['name']}"),
        ("kfs_storage_uri", data["storage_uri"]),
        ("kfs_verdict", data["verdict"]),
        ("kfs_time_to_loaded_s", f"{seconds:.3f}" if seconds is not None else ""),
        ("kfs_principal", data["principal"] or ""),
        ("kfs_findings", ",".join(f["code"] for f in data["findings"])),
        (RECORD_PROPERTY, json.dumps(data)),
    ]


def record_snapshot(
    node: pytest.Item,
    namespace: str,
    name: str,
    storage_uri: str,
    state: ModelState,
    outcome: Verdict,
    findings: list[Finding],
) -> None:
    """Record a read-only observation (no wait, no timeline) like a finished wait."""
    from pytest_kfs.reports.terminal import model_record
    from pytest_kfs.wait import TimelineEntry, WaitResult

    result = WaitResult(
        verdict=outcome,
        state=state,
        elapsed=0.0,
        timeline=[TimelineEntry(0.0, "isvc", state.summary(), state)],
    )
    _record(node, model_record(node.nodeid, namespace, name, storage_uri, result, findings), None)


def recorder(node: pytest.Item) -> Callable[[ModelHandle, WaitResult, list[Finding]], None]:
    """Record each finished wait as test properties (JUnit shows them; reports read them)."""
    from pytest_kfs.reports.terminal import model_record

    def record(handle: ModelHandle, result: WaitResult, findings: list[Finding]) -> None:
        model = handle.manifest["spec"]["predictor"].get("model") or {}
        data = model_record(
            node.nodeid,
            handle.namespace,
            handle.name,
            model.get("storageUri", ""),
            result,
            findings,
        )
        _record(node, data, result.elapsed if result.loaded else None)

    return record
