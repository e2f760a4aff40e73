"""KServe's Python images for kind, built as the release's own Dockerfiles build them
(`python/storage-initializer.Dockerfile`, `python/sklearn.Dockerfile`), without a registry.

Each Dockerfile starts from `python:<version>-slim-<suite>`; here the base is Debian's same
suite (debootstrap, minbase) with Debian's python3 of that suite, which is the Dockerfile's
Python minor version (bookworm 3.11, bullseye 3.9). Then, as the Dockerfile does: a venv at
/prod_venv holding the release's own Python sources from its Go module (`python/kserve`,
`python/storage`) with their dependencies from PyPI; the entrypoint or server package copied
from the module; the user `kserve` (1000); the same ENV, WORKDIR, USER and ENTRYPOINT.
Left out: the third-party licence files, and the initializer's Kerberos extras (HDFS only).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pytest_kfs.kindnode.archives import write_tree_archive
from pytest_kfs.kindnode.base import debootstrap_command
from pytest_kfs.local import assets, progress
from pytest_kfs.local.kserve.releases import MODULE, Release

VENV = "/prod_venv"
KSERVE_UID = "1000"


@dataclass(frozen=True)
class PythonImage:
    """One image of a release, as its Dockerfile builds it."""

    name: str  # upstream, without tag: kserve/storage-initializer
    suite: str  # the Debian suite of the Dockerfile's base image
    # pip requirements: the module's own source folders (python/<x>, with extras) first
    sources: tuple[str, ...]
    requirements: tuple[str, ...]
    # module folders under python/ copied to the image's root
    copies: tuple[str, ...]
    entrypoint: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    workdir: str = "/"
    writable: tuple[str, ...] = ()  # folders chowned to kserve (the Dockerfile's chown)
    # the Dockerfile's `RUN chmod +x` (Go module files carry no execute bit)
    executables: tuple[str, ...] = ()

    def recipe_key(self) -> str:
        """A short hash of the recipe: a changed recipe is a new archive, never a stale one."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:12]


_INITIALIZER_ENTRY = ("/storage-initializer/scripts/initializer-entrypoint",)
_SKLEARN_ENTRY = ("python", "-m", "sklearnserver")

# By release; each line is its Dockerfile's (see the module's python/*.Dockerfile).
IMAGES: dict[str, tuple[PythonImage, ...]] = {
    "v0.20.0": (
        PythonImage(
            "kserve/storage-initializer",
            "bookworm",
            ("storage[confidential]",),
            (),
            ("storage-initializer",),
            _INITIALIZER_ENTRY,
            executables=_INITIALIZER_ENTRY,
            workdir="/work",
            writable=("/mnt",),
        ),
        PythonImage(
            "kserve/sklearnserver",
            "bookworm",
            ("kserve", "storage"),
            # python/sklearnserver/pyproject.toml's own dependencies
            ("scikit-learn~=1.5.1", "joblib>=1.4.0,<2.0.0", "pandas>=2.2.0,<3.0.0"),
            ("sklearnserver",),
            _SKLEARN_ENTRY,
            env=(("PYTHONPATH", "/sklearnserver"),),
        ),
    ),
    "v0.13.1": (
        PythonImage(
            "kserve/storage-initializer",
            "bullseye",
            ("kserve[storage]",),
            (),
            ("storage-initializer",),
            _INITIALIZER_ENTRY,
            executables=_INITIALIZER_ENTRY,
            workdir="/work",
        ),
        PythonImage(
            "kserve/sklearnserver",
            "bullseye",
            ("kserve[storage]",),
            ("scikit-learn~=1.3.0", "joblib>=1.1.1,<2", "pandas>=1.3.5,<2"),
            ("sklearnserver",),
            _SKLEARN_ENTRY,
            env=(("PYTHONPATH", "/sklearnserver"),),
        ),
    ),
}


def image_tag(image: PythonImage, release: Release) -> str:
    """The image's name as the release's runtimes and ConfigMap name it (docker.io)."""
    return f"docker.io/{image.name}:{release.version}"


def image_config(image: PythonImage) -> dict[str, object]:
    """The OCI config's `config` part: the Dockerfile's ENV, USER, WORKDIR, ENTRYPOINT."""
    path = f"PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return {
        "Env": [path, f"VIRTUAL_ENV={VENV}", *(f"{key}={value}" for key, value in image.env)],
        "User": KSERVE_UID,
        "WorkingDir": image.workdir,
        "Entrypoint": list(image.entrypoint),
    }


