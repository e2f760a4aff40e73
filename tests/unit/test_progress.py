"""Long build steps report progress as plain lines: a count, a share and an estimate, and a
failing step shows its last lines."""

import re
import sys

import pytest

from pytest_kfs.local import progress


def test_a_step_reports_its_count_share_and_end(capsys, monkeypatch):
    monkeypatch.setattr(progress, "_EVERY", 0.0)
    script = (
        "import time\nfor i in range(4):\n    print('pkg', i, flush=True)\n    time.sleep(0.05)\n"
    )
    lines = progress.run(
        [sys.executable, "-c", script],
        "compiling demo",
        lambda line: line.startswith("pkg"),
        total=8,
        unit="packages compiled",
    )
    assert lines == ["pkg 0", "pkg 1", "pkg 2", "pkg 3"]
    err = capsys.readouterr().err
    assert "compiling demo ..." in err
    assert "compiling demo: 2 of 8 packages compiled (25%), about" in err
    assert "compiling demo: done in" in err


def test_a_failing_step_carries_its_last_lines():
    with pytest.raises(progress.StepFailed) as failed:
        progress.run(
            [sys.executable, "-c", "print('cannot find package x'); raise SystemExit(3)"],
            "compiling demo",
            lambda line: False,
        )
    assert failed.value.returncode == 3 and "cannot find package x" in failed.value.output
    # A run that builds on first use shows it as its one error: the step, then why.
    shown = str(failed.value)
    assert shown.startswith(f"`{sys.executable} -c print('cannot find package x');")
    assert shown.endswith("failed with exit code 3; its last lines:\ncannot find package x")


def _shown(line: str) -> tuple[int, int, int]:
    """(done, total, percent) of an `N of M unit (P%)` progress line."""
    found = re.search(r"(\d+) of (\d+) .*\((\d+)%\)", line)
    assert found, line
    done, total, percent = (int(group) for group in found.groups())
    return done, total, percent


@pytest.mark.parametrize("done", [1, 100, 1716, 1717, 1718, 1882, 5000])
def test_the_count_never_passes_the_total_nor_100_percent(done):
    shown_done, shown_total, percent = _shown(
        progress._estimate(done, 1717, 120.0, "packages compiled")
    )
    assert shown_done == done and shown_done <= shown_total and percent <= 99


def test_past_the_estimated_total_the_count_is_the_total():
    # What a CI log showed: "1882 of 1717 packages compiled (100%)".
    line = progress._estimate(1882, 1717, 120.0, "packages compiled")
    assert line == "1882 of 1882 packages compiled (99%), finishing"


def test_the_share_is_floored_and_the_estimate_scales():
    assert progress._estimate(1716, 1717, 60.0, "steps").startswith("1716 of 1717 steps (99%)")
    assert progress._estimate(1, 4, 20.0, "steps") == "1 of 4 steps (25%), about 60 s left"
    assert progress._estimate(0, 4, 30.0, "steps") == "0 of 4 steps yet"
    assert progress._estimate(7, None, 30.0, "steps") == "7 steps"


def test_each_listed_name_counts_once_and_nothing_else_counts():
    counts = progress.each_once(["runtime", "k8s.io/api/core/v1", "k8s.io/kubernetes/cmd/x"])
    output = [
        "runtime",
        "runtime",
        "# k8s.io/api/core/v1",
        "note: inlining",
        "",
        "go: downloading k8s.io/api v0.34.4",
        "k8s.io/api/core/v1\n",
        "k8s.io/kubernetes/cmd/x",
        "k8s.io/other",
    ]
    assert [line for line in output if counts(line)] == [
        "runtime",
        "k8s.io/api/core/v1\n",
        "k8s.io/kubernetes/cmd/x",
    ]


def test_a_step_printing_more_than_its_total_stays_within_it(capsys, monkeypatch):
    monkeypatch.setattr(progress, "_EVERY", 0.0)
    listed = ["a", "b", "c"]
    script = "for name in ['a', 'a', 'x', 'b', '# b', 'c', 'c', 'y']:\n    print(name)\n"
    progress.run(
        [sys.executable, "-c", script],
        "compiling demo",
        progress.each_once(listed),
        total=len(listed),
        unit="packages compiled",
    )
    lines = [line for line in capsys.readouterr().err.splitlines() if " of " in line]
    assert lines, "no progress line"
    for line in lines:
        done, total, percent = _shown(line)
        assert done <= total == 3 and percent <= 99, line
