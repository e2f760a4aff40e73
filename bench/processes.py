"""Run a command and sample the memory of its process tree (pytest, xdist workers, cluster)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path

_WORKER = "exec(eval(sys.stdin.readline()))"  # how execnet starts an xdist worker


def _tree(root: int) -> dict[int, tuple[int, str]]:
    """pid -> (RSS bytes, cmdline) for root and all its descendants."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, IndexError, ValueError):
                continue
    members, frontier = {root}, [root]
    while frontier:
        current = frontier.pop()
        for pid, parent in parents.items():
            if parent == current and pid not in members:
                members.add(pid)
                frontier.append(pid)
    found = {}
    for pid in members:
        try:
            rss = int((Path(f"/proc/{pid}/statm")).read_text().split()[1]) * os.sysconf(
                "SC_PAGE_SIZE"
            )
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        found[pid] = (rss, cmdline)
    return found


def _kind(pid: int, root: int, cmdline: str) -> str:
    if pid == root:
        return "pytest controller"
    if _WORKER in cmdline:
        return "xdist workers"
    return "embedded cluster (apiserver, etcd, KServe, model servers)"


def run_sampled(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 1800
) -> tuple[float, dict[str, int], subprocess.CompletedProcess]:
    """Run `command`; return wall seconds, peak RSS per kind (bytes), the finished process."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peaks: dict[str, int] = defaultdict(int)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            totals: dict[str, int] = defaultdict(int)
            for pid, (rss, cmdline) in _tree(process.pid).items():
                totals[_kind(pid, process.pid, cmdline)] += rss
            for kind, total in totals.items():
                peaks[kind] = max(peaks[kind], total)
            stop.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate(timeout=timeout)
    wall = time.monotonic() - started
    stop.set()
    sampler.join()
    return wall, dict(peaks), subprocess.CompletedProcess(command, process.returncode, output)