def pip_arguments(image: PythonImage, python_dir: Path) -> list[str]:
    """`pip install`'s arguments: the module's own sources by path, then PyPI's."""
    local = []
    for source in image.sources:
        folder, _, extras = source.partition("[")
        local.append(f"{python_dir / folder}" + (f"[{extras}" if extras else ""))
    return ["install", "--no-cache-dir", "--quiet", *local, *image.requirements]


# Inside the build's chroot: the host's trust for reaching PyPI (a proxy may re-sign TLS with a
# CA of its own), in a file of its own; the image keeps Debian's bundle.
_BUILD_CA = "/kfs-build-ca.crt"


def _host_ca_bundle() -> Path | None:
    """The CA bundle the host's pip trusts (PIP_CERT, SSL_CERT_FILE, else Debian's)."""
    for candidate in (os.environ.get("PIP_CERT"), os.environ.get("SSL_CERT_FILE")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    debian = Path("/etc/ssl/certs/ca-certificates.crt")
    return debian if debian.is_file() else None


def _chroot(root: Path, *command: str, what: str) -> None:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
    if (root / _BUILD_CA.lstrip("/")).is_file():
        env["PIP_CERT"] = _BUILD_CA
    progress.run(["chroot", str(root), *command], what, lambda line: False, env=env)


def _base(suite: str) -> Path:
    """Debian `suite` with python3 and its venv module (cached per suite)."""
    target = assets._cache_root() / "kserve-images" / f"base-{suite}"
    if target.is_dir():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    progress.run(
        debootstrap_command(partial, suite, ("python3", "python3-venv", "ca-certificates")),
        f"debootstrap {suite} with python3 for KServe's images",
        lambda line: line.startswith("I: "),
        unit="debootstrap steps",
    )
    partial.rename(target)
    return target


def build(image: PythonImage, release: Release) -> Path:
    """The image as a docker-archive in the release's cache (built once)."""
    file_name = f"{image.name.replace('/', '_')}-{image.recipe_key()}.tar"
    target = assets.kserve_dir(release) / "images" / file_name
    if target.is_file():
        return target
    python_dir = assets._module_dir(MODULE, release.version) / "python"
    work = target.with_name(target.stem + ".tree")
    shutil.rmtree(work, ignore_errors=True)
    work.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(_base(image.suite)), str(work)], check=True)
    try:
        shutil.copyfile("/etc/resolv.conf", work / "etc" / "resolv.conf")  # pip reaches PyPI
        if (bundle := _host_ca_bundle()) is not None:
            shutil.copyfile(bundle, work / _BUILD_CA.lstrip("/"))
        staged = work / "kfs-src"
        shutil.copytree(python_dir, staged, symlinks=True)
        name = f"{image.name}:{release.version}"
        _chroot(
            work,
            "useradd",
            "kserve",
            "-m",
            "-u",
            KSERVE_UID,
            "-d",
            "/home/kserve",
            what=f"{name}: user kserve",
        )
        _chroot(work, "python3", "-m", "venv", VENV, what=f"{name}: the venv")
        inside = [a.replace(str(staged), "/kfs-src") for a in pip_arguments(image, staged)]
        _chroot(work, f"{VENV}/bin/pip", *inside, what=f"{name}: pip install")
        for folder in image.copies:
            shutil.copytree(python_dir / folder, work / folder, symlinks=True)
        for program in image.executables:
            (work / program.lstrip("/")).chmod(0o755)
        shutil.rmtree(staged)
        (work / "etc" / "resolv.conf").unlink()
        (work / _BUILD_CA.lstrip("/")).unlink(missing_ok=True)
        for folder in (image.workdir, *image.writable):
            (work / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)
        for folder in (VENV, *image.writable):
            _chroot(
                work, "chown", "-R", f"{KSERVE_UID}:{KSERVE_UID}", folder, what=f"{name}: chown"
            )
        write_tree_archive(work, (image_tag(image, release),), image_config(image), target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def archives(release: Release) -> list[Path]:
    """Every Python image of the release, built once (one build per machine at a time: a
    second run waits, then finds them)."""
    with assets.build_lock(assets.kserve_dir(release)):
        return [build(image, release) for image in IMAGES.get(release.version, ())]
