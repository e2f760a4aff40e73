"""The KServe releases the embedded cluster runs, and what stands in for their images.

Each release is KServe's own manager built from the Go module proxy (`gobuild/kserve-<version>`),
with the CRDs, `inferenceservice-config` and ClusterServingRuntimes of the same module version.
Only the node is ours: it runs two of the release's images as local processes, each from the
PyPI code that the image is built from (see `IMAGE_STEPS`); any other image fails to pull.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_kfs.errors import KfsError

MODULE = "github.com/kserve/kserve"
INITIALIZER_IMAGE = "kserve/storage-initializer"
SKLEARN_IMAGE = "kserve/sklearnserver"


@dataclass(frozen=True)
class Release:
    """One KServe release as the embedded cluster runs it."""

    version: str
    # The ConfigMap's name for the mode without Knative: "Standard" since v0.15, before that
    # "RawDeployment" (later releases still accept it as a legacy alias).
    standard_mode: str
    # PyPI packages of the storage-initializer image and of the sklearnserver image.
    initializer_packages: tuple[str, ...]
    server_packages: tuple[str, ...]

    @property
    def python_version(self) -> str:
        """The PyPI version of the Python packages of this release (v0.20.0 -> 0.20.0)."""
        return self.version.lstrip("v")

    def describe(self) -> str:
        """What KServe runs (in the embedded cluster, or installed on kind), for headers and
        reports."""
        return f"KServe {self.version} (its own manager), {self.standard_mode} mode"

    @property
    def images(self) -> dict[str, str]:
        """Image -> step ('initializer' or 'sklearn') the embedded node runs as a process."""
        return {
            f"{INITIALIZER_IMAGE}:{self.version}": "initializer",
            f"{SKLEARN_IMAGE}:{self.version}": "sklearn",
        }


RELEASES: dict[str, Release] = {
    r.version: r
    for r in (
        Release(
            "v0.20.0",
            "Standard",
            ("kserve-storage==0.20.0",),
            ("kserve==0.20.0", "scikit-learn", "joblib"),
        ),
        # The seed's era (kserve#3798, July 2024). kserve-storage did not exist yet: the
        # initializer image ran `kserve.storage` from the SDK itself.
        Release(
            "v0.13.1",
            "RawDeployment",
            ("kserve[storage]==0.13.1",),
            ("kserve==0.13.1", "scikit-learn", "joblib"),
        ),
    )
}
DEFAULT_VERSION = "v0.20.0"


class UnknownRelease(KfsError, ValueError):
    """A KServe version the embedded cluster cannot run; the message lists those it can."""


def release(version: str | None = None) -> Release:
    """The release for `version` (`0.20.0` or `v0.20.0`); the default when None."""
    wanted = version or DEFAULT_VERSION
    if not wanted.startswith("v"):
        wanted = "v" + wanted
    try:
        return RELEASES[wanted]
    except KeyError:
        raise UnknownRelease(
            f"KServe {version} cannot run in the embedded cluster; supported: "
            f"{', '.join(RELEASES)} (default {DEFAULT_VERSION})"
        ) from None
