"""One control plane per run, shared by xdist workers, and nothing left behind afterwards."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pytest_kfs.local import controlplane

RECORDING_TEST = textwrap.dedent(
    """
    import json, os, time
    from pathlib import Path

    def _record(kfs_cluster, name):
        workdir = str(kfs_cluster.kubeconfig.parent)
        pids = [p.name for p in Path("/proc").iterdir() if p.name.isdigit()
                and workdir in _cmdline(p)]
        Path(os.environ["KFS_RECORD"], name).write_text(json.dumps(
            {"server": kfs_cluster.server, "workdir": workdir, "pids": pids,
             "worker": os.environ.get("PYTEST_XDIST_WORKER", "main")}))

    def _cmdline(proc):
        try:
            return (proc / "cmdline").read_text(errors="replace")
        except OSError:
            return ""

    def test_one(kfs_cluster):
        _record(kfs_cluster, "one")
        time.sleep(float(os.environ.get("KFS_HOLD", "0.5")))

    def test_two(kfs_cluster):
        _record(kfs_cluster, "two")
        time.sleep(float(os.environ.get("KFS_HOLD", "0.5")))
    """
)


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if text in (proc / "cmdline").read_text(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _wait_gone(workdir: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _processes_mentioning(workdir):
        time.sleep(0.1)
    assert not _processes_mentioning(workdir), f"processes of {workdir} still running"


@pytest.fixture
def record_dir(tmp_path, monkeypatch):
    folder = tmp_path / "record"
    folder.mkdir()
    monkeypatch.setenv("KFS_RECORD", str(folder))
    return folder


def test_xdist_workers_share_one_control_plane(pytester, record_dir):
    pytester.makepyfile(test_shared=RECORDING_TEST)
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=local", "-n", "2", "-p", "xdist", timeout=180
    )
    result.assert_outcomes(passed=2)
    one = json.loads((record_dir / "one").read_text())
    two = json.loads((record_dir / "two").read_text())
    assert {one["worker"], two["worker"]} == {"gw0", "gw1"}
    assert one["server"] == two["server"]
    assert one["workdir"] == two["workdir"]
    assert len(one["pids"]) == 3  # etcd, kube-apiserver, kube-controller-manager
    assert not Path(one["workdir"]).exists()
    _wait_gone(one["workdir"], timeout=1)


def _start_and_wait_for_record(pytester, record_dir, hold: str) -> tuple[subprocess.Popen, dict]:
    pytester.makepyfile(test_hold=RECORDING_TEST)
    env = {**os.environ, "KFS_HOLD": hold}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "--kfs-cluster=local",
            "-p",
            "no:cacheprovider",
            "test_hold.py::test_one",
        ],
        cwd=pytester.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while not (record_dir / "one").exists():
        assert process.poll() is None, process.stdout.read().decode()
        assert time.monotonic() < deadline, "the inner run never reached its test"
        time.sleep(0.1)
    time.sleep(0.2)
    return process, json.loads((record_dir / "one").read_text())


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_run_cleans_up(pytester, record_dir, sent):
    process, record = _start_and_wait_for_record(pytester, record_dir, hold="60")
    process.send_signal(sent)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode != 0
    assert "Traceback" not in output.split("KeyboardInterrupt")[0]
    _wait_gone(record["workdir"])
    assert not Path(record["workdir"]).exists()


def test_killed_run_takes_its_processes_along_and_the_next_run_sweeps(pytester, record_dir):
    process, record = _start_and_wait_for_record(pytester, record_dir, hold="60")
    process.kill()
    process.wait(30)
    # The kernel's parent-death signal stops the control plane without any help.
    _wait_gone(record["workdir"])
    assert Path(record["workdir"]).exists()
    removed = controlplane.sweep_stale_workdirs()
    assert Path(record["workdir"]) in removed
    assert not Path(record["workdir"]).exists()
