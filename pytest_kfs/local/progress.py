"""Long builds say what they do: a line at least every few seconds with a count, a share of
the total when it is known, and an estimate — in a terminal and as plain lines in CI logs."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from pytest_kfs.errors import KfsError

_EVERY = 5.0  # seconds between progress lines while something happens
_QUIET = 10.0  # a line at least this often even when nothing visible happens


class StepFailed(KfsError, subprocess.CalledProcessError):
    """A build step exited non-zero; `output` holds its last lines."""

    def __str__(self) -> str:
        # What a run that builds on first use shows: the step, then why in its own words.
        step = " ".join(str(part) for part in self.cmd[:3])
        return (
            f"`{step} ...` failed with exit code {self.returncode}; its last lines:\n{self.output}"
        )


def say(text: str) -> None:
    """One progress line, on stderr (where builds and CI logs show it)."""
    print(text, file=sys.stderr, flush=True)


def _estimate(done: int, total: int | None, elapsed: float, unit: str) -> str:
    """`done of total unit (share), about T left`; never past the total, never 100% (the step
    is done when it exits, and `run` says so)."""
    if not total:
        return f"{done} {unit}"
    if not done:
        return f"0 of {total} {unit} yet"
    if done >= total:
        # The total was an estimate and the work reached it: the count is the total now.
        return f"{done} of {done} {unit} (99%), finishing"
    percent = done * 100 // total  # floored: 99.7% reads 99%, not 100%
    left = elapsed * (total - done) / done
    return f"{done} of {total} {unit} ({percent}%), about {_duration(left)} left"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def each_once(names: Iterable[str]) -> Callable[[str], bool]:
    """A `counts` for `run`: true the first time a line is one of `names`, so the count stays
    within `len(names)` whatever else the command prints."""
    left = set(names)

    def counts(line: str) -> bool:
        name = line.strip()
        if name not in left:
            return False
        left.discard(name)
        return True

    return counts


def run(
    command: Sequence[str],
    label: str,
    counts: Callable[[str], bool],
    total: int | None = None,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    unit: str = "steps",
) -> list[str]:
    """Run `command`, counting output lines `counts` accepts as units of work, and report
    `label: <done> of <total> (share), about <time> left` while it runs; returns its output
    lines. Raises StepFailed with the output's tail when it fails."""
    started = time.monotonic()
    done = 0
    lines: list[str] = []
    finished = threading.Event()

    def heartbeat() -> None:
        while not finished.wait(_QUIET):
            say(
                f"{label}: {_estimate(done, total, time.monotonic() - started, unit)} "
                f"({_duration(time.monotonic() - started)} so far)"
            )

    say(f"{label} ...")
    beat = threading.Thread(target=heartbeat, daemon=True, name="kfs-progress")
    beat.start()
    last = started
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip())
            if counts(line):
                done += 1
                now = time.monotonic()
                if now - last >= _EVERY:
                    last = now
                    say(f"{label}: {_estimate(done, total, now - started, unit)}")
        code = process.wait()
    finally:
        finished.set()
        if process.poll() is None:
            process.kill()
            process.wait()
    if code != 0:
        raise StepFailed(code, list(command), output="\n".join(lines[-30:]))
    say(f"{label}: done in {_duration(time.monotonic() - started)}")
    return lines
