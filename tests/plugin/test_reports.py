"""Reports: terminal summary, JUnit properties, JSON report, GitHub step summary; no secrets."""

import json
import re
import xml.etree.ElementTree as ET

TWO_MODELS = """
from pytest_kfs.local.scenarios import PRIVATE_BUCKET, PRIVATE_URI, PROJECT, seed_samples

def _key(kfs_gcp, name, grant):
    seed_samples(kfs_gcp)
    email = f"{name}@{PROJECT}.iam.gserviceaccount.com"
    kfs_gcp.ensure_service_account(email)
    if grant:
        kfs_gcp.grant_bucket(PRIVATE_BUCKET, "roles/storage.objectViewer",
                             f"serviceAccount:{email}")
    key = kfs_gcp.create_key(email)
    print("KEY-ID", key["private_key_id"])
    return key

def test_healthy(kfs_deploy, kfs_gcp):
    kfs_deploy("sklearn-iris", credentials=_key(kfs_gcp, "report-reader", True)).wait_loaded()

def test_stuck(kfs_deploy, kfs_gcp):
    kfs_deploy("sklearn-iris", storage_uri=PRIVATE_URI,
               credentials=_key(kfs_gcp, "report-stranger", False)).wait_loaded()
"""


def test_reports_carry_verdicts_timelines_and_findings(pytester, monkeypatch):
    pytester.makepyfile(test_two=TWO_MODELS)
    summary = pytester.path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=local",
        "--kfs-report=report.json",
        "--junitxml=junit.xml",
        "-o",
        "junit_family=xunit1",
        "-s",
        "--kfs-html=report.html",
        "-p",
        "no:cacheprovider",
        timeout=240,
    )
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()

    # Terminal: one row per model with verdict and top finding.
    assert "pytest-kfs models" in output
    rows = [line for line in output.splitlines() if "finding:" in line]
    assert any("loaded" in row and "finding: -" in row for row in rows)
    assert any("failed" in row and "finding: GCS_LIST_DENIED" in row for row in rows)

    # JSON report: stable schema with timelines and findings.
    report = json.loads((pytester.path / "report.json").read_text())
    assert (report["schema"], report["version"]) == ("pytest-kfs/report", 1)
    by_test = {model["test"].split("::")[-1]: model for model in report["models"]}
    assert by_test["test_healthy"]["verdict"] == "loaded"
    assert by_test["test_healthy"]["timeline"]
    stuck = by_test["test_stuck"]
    assert stuck["findings"][0]["code"] == "GCS_LIST_DENIED"
    assert stuck["principal"] == "report-stranger@kfs-demo.iam.gserviceaccount.com"

    # JUnit (xunit1): per-test properties CI systems show; the record that carries the model
    # between processes is not one of them.
    assert "kfs_record" not in (pytester.path / "junit.xml").read_text()
    junit = ET.parse(pytester.path / "junit.xml")
    properties = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in junit.iter("testcase")
    }
    assert properties["test_stuck"]["kfs_findings"].startswith("GCS_LIST_DENIED")
    assert properties["test_healthy"]["kfs_verdict"] == "loaded"
    assert float(properties["test_healthy"]["kfs_time_to_loaded_s"]) > 0

    # GitHub step summary: Markdown with the fix.
    markdown = summary.read_text()
    assert "| model | verdict | time | state | top finding |" in markdown
    assert "--role=roles/storage.objectViewer" in markdown

    # HTML: a timeline picture per model, the findings under it.
    page = (pytester.path / "report.html").read_text()
    assert page.count("<svg") == 2
    assert "GCS_LIST_DENIED" in page and "<rect" in page

    # No key material anywhere: the key ids the inner tests printed never reach a report.
    key_ids = re.findall(r"KEY-ID ([0-9a-f]{40})", output)
    assert key_ids
    assert "PRIVATE KEY" not in output
    for text in (json.dumps(report), (pytester.path / "junit.xml").read_text(), markdown, page):
        assert "PRIVATE KEY" not in text
        assert all(key_id not in text for key_id in key_ids)


def test_junit_xunit2_has_no_test_properties_and_no_warning(pytester):
    # pytest's default family: its schema allows no test-level properties.
    pytester.makepyfile("""
        def test_x(kfs_property):
            kfs_property("serving_identity", "key reader@p.iam.gserviceaccount.com")
    """)
    result = pytester.runpytest("--junitxml=junit.xml", "-W", "error")
    result.assert_outcomes(passed=1)
    assert "<property" not in (pytester.path / "junit.xml").read_text()
    result = pytester.runpytest("--junitxml=junit1.xml", "-o", "junit_family=xunit1")
    result.assert_outcomes(passed=1)
    assert 'name="kfs_serving_identity"' in (pytester.path / "junit1.xml").read_text()
