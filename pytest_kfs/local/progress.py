"""Long builds say what they do: a line at least every few seconds with a count, a share of
the total when it is known, and an estimate — in a terminal and as plain lines in CI logs."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_EVERY = 5.0  # seconds between progress lines while something happens
_QUIET = 10.0  # a line at least this often even when nothing visible happens


class StepFailed(subprocess.CalledProcessError):
    """A build step exited non-zero; `output` holds its last lines."""


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _estimate(done: int, total: int | None, elapsed: float, unit: str) -> str:
    if not total:
        return f"{done} {unit}"
    if not done:
        return f"0 of {total} {unit} yet"
    share = min(done / total, 1.0)
    left = elapsed / share - elapsed if share < 1 else 0.0
    return f"{done} of {total} {unit} ({share:.0%}), about {_duration(left)} left"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def run(command: Sequence[str], label: str, counts: Callable[[str], bool],
        total: int | None = None, cwd: str | Path | None = None,
        env: dict[str, str] | None = None, unit: str = "steps") -> list[str]:
    """Run `command`, counting output lines `counts` accepts as units of work, and report
    `label: <done>/<total> (share), about <time> left` while it runs; returns its output
    lines. Raises StepFailed with the output's tail when it fails."""
    started = time.monotonic()
    done = 0
    lines: list[str] = []
    finished = threading.Event()

    def heartbeat() -> None:
        while not finished.wait(_QUIET):
            _say(f"{label}: {_estimate(done, total, time.monotonic() - started, unit)} "
                 f"({_duration(time.monotonic() - started)} so far)")

    _say(f"{label} ...")
    beat = threading.Thread(target=heartbeat, daemon=True, name="kfs-progress")
    beat.start()
    last = started
    process = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, errors="replace")
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip())
            if counts(line):
                done += 1
                now = time.monotonic()
                if now - last >= _EVERY:
                    last = now
                    _say(f"{label}: {_estimate(done, total, now - started, unit)}")
        code = process.wait()
    finally:
        finished.set()
        if process.poll() is None:
            process.kill()
            process.wait()
    if code != 0:
        raise StepFailed(code, list(command), output="\n".join(lines[-30:]))
    _say(f"{label}: done in {_duration(time.monotonic() - started)}")
    return lines
