"""pytest hooks of pytest-kfs: options, ini keys, the run's cluster, fixtures."""

from __future__ import annotations

import os
from typing import Any

import pytest

from pytest_kfs.cluster import Cluster, ClusterError
from pytest_kfs.config import Settings, SettingsError, resolve
from pytest_kfs.session import RunCluster, open_cluster

SETTINGS = pytest.StashKey[Settings]()
RUN_CLUSTER = pytest.StashKey[RunCluster]()

_NO_CLUSTER = (
    "no cluster configured for pytest-kfs: pass --kfs-cluster=local (embedded), "
    "--kfs-cluster=<kubeconfig context>, --kfs-cluster=kind[:name] or --kfs-cluster=in-cluster"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register --kfs-* options and kfs_* ini keys."""
    group = parser.getgroup("kfs", "pytest-kfs (KServe model checks)")
    group.addoption(
        "--kfs-cluster", dest="kfs_cluster", metavar="TARGET",
        help="cluster to run against: local (embedded, started for the run), a kubeconfig "
             "context name, in-cluster, kind or kind:<name>. Env KFS_CLUSTER, ini kfs_cluster.",
    )
    group.addoption(
        "--kfs-kubeconfig", dest="kfs_kubeconfig", metavar="PATH",
        help="kubeconfig file holding the context (default: KUBECONFIG or ~/.kube/config). "
             "Env KFS_KUBECONFIG, ini kfs_kubeconfig.",
    )
    group.addoption(
        "--kfs-kind-create", dest="kfs_kind_create", action="store_true", default=False,
        help="create the kind cluster with the kind CLI when it does not exist",
    )
    group.addoption(
        "--kfs-timeout", dest="kfs_timeout", metavar="SECONDS",
        help="overall deadline for a model to become Loaded (default 300). Env KFS_TIMEOUT, "
             "ini kfs_timeout.",
    )
    group.addoption(
        "--kfs-scenario", dest="kfs_scenario", metavar="NAME",
        help="with --kfs-cluster=local: arrange a rehearsal scenario (healthy, "
             "gcs-permission-denied, object-read-denied, wrong-path, bucket-missing, "
             "anonymous-fallback, bad-key, broken-workload-identity, workload-identity, "
             "runtime-missing, scale-to-zero). Env KFS_SCENARIO, ini kfs_scenario.",
    )
    parser.addini("kfs_scenario", "pytest-kfs rehearsal scenario (see --kfs-scenario)",
                  default="")
    parser.addini("kfs_cluster", "pytest-kfs cluster target (see --kfs-cluster)", default="")
    parser.addini("kfs_kubeconfig", "pytest-kfs kubeconfig file (see --kfs-kubeconfig)",
                  default="")
    parser.addini("kfs_timeout", "pytest-kfs wait deadline in seconds (see --kfs-timeout)",
                  default="")


def _settings(config: pytest.Config) -> Settings:
    cli = {name: config.getoption(f"kfs_{name}")
           for name in ("cluster", "kubeconfig", "kind_create", "timeout", "scenario")}
    ini = {name: config.getini(f"kfs_{name}")
           for name in ("cluster", "kubeconfig", "timeout", "scenario")}
    settings = resolve(cli, ini, os.environ)
    if settings.scenario:
        from pytest_kfs.local.scenarios import scenario  # only with --kfs-cluster=local

        try:
            scenario(settings.scenario)
        except KeyError as error:
            raise SettingsError(f"--kfs-scenario: {error.args[0]}") from None
    return settings


def pytest_configure(config: pytest.Config) -> None:
    """Validate the settings (bad input is a one-line usage error) and start the session."""
    try:
        config.stash[SETTINGS] = _settings(config)
    except SettingsError as error:
        raise pytest.UsageError(f"pytest-kfs: {error}") from None
    config.pluginmanager.register(KfsSession(config), "kfs-session")


class KfsSession:
    """Owns the run's cluster: started once, shared with xdist workers, closed at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Start or connect to the cluster before any worker starts; fail the run at once."""
        settings = self.config.stash[SETTINGS]
        if settings.target is None:
            return
        shared = getattr(self.config, "workerinput", {})
        try:
            self.config.stash[RUN_CLUSTER] = open_cluster(settings.target, shared)
        except ClusterError as error:
            raise pytest.UsageError(f"pytest-kfs: {error}") from None
        except Exception as error:  # e.g. missing binaries, a control plane that cannot start
            if type(error).__module__.startswith("pytest_kfs"):
                raise pytest.UsageError(f"pytest-kfs: {error}") from None
            raise

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: object) -> None:
        """Hand each xdist worker the controller's cluster instead of starting its own."""
        run = self.config.stash.get(RUN_CLUSTER, None)
        if run is not None:
            node.workerinput.update(run.shared)  # type: ignore[attr-defined]

    def pytest_report_header(self, config: pytest.Config) -> str | None:
        """Say which cluster the run uses."""
        run = config.stash.get(RUN_CLUSTER, None)
        return f"kfs cluster: {run.cluster.describe()}" if run else None

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Stop what the run started; runs after Ctrl-C too."""
        run = config.stash.get(RUN_CLUSTER, None)
        if run is not None:
            run.close()
            del config.stash[RUN_CLUSTER]


@pytest.fixture(scope="session")
def kfs_gcp(pytestconfig: pytest.Config) -> Any:
    """The embedded cluster's local GCP: arrange buckets, objects, keys and grants."""
    run = pytestconfig.stash.get(RUN_CLUSTER, None)
    admin = run.gcp_admin() if run else None
    if admin is None:
        pytest.skip("kfs_gcp needs the embedded cluster (--kfs-cluster=local)")
    return admin


@pytest.fixture(scope="session")
def kfs_scenario(pytestconfig: pytest.Config) -> Any:
    """The rehearsal scenario of this run (--kfs-scenario), or skip when none is set."""
    name = pytestconfig.stash[SETTINGS].scenario
    if not name:
        pytest.skip("no --kfs-scenario given")
    from pytest_kfs.local.scenarios import scenario

    return scenario(name)


@pytest.fixture(scope="session")
def kfs_cluster(pytestconfig: pytest.Config) -> Cluster:
    """The connected cluster of this run (API clients, context, server version, KServe)."""
    run = pytestconfig.stash.get(RUN_CLUSTER, None)
    if run is None:
        pytest.skip(_NO_CLUSTER)
    return run.cluster
