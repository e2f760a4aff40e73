"""`python -m pytest_kfs diagnose`: what a user pastes, read as evidence with unknowns kept
unknown. Inputs are real: the README's example is KServe v0.20.0's own status and storage
initializer log from the embedded cluster's seed scenario."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_kfs.diagnosis.codes import markdown_table
from pytest_kfs.diagnosis.pasted import Pasted, diagnose_pasted, read_text
from pytest_kfs.kserve.status import ModelState, describe

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "docs" / "examples" / "seed"
README = (ROOT / "README.md").read_text()


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_kfs", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_readme_example_runs_as_shown():
    block = re.search(
        r"```console\n\$ python -m pytest_kfs (.+?)\n(?!    )(.+?)\n```", README, re.S
    )
    assert block, "the README's diagnose example"
    args = block[1].replace("\\\n", " ").split()
    result = run(*args)
    assert result.returncode == 1  # not serving
    assert result.stdout.splitlines()[0] == block[2]


def test_the_seed_status_alone_asks_for_evidence_and_invents_none():
    result = run("diagnose", str(SEED / "inferenceservice.yaml"), "--json")
    answer = json.loads(result.stdout)
    assert answer["verdict"] == "waiting"
    top = answer["findings"][0]
    assert top["code"] == "NEEDS_EVIDENCE"
    assert "get pods -l serving.kserve.io/inferenceservice=model" in top["fix"]
    assert {"pods", "logs", "events"} <= set(answer["unknown"])
    text = json.dumps(answer)
    assert "none running" not in text and "scaled to zero" not in text.lower()


def test_with_the_initializer_log_it_names_the_grant():
    result = run(
        "diagnose",
        str(SEED / "inferenceservice.yaml"),
        "--log",
        f"storage-initializer={next(SEED.glob('*.log'))}",
        "--json",
    )
    top = json.loads(result.stdout)["findings"][0]
    assert top["code"] == "GCS_LIST_DENIED"
    assert top["fix"].endswith(
        "--member=serviceAccount:gcs-permission-denied@kfs-demo.iam."
        "gserviceaccount.com --role=roles/storage.objectViewer"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file or directory"),
        ("key: [unclosed", "not YAML (line 1)"),
        ("- a\n- b\n", "a YAML list, not a Kubernetes object"),
        ("kind: ConfigMap\n", ""),  # a kind it does not read: ignored, nothing else given
    ],
)
def test_bad_input_is_one_line_and_no_traceback(tmp_path, content, message):
    path = tmp_path / "pasted.yaml"
    if content is not None:
        path.write_text(content)
    result = run("diagnose", str(path))
    if message:
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and message in result.stderr
        assert "Traceback" not in result.stderr
    else:
        assert result.returncode == 1 and "NEEDS_EVIDENCE" in result.stdout


def test_nothing_given_is_a_usage_error():
    result = run("diagnose")
    assert result.returncode == 2 and "usage: python -m pytest_kfs diagnose" in result.stderr


def test_hostile_text_is_shown_not_obeyed(tmp_path):
    log = tmp_path / "pod.storage-initializer.log"
    log.write_text(
        "RuntimeError: \x1b[2J\x1b[31mowned\u202e Temporary failure in name resolution\r\n"
    )
    result = run("diagnose", str(log))
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert "\\x1b[2J" in result.stdout and "STORAGE_UNREACHABLE" in result.stdout


def test_describe_output_and_event_tables_are_read():
    # kubectl describe of KServe v0.20.0's seed status, in the layout kubectl prints it.
    pasted = Pasted()
    read_text(
        """Status:
  Conditions:
    Last Transition Time:  2026-11-26T06:43:25Z
    Message:               Deployment does not have minimum availability.
    Reason:                MinimumReplicasUnavailable
    Status:                False
    Type:                  Ready
  Deployment Mode:         Standard
  Model Status:
    States:
      Active Model State:
      Target Model State:  Loading
    Transition Status:     InProgress
Events:
  Type     Reason         Age   From                 Message
  ----     ------         ----  ----                 -------
  Warning  InternalError  2s    v1beta1Controllers   fails to reconcile predictor
""",
        pasted,
    )
    state = ModelState.from_isvc(pasted.inferenceservice)
    assert state.summary() == "Active (none) / Target Loading / InProgress, Ready=False"
    assert state.conditions[0].reason == "MinimumReplicasUnavailable"
    assert pasted.events == [
        {"type": "Warning", "reason": "InternalError", "message": "fails to reconcile predictor"}
    ]


def test_a_stuck_new_revision_next_to_a_serving_old_one_says_so():
    # The fields KServe's PropagateStatus copies from the Knative Service (v0.20.0,
    # pkg/apis/serving/v1beta1/inference_service_status.go): LatestCreatedRevision is the new
    # revision, LatestReadyRevision the one that still takes the traffic.
    isvc = {
        "metadata": {"name": "fraud", "namespace": "models"},
        "status": {
            "conditions": [{"type": "Ready", "status": "False", "reason": "RevisionMissing"}],
            "components": {
                "predictor": {
                    "latestCreatedRevision": "fraud-predictor-00002",
                    "latestReadyRevision": "fraud-predictor-00001",
                }
            },
            "modelStatus": {
                "states": {"activeModelState": "Loaded", "targetModelState": "Pending"},
                "transitionStatus": "InProgress",
            },
        },
    }
    assert describe(ModelState.from_isvc(isvc)) == (
        "revision fraud-predictor-00002 is not ready (Active Loaded / Target Pending / "
        "InProgress, Ready=False); revision fraud-predictor-00001 still serves"
    )
    # Pods, events and logs read, and nothing in them: no cause, but the revisions say where.
    pasted = Pasted(
        inferenceservice=isvc, pods=[], events=[], logs={"kserve-container": "INFO: starting"}
    )
    top = diagnose_pasted(pasted).findings[0]
    assert top.code == "ROLLOUT_STUCK"
    assert "fraud-predictor-00001 still serves" in top.cause


def test_the_readme_lists_every_code():
    assert markdown_table() in README
