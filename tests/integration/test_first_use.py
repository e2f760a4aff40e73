"""What a run needs builds on first use (issue 28): two runs that start at once build once, and
a machine without Go gets one line (tests/plugin/test_packaging.py runs the README's pip path).

Each test gets a cache of its own (XDG_CACHE_HOME) that links the machine's built parts but
lacks the KServe release's manifests, so the first-use build runs for real (Go fetches the
module and the manifests are copied) without recompiling kube-apiserver for every test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_kfs.local import assets
from pytest_kfs.local.kserve.releases import release
from tests.integration.helpers import cache_lacking_manifests

WANTED = release()


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("KFS_")}
    return {**env, "XDG_CACHE_HOME": str(cache), **extra}


def _ensure_in_a_process(cache: Path) -> subprocess.Popen[str]:
    code = (
        "from pytest_kfs.local import assets\n"
        "from pytest_kfs.local.kserve.releases import release\n"
        "assets.ensure_built(release())\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=_env(cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _until_waiting(run: subprocess.Popen[str]) -> str:
    """What the run said up to its line that it waits for the lock (it blocks after it)."""
    said = ""
    assert run.stdout is not None
    while "waiting for it to finish" not in said:
        line = run.stdout.readline()
        assert line, f"the run ended without waiting: {said}"
        said += line
    return said


def test_two_runs_that_start_at_once_build_once(tmp_path, monkeypatch):
    cache = cache_lacking_manifests(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    # Both runs start while the lock is held, so both find the manifests lacking and must
    # wait: whichever gets the lock first builds, the other then finds the work done.
    with assets.build_lock():
        runs = [_ensure_in_a_process(cache) for _ in range(2)]
        said = [_until_waiting(run) for run in runs]
    outputs = [
        before + run.communicate(timeout=300)[0] for before, run in zip(said, runs, strict=True)
    ]
    assert [run.returncode for run in runs] == [0, 0], outputs
    combined = "\n".join(outputs)
    assert combined.count("waiting for it to finish") == 2, combined
    assert combined.count(f"fetching {assets.MODULE}@{WANTED.version}") == 1, combined
    assert (assets.kserve_manifests(WANTED) / "config" / "configmap").is_dir()
    assert assets.missing(WANTED) == []


def test_without_go_the_run_stops_with_one_line(pytester, tmp_path):
    cache = cache_lacking_manifests(tmp_path / "cache")
    bare_path = tmp_path / "bin"  # no Go on PATH (the interpreter is named in full)
    bare_path.mkdir()
    pytester.makepyfile("def test_needs_the_cluster(kfs_cluster):\n    pass\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--kfs-cluster=local", "-p", "no:cacheprovider"],
        cwd=pytester.path,
        env=_env(cache, PATH=str(bare_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors == [
        f"ERROR: pytest-kfs: the embedded cluster needs KServe {WANTED.version}'s manager and "
        "manifests, built once from the Go module proxy, and Go is not installed: install Go "
        "1.24 or newer and run again (the first run builds them)"
    ]
    assert "Traceback" not in result.stdout + result.stderr
