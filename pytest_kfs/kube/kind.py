"""kind clusters through the real `kind` CLI: find, optionally create, export a kubeconfig."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from pytest_kfs.errors import ClusterError

KIND_INSTALL_HINT = (
    "install it with `go install sigs.k8s.io/kind@v0.30.0`, or use --kfs-cluster=local"
)
_CREATE_TIMEOUT = 600


def _kind_binary() -> str:
    found = shutil.which("kind")
    if found is None:
        raise ClusterError(
            f"--kfs-cluster=kind needs the `kind` CLI, which is not on PATH; {KIND_INSTALL_HINT}"
        )
    return found


def _run(command: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def _first_error_line(output: str) -> str:
    # kind wraps the engine's own complaint ("Cannot connect to the Docker daemon ...")
    # under a generic ERROR line; the engine's words are the useful ones.
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for marker in ("Cannot connect", "executable file not found", "ERROR:"):
        for line in lines:
            if marker in line:
                return line.removeprefix("ERROR: ").removeprefix("Command Output: ")
    return lines[-1] if lines else "no output"


def _explain_provider_failure(stderr: str) -> ClusterError:
    reason = _first_error_line(stderr)
    if "docker" in stderr.lower() or "podman" in stderr.lower() or "provider" in stderr.lower():
        return ClusterError(
            f"kind cannot talk to a container engine ({reason}); kind needs a running Docker "
            "engine (or Podman with KIND_EXPERIMENTAL_PROVIDER=podman); start it, or use "
            "--kfs-cluster=local"
        )
    return ClusterError(f"`kind get clusters` failed: {reason}")


def cluster_names(kind: str | None = None) -> list[str]:
    """Names of the kind clusters on this machine."""
    kind = kind or _kind_binary()
    result = _run([kind, "get", "clusters"])
    if result.returncode != 0:
        raise _explain_provider_failure(result.stderr + result.stdout)
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def kubeconfig_for(name: str, create: bool, directory: Path | None = None) -> tuple[Path, str]:
    """A kubeconfig file and context for the kind cluster `name`, creating it when asked."""
    kind = _kind_binary()
    names = cluster_names(kind)
    if name not in names:
        if not create:
            listed = ", ".join(names) if names else "none"
            raise ClusterError(
                f"kind cluster '{name}' does not exist (kind get clusters: {listed}); create it "
                f"with `kind create cluster --name {name}` or pass --kfs-kind-create"
            )
        created = _run(
            [kind, "create", "cluster", "--name", name, "--wait", "120s"], timeout=_CREATE_TIMEOUT
        )
        if created.returncode != 0:
            raise ClusterError(
                f"`kind create cluster --name {name}` failed: "
                f"{_first_error_line(created.stderr + created.stdout)}"
            )
    exported = _run([kind, "get", "kubeconfig", "--name", name])
    if exported.returncode != 0:
        raise ClusterError(
            f"`kind get kubeconfig --name {name}` failed: {_first_error_line(exported.stderr)}"
        )
    directory = directory or Path(tempfile.mkdtemp(prefix="kfs-kind-"))
    path = directory / f"kind-{name}.kubeconfig"
    path.write_text(exported.stdout)
    path.chmod(0o600)
    return path, f"kind-{name}"
