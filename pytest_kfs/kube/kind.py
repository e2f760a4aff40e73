"""kind clusters through the real `kind` CLI: find, create, delete, export a kubeconfig.

kind talks to Docker, or to podman when `KIND_EXPERIMENTAL_PROVIDER=podman`: `provider_env`
chooses podman where Docker's daemon does not answer and podman is installed (issue 37).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from pytest_kfs.errors import ClusterError

KIND_INSTALL_HINT = (
    "install it with `go install sigs.k8s.io/kind@v0.30.0`, or use --kfs-cluster=local"
)
PROVIDER_VARIABLE = "KIND_EXPERIMENTAL_PROVIDER"
_CREATE_TIMEOUT = 600
# kind's own config, when the node image carries its pod network (no kindnetd).
NO_DEFAULT_CNI_CONFIG = """\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  disableDefaultCNI: true
"""


def _kind_binary() -> str:
    found = shutil.which("kind")
    if found is None:
        raise ClusterError(
            f"--kfs-cluster=kind needs the `kind` CLI, which is not on PATH; {KIND_INSTALL_HINT}"
        )
    return found


def choose_provider(
    environ: Mapping[str, str], docker_answers: bool, podman_installed: bool
) -> str | None:
    """The engine kind should use: what the environment says, else Docker when its daemon
    answers, else podman when installed; None when there is neither (pure)."""
    if environ.get(PROVIDER_VARIABLE):
        return environ[PROVIDER_VARIABLE]
    if docker_answers:
        return "docker"
    return "podman" if podman_installed else None


def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        answered = subprocess.run(
            [docker, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return answered.returncode == 0


def provider(
    environ: Mapping[str, str] | None = None,
    docker_answers: Callable[[], bool] = _docker_answers,
) -> str | None:
    """The engine kind uses on this machine (see `choose_provider`)."""
    environ = os.environ if environ is None else environ
    if environ.get(PROVIDER_VARIABLE):
        return environ[PROVIDER_VARIABLE]
    return choose_provider(environ, docker_answers(), shutil.which("podman") is not None)


def provider_env(name: str | None) -> dict[str, str]:
    """The environment kind runs with for the engine `name`."""
    return {**os.environ, **({PROVIDER_VARIABLE: name} if name == "podman" else {})}


def _run(
    command: list[str], timeout: float = 60, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=dict(env) if env is not None else None,
    )


def first_error_line(output: str) -> str:
    """The line of kind's output that says what went wrong."""
    # kind wraps the engine's own complaint ("Cannot connect to the Docker daemon ...")
    # under a generic ERROR line; the engine's words are the useful ones.
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for marker in (
        "Cannot connect",
        "executable file not found",
        "already in use",
        "already exist",
        "ERROR:",
    ):
        for line in lines:
            if marker in line:
                return line.removeprefix("ERROR: ").removeprefix("Command Output: ")
    return lines[-1] if lines else "no output"


def _explain_provider_failure(stderr: str) -> ClusterError:
    reason = first_error_line(stderr)
    if "docker" in stderr.lower() or "podman" in stderr.lower() or "provider" in stderr.lower():
        return ClusterError(
            f"kind cannot talk to a container engine ({reason}); kind needs a running Docker "
            "engine (or Podman with KIND_EXPERIMENTAL_PROVIDER=podman); start it, or use "
            "--kfs-cluster=local"
        )
    return ClusterError(f"`kind get clusters` failed: {reason}")


def cluster_names(kind: str | None = None, env: Mapping[str, str] | None = None) -> list[str]:
    """Names of the kind clusters on this machine."""
    kind = kind or _kind_binary()
    result = _run([kind, "get", "clusters"], env=env)
    if result.returncode != 0:
        raise _explain_provider_failure(result.stderr + result.stdout)
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def create_command(name: str, image: str | None, config: Path | None) -> list[str]:
    """`kind create cluster`'s arguments (after the binary)."""
    return [
        "create",
        "cluster",
        "--name",
        name,
        *(["--image", image] if image else []),
        *(["--config", str(config)] if config else []),
        "--wait",
        "120s",
    ]


def create(
    name: str,
    image: str | None = None,
    config: str | None = None,
    env: Mapping[str, str] | None = None,
    directory: Path | None = None,
) -> None:
    """`kind create cluster`; ClusterError with kind's one line when it fails."""
    kind = _kind_binary()
    config_path = None
    if config is not None:
        directory = directory or Path(tempfile.mkdtemp(prefix="kfs-kind-"))
        config_path = directory / f"kind-{name}.config.yaml"
        config_path.write_text(config)
    created = _run([kind, *create_command(name, image, config_path)], _CREATE_TIMEOUT, env)
    if created.returncode != 0:
        raise ClusterError(
            f"`kind create cluster --name {name}` failed: "
            f"{first_error_line(created.stderr + created.stdout)}"
        )


def delete(name: str, env: Mapping[str, str] | None = None) -> None:
    """`kind delete cluster`; ClusterError with kind's one line when it fails."""
    deleted = _run([_kind_binary(), "delete", "cluster", "--name", name], 180, env)
    if deleted.returncode != 0:
        raise ClusterError(
            f"`kind delete cluster --name {name}` failed: "
            f"{first_error_line(deleted.stderr + deleted.stdout)}"
        )


def kubeconfig_for(
    name: str,
    create_missing: bool,
    directory: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[Path, str]:
    """A kubeconfig file and context for the kind cluster `name`, creating it when asked."""
    kind = _kind_binary()
    names = cluster_names(kind, env)
    if name not in names:
        if not create_missing:
            listed = ", ".join(names) if names else "none"
            raise ClusterError(
                f"kind cluster '{name}' does not exist (kind get clusters: {listed}); create it "
                f"with `kind create cluster --name {name}` or pass --kfs-kind-create"
            )
        create(name, env=env, directory=directory)
    return export_kubeconfig(name, directory, env)


def export_kubeconfig(
    name: str, directory: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[Path, str]:
    """`kind get kubeconfig` into a file of `directory`: the file and its context."""
    exported = _run([_kind_binary(), "get", "kubeconfig", "--name", name], env=env)
    if exported.returncode != 0:
        raise ClusterError(
            f"`kind get kubeconfig --name {name}` failed: {first_error_line(exported.stderr)}"
        )
    directory = directory or Path(tempfile.mkdtemp(prefix="kfs-kind-"))
    path = directory / f"kind-{name}.kubeconfig"
    path.write_text(exported.stdout)
    path.chmod(0o600)
    return path, f"kind-{name}"


def load_archive(name: str, archive: Path, env: Mapping[str, str] | None = None) -> None:
    """`kind load image-archive` into every node of cluster `name` (no registry needed)."""
    loaded = _run([_kind_binary(), "load", "image-archive", str(archive), "--name", name], 600, env)
    if loaded.returncode != 0:
        raise ClusterError(
            f"`kind load image-archive {archive.name} --name {name}` failed: "
            f"{first_error_line(loaded.stderr + loaded.stdout)}"
        )
