"""The kind tier: real kind clusters on this machine (podman, the node image built here).

Run with `make test-kind` (`pytest -m kind tests/kind`); `make test` leaves them out."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_kfs.kindnode import base

PROBE_SOURCE = Path(__file__).parent / "probe"
PROBE_IMAGE = "localhost/kfs-probe:1"


def kind_env() -> dict[str, str]:
    """kind on podman, as the plugin runs it here."""
    return {**os.environ, "KIND_EXPERIMENTAL_PROVIDER": "podman"}


def kind_clusters() -> list[str]:
    listed = subprocess.run(
        ["kind", "get", "clusters"], env=kind_env(), capture_output=True, text=True, check=True
    )
    return listed.stdout.split()


@pytest.fixture(scope="session", autouse=True)
def _kind_here():
    missing = [tool for tool in ("kind", "podman", "go") if shutil.which(tool) is None]
    if missing or os.geteuid() != 0 or not base.image_present():
        pytest.skip(
            f"the kind tier needs root, kind, podman, go and {base.IMAGE} "
            f"(`python -m pytest_kfs.kindnode engine` and `image`); missing: "
            f"{', '.join(missing) or 'root or the image'}"
        )


@pytest.fixture(scope="session")
def probe_archive(tmp_path_factory) -> Path:
    """A one-file image of kfs-probe (tests/kind/probe): resolves a name through the pod's
    cluster DNS and GETs it; `kind load image-archive` puts it into the node."""
    from pytest_kfs.kindnode.archives import ImageSpec, write_archive

    folder = tmp_path_factory.mktemp("probe")
    binary = folder / "kfs-probe"
    subprocess.run(
        ["go", "build", "-trimpath", "-ldflags=-s", "-o", str(binary), "."],
        cwd=PROBE_SOURCE,
        env={**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"},
        check=True,
    )
    spec = ImageSpec((PROBE_IMAGE,), (("/kfs-probe", binary),), ("/kfs-probe",))
    return write_archive(spec, folder / "kfs-probe.tar")
