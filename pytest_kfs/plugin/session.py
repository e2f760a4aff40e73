"""The run's session: opens the cluster once (shared with xdist workers), checks the
credentials, sweeps what earlier runs left, reads the fleet, and at the end cleans up (the
reports are `reporting`'s)."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

import pytest

from pytest_kfs.errors import KfsError
from pytest_kfs.plugin.settings import said
from pytest_kfs.plugin.stash import (
    FLEET,
    INSTANCE,
    RUN_CLUSTER,
    RUN_ID,
    SETTINGS,
)
from pytest_kfs.shell import Command

if TYPE_CHECKING:
    from pytest_kfs.targets.base import Target

# Fixtures that reach the cluster: a test using any of them needs it started.
_DELETE_NAMESPACE = Command("kubectl delete namespace {namespace}")
NEEDS_CLUSTER = {"kfs_cluster", "kfs_gcp", "kfs_gcs_endpoint", "kfs_google", "kfs_fleet"}


class KfsSession:
    """Owns the run's cluster: started once, shared with xdist workers, closed at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.sweep_note = ""
        self.permission_note = ""
        self.leftovers: list[str] = []
        self.kept: list[str] = []
        self.deferred = False
        self.started = time.monotonic()

    @property
    def _controller(self) -> bool:
        return not hasattr(self.config, "workerinput")

    def _owns_namespaces(self) -> bool:
        settings = self.config.stash[SETTINGS]
        return (
            self._controller
            and RUN_CLUSTER in self.config.stash
            and settings.existing is None
            and settings.namespace is None
        )

    def _open_shared_namespace(self) -> None:
        """--kfs-namespace: it must exist; what killed runs left there is swept after the TTL
        (only objects carrying pytest-kfs's label)."""
        from kubernetes.client.rest import ApiException

        from pytest_kfs.kube import namespaces

        settings = self.config.stash[SETTINGS]
        if settings.namespace is None or not self._controller:
            return
        cluster = self.config.stash[RUN_CLUSTER].cluster
        try:
            cluster.core.read_namespace(settings.namespace)
        except ApiException as error:
            if error.status == 404:
                raise pytest.UsageError(
                    f"pytest-kfs: --kfs-namespace={settings.namespace}: no such namespace on "
                    f"context '{cluster.context}'; create it, or leave the option out to get "
                    "a fresh namespace per test"
                ) from None
            if error.status != 403:  # a 403 on get namespaces: deploying may still work
                raise
        ttl = settings.sweep_ttl_seconds
        if ttl is None:
            return
        try:
            swept = namespaces.sweep_objects(
                cluster,
                settings.namespace,
                time.time(),
                run_id=self.config.stash[RUN_ID],
                older_than=ttl,
            )
        except ApiException as error:
            self.sweep_note = (
                f"kfs sweep: skipped in {settings.namespace} (HTTP "
                f"{error.status}); what earlier runs left there stays"
            )
            return
        if swept:
            self.sweep_note = (
                f"kfs sweep: deleted what earlier runs left in "
                f"{settings.namespace}, older than {ttl / 60:g}m: "
                f"{', '.join(swept)}"
            )

    def _check_permissions(self) -> None:
        """Fail the run at once, naming each missing permission, rather than test by test."""
        from pytest_kfs.kube import permissions

        settings = self.config.stash[SETTINGS]
        if not self._controller or RUN_CLUSTER not in self.config.stash:
            return
        cluster = self.config.stash[RUN_CLUSTER].cluster
        if settings.existing is not None:
            # Each selected namespace is asked (a namespaced Role per team is enough).
            namespaces = settings.existing.namespaces or ("",)
            table, read_only = permissions.VERIFY, True
            scope = f"to verify {settings.existing.describe()}"
        elif settings.namespace is not None:
            namespaces, table, read_only = (settings.namespace,), permissions.DEPLOY_INTO, False
            scope = f"to deploy into namespace {settings.namespace}"
        else:
            namespaces, table, read_only = ("",), permissions.DEPLOY, False
            scope = "to deploy into namespaces of its own (cluster-wide)"
        found = permissions.missing_in(
            table, permissions.review_with(cluster.api_client), namespaces
        )
        if found.unknown:
            self.permission_note = (
                "kfs permissions: not checked (the API server refused SelfSubjectAccessReview)"
            )
        elif found.required:
            raise pytest.UsageError(
                "pytest-kfs: "
                + permissions.refusal(found, f"context '{cluster.context}'", scope, read_only)
            )
        else:
            self.permission_note = permissions.degraded(found)

    def _sweep_stale(self) -> None:
        from kubernetes.client.rest import ApiException

        from pytest_kfs.kube import namespaces

        ttl = self.config.stash[SETTINGS].sweep_ttl_seconds
        if ttl is None or not self._owns_namespaces():
            return
        cluster = self.config.stash[RUN_CLUSTER].cluster
        try:
            owned = namespaces.list_owned(cluster)
        except ApiException as error:
            self.sweep_note = (
                f"kfs sweep: skipped, cannot list namespaces (HTTP "
                f"{error.status}); stale pytest-kfs namespaces stay"
            )
            return
        stale = namespaces.stale(owned, time.time(), ttl, self.config.stash[RUN_ID])
        deleted = namespaces.delete_all(cluster, stale)
        if deleted:
            self.sweep_note = (
                f"kfs sweep: deleted {len(deleted)} pytest-kfs namespace(s) of "
                f"earlier runs older than {ttl / 60:g}m: {', '.join(deleted)}"
            )

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Start or connect to the cluster before any worker starts; fail the run at once."""
        settings = self.config.stash[SETTINGS]
        if settings.target is None:
            return
        if self._waits_for_collection():
            self.deferred = True
            return
        self._open()

    def _waits_for_collection(self) -> bool:
        """The embedded cluster starts only when a collected test needs it (`pytest
        tests/unit` starts none) — except under xdist, whose controller collects nothing and
        must hand its workers a running cluster, and with --kfs-existing, whose collection
        reads the cluster."""
        settings = self.config.stash[SETTINGS]
        return (
            settings.target is not None
            and settings.target.starts_on_demand
            and self._controller
            and not self.config.getoption("numprocesses", None)
            and settings.existing is None
        )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Start the deferred embedded cluster if a collected test needs a cluster."""
        if self.deferred and any(
            NEEDS_CLUSTER & set(getattr(item, "fixturenames", ())) for item in session.items
        ):
            self.deferred = False
            self._open()

    def _open(self) -> None:
        settings = self.config.stash[SETTINGS]
        assert settings.target is not None
        from pytest_kfs.targets import open_target

        shared = getattr(self.config, "workerinput", {})
        try:
            if not shared:  # a worker attaches to what its controller prepared
                self._prepare(settings.target)
            self.config.stash[RUN_CLUSTER] = open_target(settings.target, shared)
        except KfsError as error:  # an unreachable cluster, missing binaries, a failed start
            raise pytest.UsageError(said(error)) from None
        if settings.ingress:
            self.config.stash[RUN_CLUSTER].cluster.ingress = settings.ingress
        self._check_permissions()
        self._read_fleet()
        self._open_shared_namespace()
        self._sweep_stale()

    def _prepare(self, target: Target) -> None:
        """A first run's build shows its progress, so output capture is off meanwhile."""
        capture = self.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            target.prepare()

    def _read_fleet(self) -> None:
        """--kfs-existing: read what it selects, once for the run (each xdist worker reads
        its own); what cannot be read at all stops the run with one line."""
        settings = self.config.stash[SETTINGS]
        if settings.existing is None:
            return
        from pytest_kfs.diagnosis.fleet import read_fleet
        from pytest_kfs.errors import FleetUnreadable

        try:
            self.config.stash[FLEET] = read_fleet(
                self.config.stash[RUN_CLUSTER].cluster, settings.existing
            )
        except FleetUnreadable as error:
            raise pytest.UsageError(said(error)) from None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: object) -> None:
        """Hand each xdist worker the controller's cluster instead of starting its own."""
        node.workerinput["kfs_run_id"] = self.config.stash[RUN_ID]  # type: ignore[attr-defined]
        node.workerinput["kfs_instance"] = self.config.stash[INSTANCE]  # type: ignore[attr-defined]
        run = self.config.stash.get(RUN_CLUSTER, None)
        if run is not None:
            node.workerinput.update(run.shared)  # type: ignore[attr-defined]

    def pytest_report_header(self, config: pytest.Config) -> list[str] | None:
        """Say which cluster the run uses."""
        run = config.stash.get(RUN_CLUSTER, None)
        target = config.stash[SETTINGS].target
        if run is None and self.deferred and target is not None:
            return [f"kfs cluster: {target.header()}; started when a collected test needs it"]
        if run is None:
            return None
        notes = [note for note in (self.permission_note, self.sweep_note) if note]
        return [f"kfs cluster: {run.cluster.describe()}", *notes]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """This run's leftovers that were deleted; the namespaces kept on request."""
        if self.leftovers:
            what = (
                f"objects an interrupted test left in {settings.namespace}"
                if (settings := self.config.stash[SETTINGS]).namespace
                else "namespaces a worker left behind"
            )
            terminalreporter.write_line(f"pytest-kfs: deleted {what}: {', '.join(self.leftovers)}")
        if self.kept:
            terminalreporter.write_line(
                f"pytest-kfs: kept for inspection (--kfs-keep): "
                f"{', '.join(self.kept)}; remove with: "
                + "; ".join(_DELETE_NAMESPACE.render(namespace=name) for name in self.kept)
            )

    def _clean_up_run(self) -> None:
        """Delete this run's namespaces still standing (an xdist worker killed mid-test could
        not), and note the ones kept on request."""
        settings = self.config.stash[SETTINGS]
        if (
            settings.namespace is not None
            and self._controller
            and RUN_CLUSTER in self.config.stash
            and settings.keep == "never"
        ):
            from pytest_kfs.kube import namespaces as shared

            with contextlib.suppress(Exception):  # the cluster went away: nothing to add
                self.leftovers = shared.sweep_objects(
                    self.config.stash[RUN_CLUSTER].cluster,
                    settings.namespace,
                    time.time(),
                    run_id=self.config.stash[RUN_ID],
                )
        if not self._owns_namespaces():
            return
        from pytest_kfs.kube import namespaces

        cluster = self.config.stash[RUN_CLUSTER].cluster
        try:
            owned = namespaces.list_owned(cluster)
        except Exception:  # no list permission, or the cluster went away: nothing to add
            return
        run_id = self.config.stash[RUN_ID]
        self.leftovers = namespaces.delete_all(
            cluster, namespaces.of_run(owned, run_id, self.config.stash[INSTANCE])
        )
        self.kept = [ns.name for ns in owned if ns.run_id == run_id and ns.kept]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Clean up what workers left (controller only; before the terminal summary reports
        it)."""
        run = self.config.stash.get(RUN_CLUSTER, None)
        if run is not None:
            run.failed = bool(session.testsfailed) or session.exitstatus not in (0, 5)
        if self._controller:
            self._clean_up_run()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Stop what the run started; runs after Ctrl-C too."""
        run = config.stash.get(RUN_CLUSTER, None)
        if run is not None:
            run.close()
            del config.stash[RUN_CLUSTER]
