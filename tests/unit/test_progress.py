"""Long build steps report progress as plain lines: a count, a share and an estimate, and a
failing step shows its last lines."""

import sys

import pytest

from pytest_kfs.local import progress


def test_a_step_reports_its_count_share_and_end(capsys, monkeypatch):
    monkeypatch.setattr(progress, "_EVERY", 0.0)
    script = ("import time\nfor i in range(4):\n    print('pkg', i, flush=True)\n"
              "    time.sleep(0.05)\n")
    lines = progress.run([sys.executable, "-c", script], "compiling demo",
                         lambda line: line.startswith("pkg"), total=8, unit="packages compiled")
    assert lines == ["pkg 0", "pkg 1", "pkg 2", "pkg 3"]
    err = capsys.readouterr().err
    assert "compiling demo ..." in err
    assert "compiling demo: 2 of 8 packages compiled (25%), about" in err
    assert "compiling demo: done in" in err


def test_a_failing_step_carries_its_last_lines():
    with pytest.raises(progress.StepFailed) as failed:
        progress.run([sys.executable, "-c", "print('cannot find package x'); raise SystemExit(3)"],
                     "compiling demo", lambda line: False)
    assert failed.value.returncode == 3 and "cannot find package x" in failed.value.output
