"""A kind cluster, found (or created) with the real `kind` CLI."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pytest_kfs.errors import SettingsError
from pytest_kfs.targets.base import (
    SHARED_CONTEXT,
    SHARED_KUBECONFIG,
    SHARED_TARGET,
    RunCluster,
    Target,
    TargetOptions,
    refuse_options,
)

DEFAULT_KIND_NAME = "kind"
# kind accepts the names Docker accepts for a container prefix.
_KIND_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


@dataclass(frozen=True)
class KindTarget(Target):
    """`kind` or `kind:<name>`; created with the kind CLI when `create` is set."""

    name = "kind"
    cluster_name: str = DEFAULT_KIND_NAME
    create: bool = False

    @classmethod
    def parse(cls, value: str, options: TargetOptions) -> KindTarget | None:
        """`kind` or `kind:<name>`."""
        if value != cls.name and not value.startswith(cls.name + ":"):
            return None
        refuse_options(value, options, kind_create=True)
        cluster_name = value.partition(":")[2] if ":" in value else DEFAULT_KIND_NAME
        if not _KIND_NAME.match(cluster_name):
            raise SettingsError(
                f"--kfs-cluster={value}: '{cluster_name}' is not a valid kind "
                "cluster name (lower-case letters, digits, '.' and '-')"
            )
        return cls(cluster_name, options.kind_create)

    def describe(self) -> str:
        """One phrase for messages."""
        return f"kind cluster '{self.cluster_name}'"

    def open(self) -> RunCluster:
        """Export the cluster's kubeconfig (creating the cluster first if asked) and connect."""
        from pytest_kfs.kube import kind
        from pytest_kfs.kube.cluster import connect_context

        directory = Path(tempfile.mkdtemp(prefix="kfs-kind-"))
        try:
            kubeconfig, context = kind.kubeconfig_for(self.cluster_name, self.create, directory)
            cluster = connect_context(context, kubeconfig)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        run = RunCluster(
            cluster=cluster,
            shared={
                SHARED_TARGET: self.name,
                SHARED_KUBECONFIG: str(kubeconfig),
                SHARED_CONTEXT: context,
            },
        )
        run.cleanups.append(lambda: shutil.rmtree(directory, ignore_errors=True))
        return run
