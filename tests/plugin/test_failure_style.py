"""One failure style for every check: the answer (code: cause — fix) is the failure's first
line, so the short summary, a CI log at 80 columns and JUnit's message= carry the finding;
the evidence follows in the report body; no traceback, no assertion introspection. Through
real pytest, xdist workers included (their reports cross a process boundary)."""

import xml.etree.ElementTree as ET

import pytest

CHECK = """
from pytest_kfs import Code, Finding, fail_with

def test_list():
    fail_with(Finding(
        Code.GCS_LIST_DENIED, "reader@p.iam.gserviceaccount.com cannot list gs://models/m",
        ('storage client log: "403 GET https://storage.googleapis.com/storage/v1/b/models/o"',),
        "gcloud storage buckets add-iam-policy-binding gs://models "
        "--member=serviceAccount:reader@p.iam.gserviceaccount.com "
        "--role=roles/storage.objectViewer"))
"""
ANSWER = (
    "GCS_LIST_DENIED: reader@p.iam.gserviceaccount.com cannot list gs://models/m — fix: "
    "gcloud storage buckets add-iam-policy-binding gs://models "
    "--member=serviceAccount:reader@p.iam.gserviceaccount.com "
    "--role=roles/storage.objectViewer"
)


@pytest.mark.parametrize("workers", [[], ["-n", "2", "-p", "xdist"]], ids=["serial", "xdist"])
def test_the_answer_leads_the_summary_and_junit(pytester, monkeypatch, workers):
    pytester.makepyfile(test_check=CHECK)
    monkeypatch.setenv("CI", "true")  # pytest then prints the whole crash line
    result = pytester.runpytest_subprocess(
        "-rf", "--junitxml=junit.xml", "-p", "no:cacheprovider", *workers, timeout=120
    )
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert f"FAILED test_check.py::test_list - {ANSWER}" in output.splitlines()
    assert "evidence: storage client log" in output  # in the report body
    assert "(CheckFailed at " in output
    assert "Traceback" not in output and "assert " not in output and "fail_with(" not in output
    case = ET.parse(pytester.path / "junit.xml").getroot().find(".//testcase")
    failure = case.find("failure")
    assert failure.get("message") == ANSWER
    assert "evidence: storage client log" in failure.text


def test_at_80_columns_the_line_starts_with_the_code(pytester, monkeypatch):
    pytester.makepyfile(test_check=CHECK)
    for name in ("CI", "BUILD_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    result = pytester.runpytest_subprocess("-rf", "-p", "no:cacheprovider", timeout=120)
    line = next(line for line in result.stdout.lines if line.startswith("FAILED"))
    assert line.startswith("FAILED test_check.py::test_list - GCS_LIST_DENIED: reader@")
    assert len(line) <= 80 and line.endswith("...")
    # Whatever the test id leaves of that line, the run's own section has the whole answer.
    section = result.stdout.lines[
        result.stdout.lines.index(
            next(line for line in result.stdout.lines if "pytest-kfs failed checks" in line)
        )
        + 1 :
    ]
    assert all(len(line) <= 80 for line in section if " " in line.strip())  # whole words
    assert " ".join(line.strip() for line in section[:6]).startswith(ANSWER)
    assert section[section.index("  failed 1 test:") + 1] == "    test_check.py::test_list"


TWICE = (
    CHECK
    + """

def test_probe():
    test_list()
"""
)


@pytest.mark.parametrize("workers", [[], ["-n", "2", "-p", "xdist"]], ids=["serial", "xdist"])
def test_a_cause_is_said_once_across_tests(pytester, workers):
    pytester.makepyfile(test_check=TWICE)
    result = pytester.runpytest_subprocess("-rf", "-p", "no:cacheprovider", *workers, timeout=120)
    result.assert_outcomes(failed=2)
    output = result.stdout.str()
    assert output.count("evidence: storage client log") == 1
    assert output.count("(the same finding as test_check.py::test_") == 1
    summary = [line for line in result.stdout.lines if line.startswith("FAILED")]
    assert len(summary) == 2 and all("- GCS_LIST_DENIED: reader@" in line for line in summary)


TWO_WORDINGS = (
    CHECK
    + """

def test_model():
    fail_with(Finding(
        Code.GCS_LIST_DENIED,
        "reader@p.iam.gserviceaccount.com cannot list gs://models/m: KServe's "
        "storage-initializer lists the prefix first and is denied storage.objects.list",
        ('storage-initializer log: "403 GET ..."',),
        "gcloud storage buckets add-iam-policy-binding gs://models "
        "--member=serviceAccount:reader@p.iam.gserviceaccount.com "
        "--role=roles/storage.objectViewer"))
"""
)


def test_one_cause_worded_two_ways_is_said_once(pytester, monkeypatch):
    """A bucket check and a failed model word one denial differently: same code, same fix,
    one cause in the run's section; each test keeps its own answer and evidence."""
    pytester.makepyfile(test_check=TWO_WORDINGS)
    monkeypatch.setenv("CI", "true")  # pytest then prints the whole crash line
    result = pytester.runpytest_subprocess("-rf", "-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(failed=2)
    output = result.stdout.str()
    assert "(the same finding as" not in output
    assert output.count('evidence: storage-initializer log: "403 GET ..."') == 1
    assert "  failed 2 tests:" in result.stdout.lines
    summary = [line for line in result.stdout.lines if line.startswith("FAILED")]
    assert any("KServe's storage-initializer lists" in line for line in summary)
