"""Cluster targets: where a run's cluster comes from. Picking one is a registry lookup; a new
target is one module here plus its entry in REGISTRY."""

from __future__ import annotations

from collections.abc import Mapping

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

# Asked in order; a context takes any name, so it comes last.
REGISTRY: tuple[type[Target], ...] = (LocalTarget, InClusterTarget, KindTarget, ContextTarget)

__all__ = ["REGISTRY", "ContextTarget", "InClusterTarget", "KindTarget", "LocalCloud",
           "LocalTarget", "Rehearsal", "RunCluster", "Target", "TargetOptions", "open_target",
           "parse_target"]


def parse_target(value: str, options: TargetOptions | None = None) -> Target:
    """The target a --kfs-cluster value names; SettingsError on bad input."""
    value = value.strip()
    if not value:
        raise SettingsError("--kfs-cluster is empty; use local, in-cluster, kind, kind:<name> "
                            "or a kubeconfig context name")
    for kind in REGISTRY:
        target = kind.parse(value, options or TargetOptions())
        if target is not None:
            return target
    raise AssertionError("the context target takes every name")  # pragma: no cover


def open_target(target: Target, shared: Mapping[str, str] | None = None) -> RunCluster:
    """Open the target, or (an xdist worker, given its controller's `shared` input) attach to
    the cluster the controller opened. ClusterError when KServe is not there."""
    from pytest_kfs.errors import ClusterError

    by_name = {kind.name: kind for kind in REGISTRY}
    if shared and shared.get(SHARED_TARGET) in by_name:
        return by_name[shared[SHARED_TARGET]].attach(shared)
    run = target.open()
    if not run.cluster.kserve_installed:
        run.close()
        raise ClusterError(
            f"KServe is not installed on {target.describe()} ({run.cluster.server}): the API "
            "server does not serve serving.kserve.io/v1beta1 InferenceService; install KServe "
            "there, or use --kfs-cluster=local to rehearse")
    return run
