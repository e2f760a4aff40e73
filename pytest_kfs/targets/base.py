"""What every cluster target offers, and the run's opened cluster (no I/O here)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pytest_kfs.errors import SettingsError

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api

    from pytest_kfs.gcp.cloud_admin import CloudAdmin
    from pytest_kfs.kserve.spec import ModelSpec
    from pytest_kfs.kube.cluster import Cluster

# Keys of the xdist worker input: workers attach to the controller's cluster instead of
# opening their own. TARGET names the registry entry that opened it.
SHARED_TARGET = "kfs_shared_target"
SHARED_KUBECONFIG = "kfs_shared_kubeconfig"
SHARED_CONTEXT = "kfs_shared_context"
SHARED_INGRESS = "kfs_shared_ingress"
SHARED_KSERVE = "kfs_shared_kserve"
SHARED_AUDIT_LOG = "kfs_shared_audit_log"


@dataclass(frozen=True)
class TargetOptions:
    """The options that shape a target besides --kfs-cluster itself."""

    kubeconfig: str | None = None
    kind_create: bool = False
    kind_image: str | None = None
    keep: str = "never"
    kind_install: bool = False


class LocalCloud(Protocol):
    """Capability: a cloud the run itself serves (the embedded cluster's local Google Cloud)."""

    admin: CloudAdmin  # what `kfs_gcp` hands to tests: buckets, objects, keys, grants

    def endpoint(self) -> str:
        """Base URL of its storage API and token endpoint."""

    def operator_key(self) -> dict[str, str]:
        """A key of an operator account that may read buckets, their policies and make
        tokens, as a platform engineer's own credentials would."""


class RehearsalScenario(Protocol):
    """A named failure (or success) a target can arrange, what `kfs_scenario` hands to tests."""

    @property
    def name(self) -> str:
        """Its name, as --kfs-scenario takes it."""

    @property
    def summary(self) -> str:
        """What it arranges, in a sentence."""

    @property
    def expect_loaded(self) -> bool:
        """Whether a model deployed in it loads."""

    @property
    def plan(self) -> ModelSpec:
        """The model it deploys."""

    def arrange_namespace(self, core: CoreV1Api, namespace: str, gcp: CloudAdmin) -> ModelSpec:
        """The cloud side, then the namespace's service account (and key secret); the model
        to deploy there."""


class Rehearsal(Protocol):
    """Capability: named failure scenarios the target can arrange, and the models it deploys
    when none are configured."""

    def scenarios(self, value: str) -> tuple[str, ...]:
        """The scenarios a --kfs-scenario value names (NAME[,NAME...] or all); SettingsError
        for a name it does not know."""

    def scenario(self, name: str) -> RehearsalScenario:
        """The scenario of that name."""

    def default_models(self, scenarios: tuple[str, ...]) -> list[ModelSpec]:
        """The models a suite checks when no model is configured: one per scenario."""

    def arrange_model(self, cloud: LocalCloud, storage_uri: str, sample: str | None) -> str | None:
        """Make the model exist in the local cloud; a one-line reason when it cannot."""


@dataclass
class RunCluster:
    """The cluster of this run, its optional capabilities, and what to undo at the end."""

    cluster: Cluster
    shared: dict[str, str] = field(default_factory=dict)
    cloud: LocalCloud | None = None
    embedded: Any = None  # the local target's running cluster (tests read its parts)
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    failed: bool = False  # set at the session's end: whether a test failed (--kfs-keep)

    @property
    def audit_log(self) -> Path | None:
        """kube-apiserver's audit log, when the target keeps one."""
        path = self.shared.get(SHARED_AUDIT_LOG)
        return Path(path) if path else None

    def close(self) -> None:
        """Undo what this run set up, newest first (idempotent)."""
        while self.cleanups:
            self.cleanups.pop()()


class Target:
    """A place a run's cluster comes from. Subclasses register in `pytest_kfs.targets`."""

    name: ClassVar[str]
    # Takes any --kfs-cluster value (a kubeconfig context): asked after every other target.
    takes_any_value: ClassVar[bool] = False
    # Started only once a collected test needs it (`pytest tests/unit` starts nothing).
    starts_on_demand: ClassVar[bool] = False

    @classmethod
    def parse(cls, value: str, options: TargetOptions) -> Target | None:
        """This target for a --kfs-cluster value, None when the value names another. By
        default the value is the target's name, and it takes no companion option."""
        if value != cls.name:
            return None
        refuse_options(value, options)
        return cls()

    def describe(self) -> str:
        """One phrase for messages."""
        raise NotImplementedError

    def header(self) -> str:
        """What the report header says before the cluster is opened."""
        return self.describe()

    def prepare(self) -> None:
        """Get what `open` needs onto this machine, printing progress (the plugin shows it,
        uncaptured); by default nothing."""

    def open(self) -> RunCluster:
        """Start or connect to the cluster."""
        raise NotImplementedError

    @classmethod
    def attach(cls, shared: Mapping[str, str]) -> RunCluster:
        """An xdist worker's view of the cluster its controller opened."""
        from pytest_kfs.kube.cluster import connect_context

        kubeconfig = shared.get(SHARED_KUBECONFIG)
        cluster = connect_context(shared[SHARED_CONTEXT], Path(kubeconfig) if kubeconfig else None)
        cluster.ingress = shared.get(SHARED_INGRESS)
        cluster.kserve_description = shared.get(SHARED_KSERVE)
        return RunCluster(cluster=cluster, shared=dict(shared))

    def with_kserve_version(self, version: str) -> Target:
        """The same target running another KServe release, when it can choose one."""
        raise SettingsError(
            f"--kfs-kserve-version={version} picks the KServe release of the "
            f"embedded cluster; {self.describe()} runs the KServe installed "
            "there"
        )

    def kserve_missing_hint(self) -> str:
        """What to do when KServe is not installed there (after a semicolon)."""
        return "install KServe there, or use --kfs-cluster=local to rehearse"

    def rehearsal(self) -> Rehearsal | None:
        """The scenarios it can arrange, if any."""
        return None


def refuse_options(
    value: str,
    options: TargetOptions,
    *,
    kubeconfig: bool = False,
    kind_create: bool = False,
    kind_image: bool = False,
    kind_install: bool = False,
) -> None:
    """SettingsError when the options include one this target does not take."""
    if options.kind_install and not kind_install:
        raise SettingsError(
            f"--kfs-kind-install only applies to kind clusters, not "
            f"--kfs-cluster={value}; drop it or use --kfs-cluster=kind:<name>"
        )
    if options.kind_image and not kind_image:
        raise SettingsError(
            f"--kfs-kind-image only applies to kind clusters, not --kfs-cluster={value}; drop "
            "it or use --kfs-cluster=kind:<name>"
        )
    if options.kind_create and not kind_create:
        raise SettingsError(
            f"--kfs-kind-create only applies to kind clusters, not "
            f"--kfs-cluster={value}; drop it or use --kfs-cluster=kind:<name>"
        )
    if options.kubeconfig and not kubeconfig:
        raise SettingsError(
            f"--kfs-kubeconfig conflicts with --kfs-cluster={value}, which "
            "brings its own credentials; drop --kfs-kubeconfig or name a "
            "context instead"
        )


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def sigterm_as_interrupt() -> Callable[[], None]:
    """While a slow start runs, SIGTERM (CI cancelling a job) cleans up as Ctrl-C does; returns
    the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore
