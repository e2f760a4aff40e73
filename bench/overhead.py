"""Overhead: pytest start-up with and without the plugin and the embedded cluster, and what a
test pays for its fresh namespace against a bare test."""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from processes import run_sampled

COUNT = 30


def _wall(directory: Path, *args: str, repeat: int) -> float:
    walls = []
    for _ in range(repeat):
        wall, _, finished = run_sampled([sys.executable, "-m", "pytest", "-q",
                                         "-p", "no:cacheprovider", *args], directory)
        if finished.returncode != 0:
            raise SystemExit(f"overhead run failed:\n{finished.stdout[-2000:]}")
        walls.append(wall)
    return statistics.median(walls)


def overhead(repeat: int) -> dict[str, Any]:
    """Medians over `repeat` runs (seconds)."""
    with tempfile.TemporaryDirectory(prefix="kfs-bench-overhead-") as work:
        directory = Path(work)
        (directory / "test_one.py").write_text("def test_x():\n    pass\n")
        (directory / "test_bare.py").write_text(
            f"import pytest\n\n@pytest.mark.parametrize('i', range({COUNT}))\n"
            "def test_bare(i):\n    pass\n")
        (directory / "test_namespaced.py").write_text(
            f"import pytest\n\n@pytest.mark.parametrize('i', range({COUNT}))\n"
            "def test_namespaced(kfs_namespace, i):\n    pass\n")
        without = _wall(directory, "-p", "no:kfs", "test_one.py", repeat=repeat)
        loaded = _wall(directory, "test_one.py", repeat=repeat)
        embedded = _wall(directory, "--kfs-cluster=local", "test_one.py", repeat=repeat)
        bare = _wall(directory, "--kfs-cluster=local", "test_bare.py", repeat=repeat)
        namespaced = _wall(directory, "--kfs-cluster=local", "test_namespaced.py",
                           repeat=repeat)
    return {
        "startup_without_plugin_s": without,
        "startup_with_plugin_no_cluster_s": loaded,
        "startup_with_embedded_cluster_s": embedded,
        "per_test_bare_ms": (bare - embedded) / (COUNT - 1) * 1000,
        "per_test_with_namespace_ms": (namespaced - embedded) / (COUNT - 1) * 1000,
        "namespace_overhead_per_test_ms": (namespaced - bare) / COUNT * 1000,
    }
