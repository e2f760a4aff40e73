"""A kind cluster, found (or created) with the real `kind` CLI.

An existing cluster is used as it is and never deleted. One the run creates
(`--kfs-kind-create`) runs on Docker, or on podman where Docker does not answer, from the node
image `--kfs-kind-image` names (default: the one built here, `pytest_kfs.kindnode`, when podman
holds it, else kind's own); the run waits for its node and CoreDNS, installs KServe
(`--kfs-kserve-version`, `pytest_kfs.kindnode.kserve`), and deletes it at the end unless
`--kfs-keep` keeps it. `--kfs-kind-install` installs KServe into a found cluster that lacks it.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_kfs.errors import SettingsError
from pytest_kfs.targets.base import (
    SHARED_CONTEXT,
    SHARED_KSERVE,
    SHARED_KUBECONFIG,
    SHARED_TARGET,
    RunCluster,
    Target,
    TargetOptions,
    refuse_options,
)

if TYPE_CHECKING:
    from pytest_kfs.kube.cluster import Cluster

DEFAULT_KIND_NAME = "kind"
# kind accepts the names Docker accepts for a container prefix.
_KIND_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


@dataclass(frozen=True)
class KindTarget(Target):
    """`kind` or `kind:<name>`; created with the kind CLI when `create` is set."""

    name = "kind"
    cluster_name: str = DEFAULT_KIND_NAME
    create: bool = False
    image: str | None = None  # --kfs-kind-image; None: the default (see the module)
    keep: str = "never"  # --kfs-keep: whether a cluster the run created outlives it
    install: bool = False  # --kfs-kind-install: KServe into a found cluster that lacks it
    kserve_version: str | None = None  # the release installed; None: the default

    @classmethod
    def parse(cls, value: str, options: TargetOptions) -> KindTarget | None:
        """`kind` or `kind:<name>`."""
        if value != cls.name and not value.startswith(cls.name + ":"):
            return None
        refuse_options(value, options, kind_create=True, kind_image=True, kind_install=True)
        cluster_name = value.partition(":")[2] if ":" in value else DEFAULT_KIND_NAME
        if not _KIND_NAME.match(cluster_name):
            raise SettingsError(
                f"--kfs-cluster={value}: '{cluster_name}' is not a valid kind "
                "cluster name (lower-case letters, digits, '.' and '-')"
            )
        return cls(
            cluster_name,
            options.kind_create,
            options.kind_image,
            options.keep,
            options.kind_install,
        )

    def describe(self) -> str:
        """One phrase for messages."""
        return f"kind cluster '{self.cluster_name}'"

    def with_kserve_version(self, version: str) -> KindTarget:
        """The release to install, when the run installs one."""
        if not (self.create or self.install):
            super().with_kserve_version(version)
        from pytest_kfs.kindnode import kserve

        kserve.chosen_release(version)
        return dataclasses.replace(self, kserve_version=version)

    def kserve_missing_hint(self) -> str:
        """kind's way to add it."""
        return (
            "add it with --kfs-kind-install (the release --kfs-kserve-version names, built "
            "here), or install it yourself"
        )

    def prepare(self) -> None:
        """With --kfs-kind-create: the container engine, set up where missing (root)."""
        if self.create:
            from pytest_kfs.kindnode import cluster

            cluster.prepare()

    def open(self) -> RunCluster:
        """Export the cluster's kubeconfig (creating the cluster first if asked) and connect."""
        from pytest_kfs.kube import kind
        from pytest_kfs.kube.cluster import connect_context

        directory = Path(tempfile.mkdtemp(prefix="kfs-kind-"))
        created: list[Callable[[], None]] = []
        try:
            env = kind.provider_env(kind.provider())
            if self.create:
                env, delete = self._create_if_missing(directory)
                created += [delete] if delete else []
            kubeconfig, context = kind.kubeconfig_for(self.cluster_name, False, directory, env)
            cluster = connect_context(context, kubeconfig)
            if created:
                from pytest_kfs.kindnode import cluster as kindnode

                kindnode.wait_ready(self.cluster_name, cluster.core)
            if created or (self.install and not cluster.kserve_installed):
                self._install_kserve(cluster, env)
        except BaseException:
            for delete in created:
                self._delete_unless_kept(delete, failed=True)
            shutil.rmtree(directory, ignore_errors=True)
            raise
        run = RunCluster(
            cluster=cluster,
            shared={
                SHARED_TARGET: self.name,
                SHARED_KUBECONFIG: str(kubeconfig),
                SHARED_CONTEXT: context,
                **(
                    {SHARED_KSERVE: cluster.kserve_description}
                    if cluster.kserve_description
                    else {}
                ),
            },
        )
        run.cleanups.append(lambda: shutil.rmtree(directory, ignore_errors=True))
        if created:
            run.cleanups.append(lambda: self._delete_unless_kept(created[0], run.failed))
        return run

    def _install_kserve(self, cluster: Cluster, env: dict[str, str]) -> None:
        from pytest_kfs.kindnode import kserve

        cluster.kserve_description = kserve.install(
            self.cluster_name, self.kserve_version, cluster.api_client, env
        )
        cluster.kserve_installed = True

    def _create_if_missing(
        self, directory: Path
    ) -> tuple[dict[str, str], Callable[[], None] | None]:
        """kind's environment, and how to delete the cluster when this run created it."""
        from pytest_kfs.kindnode import cluster
        from pytest_kfs.kube import kind

        plan = cluster.choose(self.image)
        env = kind.provider_env(plan.provider)
        if self.cluster_name in kind.cluster_names(env=env):
            return env, None  # used as it is, never deleted
        cluster.check_image(plan)
        kind.create(self.cluster_name, plan.image, plan.config, env, directory)
        return env, lambda: kind.delete(self.cluster_name, env)

    def _delete_unless_kept(self, delete: Callable[[], None], failed: bool) -> None:
        if self.keep == "always" or (self.keep == "on-failure" and failed):
            print(
                f"pytest-kfs: kept kind cluster '{self.cluster_name}' (--kfs-keep); remove "
                f"with: kind delete cluster --name {self.cluster_name}",
                file=sys.stderr,
            )
            return
        delete()
