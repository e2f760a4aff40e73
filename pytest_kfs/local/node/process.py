"""Containers as local processes: the command an image of the release runs, the storage
initializer run to its exit, and the model server started and probed until it is ready."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

from pytest_kfs.local.loopback import open_url
from pytest_kfs.local.node.settings import INITIALIZER, Images

INITIALIZER_SCRIPT = Path(__file__).with_name("initializer.py")
MODEL_SERVER_SCRIPT = Path(__file__).with_name("modelserver.py")
_TERMINATION_LOG_BYTES = 2048


def command(images: Images, image: str, spec: dict[str, Any], args: list[str]) -> list[str] | None:
    """The command line of a run-to-exit container; None for one that has nothing to run here."""
    step = images.step(image)
    if step == INITIALIZER and not spec.get("command"):
        return [images.initializer_python, str(INITIALIZER_SCRIPT), *args]
    if step == INITIALIZER and spec["command"][0] in ("python", "python3"):
        # The image's own Python (KServe's storage code): the in-cluster probe runs so.
        return [images.initializer_python, *spec["command"][1:], *args]
    return None


def start(command: list[str], log: Path, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a container's process, its output (both streams) in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
        )


def wait(process: subprocess.Popen[bytes], stop: threading.Event) -> int | None:
    """The process's exit code; None if `stop` is set first (then it is killed)."""
    while True:
        try:
            return process.wait(0.1)
        except subprocess.TimeoutExpired:
            if stop.is_set():
                kill(process)
                return None


def kill(process: subprocess.Popen[bytes] | None) -> None:
    """Kill a process that still runs, and reap it."""
    if process and process.poll() is None:
        process.kill()
        process.wait()


def termination_message(log: Path) -> str:
    """The end of the log: FallbackToLogsOnError, as KServe sets on the storage-initializer."""
    return log.read_bytes()[-_TERMINATION_LOG_BYTES:].decode(errors="replace")


def start_model_server(
    python: str, name: str, model_dir: Path, port: int, log: Path, root: Path
) -> subprocess.Popen[bytes]:
    """The sklearn server stand-in, serving `model_dir` as `name` on `port`."""
    return start(
        [python, str(MODEL_SERVER_SCRIPT), name, str(model_dir), str(port)],
        log,
        root,
        {"PATH": os.environ.get("PATH", ""), "HOME": str(root), "PYTHONUNBUFFERED": "1"},
    )


def await_ready(port: int, server: subprocess.Popen[bytes], stop: threading.Event) -> bool:
    """Until the server says ready (v2 health), exits, or the pod goes."""
    url = f"http://127.0.0.1:{port}/v2/health/ready"
    while not stop.is_set() and server.poll() is None:
        try:
            with open_url(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        stop.wait(0.05)
    return False
