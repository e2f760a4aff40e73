"""The HTML report in a real browser (Debian's headless Chromium, driven by Selenium).

The page must render without console errors, show its summary without scrolling, keep hostile
cluster text as text (a `<script>` in a log line runs nothing), and draw the failure where it
happened. CI installs Chromium (`.ci/run`); elsewhere the test says how to get it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_kfs.reports.html import render

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HOSTILE = '<script>window.kfsPwned = 1</script><img src=x onerror="window.kfsPwned = 2">'

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
    "chromium-driver; .ci/run installs them)",
)


def _record(test: str, name: str, loaded: bool, log_line: str) -> dict:
    """A model's record as a real run writes it (the seed scenario's timeline, KServe v0.20.0)."""
    timeline = [
        {"at": 0.01, "source": "isvc", "text": "no model status yet"},
        {"at": 0.41, "source": "pod", "text": "pod model-predictor-79ff459cc5-pqnwl: Pending"},
        {
            "at": 0.65,
            "source": "isvc",
            "target": "Loading",
            "text": "Active (none) / Target Loading / InProgress, Ready=False",
        },
        {
            "at": 0.98,
            "source": "isvc",
            "target": "Loaded" if loaded else "FailedToLoad",
            "text": "Active Loaded / Target Loaded / UpToDate, Ready=True"
            if loaded
            else "Active (none) / Target FailedToLoad / BlockedByFailedLoad, Ready=False",
        },
    ]
    findings = (
        []
        if loaded
        else [
            {
                "code": "GCS_LIST_DENIED",
                "failure": True,
                "cause": "reader@kfs-demo.iam.gserviceaccount.com cannot list gs://models/m",
                "evidence": [f'storage-initializer log: "{log_line}"'],
                "fix": "gcloud storage buckets add-iam-policy-binding gs://models "
                "--member=serviceAccount:reader@kfs-demo.iam.gserviceaccount.com "
                "--role=roles/storage.objectViewer",
                "principal": "reader@kfs-demo.iam.gserviceaccount.com",
                "bucket": "models",
            }
        ]
    )
    return {
        "test": f"suites/test_x.py::{test}",
        "namespace": "kfs-ns",
        "name": name,
        "verdict": "loaded" if loaded else "failed",
        "loaded": loaded,
        "seconds": 0.99,
        "state": timeline[-1]["text"],
        "storage_uri": "gs://models/m",
        "timeline": timeline,
        "findings": findings,
    }


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,800",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_the_report_reads_at_a_glance_and_runs_no_cluster_text(browser, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(
        render(
            [
                _record("test_serves", "iris", True, "ok"),
                _record("test_denied", "fraud", False, HOSTILE),
            ],
            cluster="kfs-local (KServe v0.20.0)",
            run_id="ci-42",
        )
    )
    browser.get(page.as_uri())
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    assert browser.execute_script("return window.kfsPwned") is None
    text = browser.execute_script("return document.body.innerText")
    assert HOSTILE in text  # shown, as text
    summary = browser.execute_script(
        "const r = document.querySelector('table.summary').getBoundingClientRect();"
        "return [r.top, r.bottom, window.innerHeight, window.scrollY];"
    )
    assert summary[0] >= 0 and summary[1] <= summary[2] and summary[3] == 0, summary
    assert "2 models: 1 healthy, 1 not loaded" in text
    assert "1 model: GCS_LIST_DENIED for reader@kfs-demo.iam.gserviceaccount.com" in text
    # The failure is drawn where it happened, labelled; the axis is labelled.
    failure = browser.execute_script(
        "const l = document.querySelector('line.failure');"
        "return l && [l.getBoundingClientRect().height, l.parentNode.textContent];"
    )
    assert failure and failure[0] > 0 and "failed +0.98s: GCS_LIST_DENIED" in failure[1]
    assert browser.execute_script("return document.querySelectorAll('svg').length") == 2
    assert "0.8s" in browser.execute_script("return document.querySelector('svg').textContent")
