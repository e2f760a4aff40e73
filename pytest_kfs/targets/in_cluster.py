"""The service account of the pod the run is in (a nightly check running as a CronJob)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_kfs.targets.base import SHARED_TARGET, RunCluster, Target


@dataclass(frozen=True)
class InClusterTarget(Target):
    """The in-cluster service-account config."""

    name = "in-cluster"

    def describe(self) -> str:
        """One phrase for messages."""
        return "the in-cluster service account (--kfs-cluster=in-cluster)"

    def open(self) -> RunCluster:
        """Connect with the pod's token; each worker does the same."""
        from pytest_kfs.kube.cluster import connect_in_cluster

        return RunCluster(cluster=connect_in_cluster(), shared={SHARED_TARGET: self.name})

    @classmethod
    def attach(cls, shared: Mapping[str, str]) -> RunCluster:
        """Workers run in the same pod: they connect as the controller did."""
        return cls().open()
