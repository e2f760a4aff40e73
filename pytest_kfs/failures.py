"""How a check fails: with a finding, answer first (`CODE: cause — fix`), then its evidence;
the plugin shows it as that text, no traceback and no assertion introspection. The one way
the suites (and checks written with the fixtures) fail."""

from __future__ import annotations

from typing import NoReturn

from pytest_kfs.diagnosis.finding import Finding
from pytest_kfs.errors import CheckFailed
from pytest_kfs.reports.terminal import format_answer


def fail_with(finding: Finding) -> NoReturn:
    """Fail the running test with `finding`."""
    __tracebackhide__ = True
    raise CheckFailed(format_answer(finding))
