"""The embedded cluster (`--kfs-cluster=local`): the only module of the core that reaches
`pytest_kfs.local`, always lazily (it starts processes and imports the Kubernetes client)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_kfs.errors import SettingsError
from pytest_kfs.kserve.spec import ModelSpec
from pytest_kfs.targets.base import (
    SHARED_AUDIT_LOG,
    SHARED_CONTEXT,
    SHARED_INGRESS,
    SHARED_KSERVE,
    SHARED_KUBECONFIG,
    SHARED_TARGET,
    LocalCloud,
    RunCluster,
    Target,
    sigterm_as_interrupt,
)

SHARED_GCP_ENDPOINT = "kfs_shared_gcp_endpoint"
SHARED_GCP_TOKEN = "kfs_shared_gcp_token"


@dataclass(frozen=True)
class LocalTarget(Target):
    """The embedded cluster the plugin starts, running KServe `kserve_version`."""

    name = "local"
    starts_on_demand = True
    kserve_version: str | None = None  # None: the newest release the embedded cluster runs

    def describe(self) -> str:
        """One phrase for messages."""
        return "the embedded cluster (--kfs-cluster=local)"

    def header(self) -> str:
        """Which KServe it will run."""
        from pytest_kfs.local.kserve.releases import release

        return f"local, embedded, {release(self.kserve_version).describe()}"

    def with_kserve_version(self, version: str) -> LocalTarget:
        """The embedded cluster running another supported release."""
        from pytest_kfs.local.kserve.releases import UnknownRelease, release

        try:
            release(version)
        except UnknownRelease as error:
            raise SettingsError(f"--kfs-kserve-version: {error}") from None
        return LocalTarget(version)

    def prepare(self) -> None:
        """Build what the chosen release lacks, once per machine (AssetsMissing without Go)."""
        from pytest_kfs.local.assets import ensure_built
        from pytest_kfs.local.kserve.releases import release

        ensure_built(release(self.kserve_version))

    def open(self) -> RunCluster:
        """Start the embedded cluster (a SIGTERM meanwhile stops it, as Ctrl-C does)."""
        from pytest_kfs.kube.cluster import connect_context
        from pytest_kfs.local.embedded import start_embedded
        from pytest_kfs.local.gcp.admin import GcpAdmin

        restore_signal = sigterm_as_interrupt()
        try:
            embedded = start_embedded(kserve_version=self.kserve_version)
        except BaseException:
            restore_signal()
            raise
        try:
            cluster = connect_context(embedded.context, embedded.kubeconfig)
        except BaseException:
            embedded.stop()
            restore_signal()
            raise
        cluster.ingress = embedded.gateway.address
        cluster.kserve_description = embedded.describe_kserve()
        run = RunCluster(
            cluster=cluster,
            cloud=_Cloud(GcpAdmin(embedded.local_gcp)),
            embedded=embedded,
            shared={
                SHARED_TARGET: self.name,
                SHARED_KUBECONFIG: str(embedded.kubeconfig),
                SHARED_CONTEXT: embedded.context,
                SHARED_AUDIT_LOG: str(embedded.audit_log),
                SHARED_GCP_ENDPOINT: embedded.local_gcp.endpoint,
                SHARED_GCP_TOKEN: embedded.local_gcp.admin_token,
                SHARED_INGRESS: cluster.ingress,
                SHARED_KSERVE: cluster.kserve_description,
            },
        )
        run.cleanups += [restore_signal, embedded.stop]
        return run

    @classmethod
    def attach(cls, shared: Mapping[str, str]) -> RunCluster:
        """A worker reaches the controller's local GCP through its admin endpoint."""
        from pytest_kfs.local.gcp.admin import RemoteGcpAdmin

        run = super().attach(shared)
        run.cloud = _Cloud(RemoteGcpAdmin(shared[SHARED_GCP_ENDPOINT], shared[SHARED_GCP_TOKEN]))
        return run

    def rehearsal(self) -> _Rehearsal:
        """The failure scenarios of `pytest_kfs.local.scenarios`."""
        return _Rehearsal()


class _Cloud(LocalCloud):
    """The embedded cluster's local Google Cloud."""

    def __init__(self, admin: Any) -> None:
        self.admin = admin

    def endpoint(self) -> str:
        """Base URL of its storage API and token endpoint."""
        return str(self.admin.endpoint())

    def operator_key(self) -> dict[str, str]:
        """A key of the operator account, granted what a platform engineer has."""
        from pytest_kfs.local.scenarios import operator_key

        return operator_key(self.admin)


class _Rehearsal:
    """Scenarios, the default models, and models made on demand in the local cloud."""

    def scenarios(self, value: str) -> tuple[str, ...]:
        """`all`, or names separated by commas; SettingsError lists the known ones."""
        from pytest_kfs.local.scenarios import SCENARIOS

        if value.strip() == "all":
            return tuple(SCENARIOS)
        names = tuple(dict.fromkeys(name.strip() for name in value.split(",")))
        unknown = [name for name in names if name and name not in SCENARIOS]
        if unknown or not all(names):
            what = f"unknown scenario '{unknown[0]}'" if unknown else "an empty scenario name"
            raise SettingsError(
                f"--kfs-scenario={value}: {what}; known: {', '.join(SCENARIOS)}, or all"
            )
        return names

    def scenario(self, name: str) -> Any:
        """The scenario by name."""
        from pytest_kfs.local.scenarios import scenario

        return scenario(name)

    def default_models(self, scenarios: tuple[str, ...]) -> list[ModelSpec]:
        """Each scenario's model (with none named: the healthy rehearsal's)."""
        return [
            self.scenario(name).plan.but(name=name, scenario=name)
            for name in scenarios or ("healthy",)
        ]

    def arrange_model(self, cloud: LocalCloud, storage_uri: str, sample: str | None) -> str | None:
        """Make the model in the local cloud; one line when it cannot be made."""
        from pytest_kfs.local.scenarios import arrange_model

        return arrange_model(cloud.admin, storage_uri, sample)
