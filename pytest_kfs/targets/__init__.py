"""Cluster targets: where a run's cluster comes from. Picking one is a registry lookup over the
`pytest_kfs.targets` entry points, so a new target (here, or in another package) is one module
plus one entry point line; no list here names them."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib.metadata import entry_points

from pytest_kfs.errors import SettingsError
from pytest_kfs.targets.base import (
    SHARED_TARGET,
    LocalCloud,
    Rehearsal,
    RunCluster,
    Target,
    TargetOptions,
)
from pytest_kfs.targets.context import ContextTarget
from pytest_kfs.targets.in_cluster import InClusterTarget
from pytest_kfs.targets.kind import KindTarget
from pytest_kfs.targets.local import LocalTarget

ENTRY_POINTS = "pytest_kfs.targets"

__all__ = [
    "ENTRY_POINTS",
    "ContextTarget",
    "InClusterTarget",
    "KindTarget",
    "LocalCloud",
    "LocalTarget",
    "Rehearsal",
    "RunCluster",
    "Target",
    "TargetOptions",
    "open_target",
    "parse_target",
    "registry",
]


@functools.cache
def registry() -> tuple[type[Target], ...]:
    """Every registered target in the order they are asked: by name, then the ones that take
    any value (a kubeconfig context) last."""
    found: dict[str, type[Target]] = {}
    for point in entry_points(group=ENTRY_POINTS):
        kind = point.load()
        if not (isinstance(kind, type) and issubclass(kind, Target)):
            raise TypeError(f"entry point {point.name} = {point.value} is not a Target class")
        if found.setdefault(kind.name, kind) is not kind:
            raise TypeError(f"two targets are named {kind.name!r}: {found[kind.name]} and {kind}")
    if not found:
        raise RuntimeError(
            f"no {ENTRY_POINTS} entry points: pytest-kfs is not installed "
            "(pip install pytest-kfs, or pip install -e . in a checkout)"
        )
    return tuple(sorted(found.values(), key=lambda kind: (kind.takes_any_value, kind.name)))


def parse_target(value: str, options: TargetOptions | None = None) -> Target:
    """The target a --kfs-cluster value names; SettingsError on bad input."""
    value = value.strip()
    if not value:
        raise SettingsError(
            "--kfs-cluster is empty; use local, in-cluster, kind, kind:<name> "
            "or a kubeconfig context name"
        )
    for kind in registry():
        target = kind.parse(value, options or TargetOptions())
        if target is not None:
            return target
    raise SettingsError(f"--kfs-cluster={value}: no registered target takes it")


def open_target(target: Target, shared: Mapping[str, str] | None = None) -> RunCluster:
    """Open the target, or (an xdist worker, given its controller's `shared` input) attach to
    the cluster the controller opened. ClusterError when KServe is not there."""
    from pytest_kfs.errors import ClusterError

    by_name = {kind.name: kind for kind in registry()}
    if shared and shared.get(SHARED_TARGET) in by_name:
        return by_name[shared[SHARED_TARGET]].attach(shared)
    run = target.open()
    if not run.cluster.kserve_installed:
        run.close()
        raise ClusterError(
            f"KServe is not installed on {target.describe()} ({run.cluster.address}): the API "
            f"server does not serve serving.kserve.io/v1beta1 InferenceService; "
            f"{target.kserve_missing_hint()}"
        )
    return run
