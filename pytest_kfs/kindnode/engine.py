"""The container engine kind runs on here: Debian's podman with runc, set up only where missing.

    python -m pytest_kfs.kindnode engine      # set up (root), or say in one line what is needed

What this host needs, checked on a 2-CPU Debian 12 machine (issue 37): podman and runc from
Debian (crun refuses the hybrid cgroup v1 layout), `runtime = "runc"` and raised default
ulimits (root lacks CAP_SYS_RESOURCE, so podman's own nofile limit cannot be set), and a
`/lib/modules` for kind to mount, empty when the kernel has none. The settings go into a
drop-in file of the project's own; the user's containers.conf is never written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pytest_kfs.errors import KfsError
from pytest_kfs.local import progress

# Debian package -> the command that shows it is installed.
PACKAGES = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
DROP_IN = Path("/etc/containers/containers.conf.d/50-pytest-kfs.conf")
DROP_IN_TEXT = """\
# Written by pytest-kfs (python -m pytest_kfs.kindnode engine); delete it to undo.
# crun refuses this host's hybrid cgroup v1 layout; Debian's runc runs it.
[engine]
runtime = "runc"

[containers]
# root lacks CAP_SYS_RESOURCE here: containers get limits it may set.
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
"""
MODULES = Path("/lib/modules")


class EngineMissing(KfsError, RuntimeError):
    """No usable container engine, and it cannot be set up here; the message says what to do."""


@dataclass(frozen=True)
class Plan:
    """What set-up would do on this machine (plain data: what is missing)."""

    packages: tuple[str, ...]
    drop_in: bool
    modules: bool

    @property
    def empty(self) -> bool:
        """Nothing to do."""
        return not (self.packages or self.drop_in or self.modules)

    def describe(self) -> str:
        """One line naming what is missing."""
        parts = []
        if self.packages:
            parts.append(f"apt-get install {' '.join(self.packages)}")
        if self.drop_in:
            parts.append(f"the podman settings in {DROP_IN}")
        if self.modules:
            parts.append(f"an (empty) {MODULES} directory")
        return "; ".join(parts)


def plan(
    installed: set[str], drop_in_text: str | None, modules_exist: bool, wanted: tuple[str, ...]
) -> Plan:
    """What is missing, from what is there: pure, so it is tested as data."""
    return Plan(
        packages=tuple(name for name in wanted if name not in installed),
        drop_in=drop_in_text != DROP_IN_TEXT,
        modules=not modules_exist,
    )


def _current(wanted: tuple[str, ...]) -> Plan:
    installed = {name for name in wanted if shutil.which(PACKAGES[name])}
    text = DROP_IN.read_text() if DROP_IN.is_file() else None
    return plan(installed, text, MODULES.is_dir(), wanted)


def ensure(wanted: tuple[str, ...] = tuple(PACKAGES)) -> None:
    """Set up what is missing (root only); EngineMissing in one line where it cannot."""
    todo = _current(wanted)
    if todo.empty:
        return
    if os.geteuid() != 0:
        raise EngineMissing(
            f"the kind target needs a container engine set up: {todo.describe()} "
            "(as root: `python -m pytest_kfs.kindnode engine`)"
        )
    if todo.packages:
        if shutil.which("apt-get") is None:
            raise EngineMissing(f"no apt-get here; install {' '.join(todo.packages)} yourself")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        progress.run(
            ["apt-get", "install", "-y", "--no-install-recommends", *todo.packages],
            f"installing {' '.join(todo.packages)} from Debian",
            lambda line: line.startswith("Setting up "),
            env=env,
            unit="packages set up",
        )
    if todo.drop_in:
        DROP_IN.parent.mkdir(parents=True, exist_ok=True)
        partial = DROP_IN.with_name(DROP_IN.name + ".partial")
        partial.write_text(DROP_IN_TEXT)
        partial.rename(DROP_IN)
        progress.say(f"wrote {DROP_IN}")
    if todo.modules:
        MODULES.mkdir(parents=True)
        progress.say(f"made an empty {MODULES} (kind mounts it; this kernel has none)")


def main() -> int:
    """CLI: set up the engine, or say what is needed."""
    try:
        ensure()
    except EngineMissing as problem:
        progress.say(str(problem))
        return 1
    progress.say("container engine: podman with runc, ready")
    return 0
