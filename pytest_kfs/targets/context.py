"""A context of a kubeconfig file: a cluster someone else runs, with KServe installed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_kfs.targets.base import (
    SHARED_CONTEXT,
    SHARED_KUBECONFIG,
    SHARED_TARGET,
    RunCluster,
    Target,
    TargetOptions,
    refuse_options,
)
from pytest_kfs.untrusted import expanded


@dataclass(frozen=True)
class ContextTarget(Target):
    """A kubeconfig context (kubeconfig None: the client's default file)."""

    name = "context"
    takes_any_value = True
    context: str
    kubeconfig: Path | None = None

    @classmethod
    def parse(cls, value: str, options: TargetOptions) -> ContextTarget:
        """Any value no other target claims is a context name."""
        refuse_options(value, options, kubeconfig=True)
        return cls(
            value, expanded(options.kubeconfig, "--kfs-kubeconfig") if options.kubeconfig else None
        )

    def describe(self) -> str:
        """One phrase for messages."""
        where = f" of {self.kubeconfig}" if self.kubeconfig else ""
        return f"kubeconfig context '{self.context}'{where}"

    def open(self) -> RunCluster:
        """Connect with the context; workers read the same file."""
        from pytest_kfs.kube.cluster import connect_context

        cluster = connect_context(self.context, self.kubeconfig)
        shared = {SHARED_TARGET: self.name, SHARED_CONTEXT: self.context}
        if self.kubeconfig is not None:
            shared[SHARED_KUBECONFIG] = str(self.kubeconfig)
        return RunCluster(cluster=cluster, shared=shared)
