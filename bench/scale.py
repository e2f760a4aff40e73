"""Scale: N healthy models through real pytest with -n 1, 2, ...: wall time, parallel
efficiency, peak memory, and whether each model's wait grows with N."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from processes import run_sampled

TESTS = """
import pytest
from pytest_kfs.local.scenarios import sample_key


@pytest.fixture(scope="session")
def key(kfs_gcp):
    return sample_key(kfs_gcp, "bench-reader")


@pytest.mark.parametrize("index", range(N))
def test_model(kfs_deploy, key, index):
    kfs_deploy("sklearn-iris", credentials=key).wait_loaded()
"""


def one(models: int, workers: int) -> dict[str, Any]:
    """Run N model tests with `workers` xdist workers (1: no xdist)."""
    with tempfile.TemporaryDirectory(prefix="kfs-bench-scale-") as work:
        directory = Path(work)
        (directory / "test_scale.py").write_text(f"N = {models}\n{TESTS}")
        command = [
            sys.executable,
            "-m",
            "pytest",
            "--kfs-cluster=local",
            "-q",
            "-p",
            "no:cacheprovider",
            "--kfs-report=report.json",
            "test_scale.py",
        ]
        if workers > 1:
            command += ["-p", "xdist", "-n", str(workers)]
        wall, peaks, finished = run_sampled(command, directory)
        if finished.returncode != 0:
            raise SystemExit(f"scale run failed:\n{finished.stdout[-3000:]}")
        waits = [
            m["seconds"] for m in json.loads((directory / "report.json").read_text())["models"]
        ]
    return {
        "models": models,
        "workers": workers,
        "wall_s": wall,
        "wait_median_s": statistics.median(waits),
        "wait_max_s": max(waits),
        "peak_rss_mib": {kind: round(value / 2**20) for kind, value in peaks.items()},
    }


def scale(sizes: list[int], worker_counts: list[int]) -> list[dict[str, Any]]:
    """Every size with every worker count; efficiency against the one-worker run."""
    rows = []
    for models in sizes:
        base = None
        for workers in worker_counts:
            row = one(models, workers)
            base = base or row["wall_s"]
            row["parallel_efficiency"] = base / row["wall_s"] / workers
            rows.append(row)
            print(f"  scale: {models} models, -n {workers}: {row['wall_s']:.1f}s", flush=True)
    return rows
