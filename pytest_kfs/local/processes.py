"""Child processes that die with their parent and stop cleanly."""

from __future__ import annotations

import ctypes
import os
import random
import signal
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Linux only: if pytest is SIGKILLed, the kernel SIGKILLs the control plane too
    # instead of leaving etcd and kube-apiserver running forever.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def spawn(
    command: Sequence[str | os.PathLike[str]], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a daemon in its own session (Ctrl-C is ours to handle), output to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(part) for part in command],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            env=env,
        )


def stop(process: subprocess.Popen[bytes], grace_seconds: float = 5.0) -> None:
    """SIGTERM, wait, then SIGKILL; always reaps the process."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# Ports handed out lie below the kernel's ephemeral range: a port from inside it can be taken,
# between being handed out and the server binding it (seconds, for a model server's imports),
# as the source port of any outgoing connection, or by a readiness poll of it connecting to
# itself (TCP simultaneous open on loopback); the server then fails to bind. Real pods have
# network namespaces of their own and never see this.
_LOWEST_PORT = 20000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_DEFAULT_EPHEMERAL_LOW = 32768  # Linux's default when the range cannot be read


def free_port() -> int:
    """A TCP port nothing is bound to right now, outside the ephemeral range."""
    below = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(_LOWEST_PORT, below)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("0.0.0.0", port))  # bound to check, never listened on
            except OSError:
                continue
        return port
    raise OSError(f"no free TCP port between {_LOWEST_PORT} and {below}")


def _ephemeral_low() -> int:
    try:
        low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_EPHEMERAL_LOW
    return low if low > _LOWEST_PORT + 1000 else _DEFAULT_EPHEMERAL_LOW


def tail(log: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
