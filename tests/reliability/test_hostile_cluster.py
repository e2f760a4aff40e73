"""A cluster that hands the plugin hostile text, for real: crafted events (terminal escapes,
a fake PASSED, a flood) reach the -v progress lines, the failure block and the reports as
data, bounded."""

import json
import socket
import xml.etree.ElementTree as ET

import pytest

HOSTILE = "\x1b]0;owned-title\x07\x1b[2K\r PASSED <script>alert(1)</script> | `x`"


@pytest.fixture
def silent_server():
    """A model URL that never answers: the wait goes on while the events arrive."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/model.joblib"


def test_crafted_events_are_shown_not_obeyed_and_bounded(pytester, inner, silent_server):
    pytester.makepyfile(f"""
        import threading

        HOSTILE = {HOSTILE!r}

        def test_flooded(kfs_deploy, kfs_cluster, kfs_namespace):
            model = kfs_deploy(storage_uri={silent_server!r}, model_format="sklearn")

            def flood():
                for index in range(520):
                    kfs_cluster.core.create_namespaced_event(str(kfs_namespace), {{
                        "metadata": {{"generateName": "hostile-"}},
                        "involvedObject": {{"kind": "InferenceService", "name": "model",
                                            "namespace": str(kfs_namespace)}},
                        "reason": "Hostile", "type": "Warning",
                        "message": HOSTILE + str(index) + "x" * (5000 if index == 0 else 0)}})
            threading.Thread(target=flood, daemon=True).start()
            model.wait_loaded(timeout=25)
    """)
    result = inner(
        "-v",
        "--kfs-report=report.json",
        "--kfs-html=report.html",
        "--junitxml=junit.xml",
        "-o",
        "junit_family=xunit1",
    )
    result.assert_outcomes(failed=1)
    output = result.stdout.str() + result.stderr.str()
    assert "\x1b" not in output and "\x07" not in output
    assert "\\x1b]0;owned-title" in output  # shown, as data
    report = json.loads((pytester.path / "report.json").read_text())
    timeline = report["models"][0]["timeline"]
    assert len(timeline) == 502  # 500, the note that it is full, the latest
    assert timeline[500]["text"].startswith("timeline full")
    junit = (pytester.path / "junit.xml").read_text()
    ET.fromstring(junit)  # well-formed: the escapes did not break it
    assert "\x1b" not in junit and "<script>" not in junit
    page = (pytester.path / "report.html").read_text()
    assert "\x1b" not in page and "<script>alert" not in page
    assert all(len(entry["text"]) <= 2100 for entry in timeline)
