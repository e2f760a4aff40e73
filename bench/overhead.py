"""Overhead: pytest start-up with and without the plugin and the embedded cluster, and what a
test pays for its fresh namespace against a bare test."""

from __future__ import annotations

import statistics
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

from processes import run_sampled

COUNT = 30


def _wall(directory: Path, *args: str, repeat: int) -> float:
    walls = []
    for _ in range(repeat):
        wall, _, finished = run_sampled(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], directory
        )
        if finished.returncode != 0:
            raise SystemExit(
                f"overhead run {args} failed (exit {finished.returncode}):\n"
                f"{finished.stdout[-2000:]}"
            )
        walls.append(wall)
    return statistics.median(walls)


def _per_test_ms(directory: Path, test_file: str) -> float:
    """Mean time per test (setup + call + teardown, from JUnit) with the embedded cluster:
    independent of how long the cluster took to start."""
    _wall(directory, "--kfs-cluster=local", f"--junitxml={test_file}.xml", test_file, repeat=1)
    cases = ElementTree.parse(directory / f"{test_file}.xml").getroot().iter("testcase")
    times = [float(case.get("time", "0")) for case in cases]
    return sum(times) / len(times) * 1000


def overhead(repeat: int) -> dict[str, Any]:
    """Medians over `repeat` runs (seconds)."""
    with tempfile.TemporaryDirectory(prefix="kfs-bench-overhead-") as work:
        directory = Path(work)
        (directory / "test_one.py").write_text("def test_x():\n    pass\n")
        (directory / "test_bare.py").write_text(
            f"import pytest\n\n@pytest.mark.parametrize('i', range({COUNT}))\n"
            "def test_bare(i):\n    pass\n"
        )
        (directory / "test_namespaced.py").write_text(
            f"import pytest\n\n@pytest.mark.parametrize('i', range({COUNT}))\n"
            "def test_namespaced(kfs_namespace, i):\n    pass\n"
        )
        without = _wall(directory, "-p", "no:kfs", "test_one.py", repeat=repeat)
        loaded = _wall(directory, "test_one.py", repeat=repeat)
        embedded = _wall(directory, "--kfs-cluster=local", "test_one.py", repeat=repeat)
        bare = statistics.median(_per_test_ms(directory, "test_bare.py") for _ in range(repeat))
        namespaced = statistics.median(
            _per_test_ms(directory, "test_namespaced.py") for _ in range(repeat)
        )
    return {
        "startup_without_plugin_s": without,
        "startup_with_plugin_no_cluster_s": loaded,
        "startup_with_embedded_cluster_s": embedded,
        "per_test_bare_ms": bare,
        "per_test_with_namespace_ms": namespaced,
        "namespace_overhead_per_test_ms": namespaced - bare,
    }
