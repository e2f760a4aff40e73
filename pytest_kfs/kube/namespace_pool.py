"""The run's test namespaces as one object: made on demand, renewed while held, deleted or kept
when the test is done (pytest's tmp_path_factory pattern: the fixture only asks the pool).

The names, labels and the sweeps are in `namespaces`; this module owns the lifecycle.
"""

from __future__ import annotations

import threading
import time

from kubernetes.client.rest import ApiException

from pytest_kfs.errors import KfsError, NamespaceBusy
from pytest_kfs.kube import namespaces
from pytest_kfs.kube.cluster import Cluster
from pytest_kfs.kube.kserve_config import read_kserve_config


class Namespace(str):
    """A namespace name (a str, so it goes wherever a name does) that knows its cluster."""

    cluster: Cluster

    @classmethod
    def on(cls, cluster: Cluster, name: str) -> Namespace:
        """The namespace `name` of `cluster`."""
        namespace = cls(name)
        namespace.cluster = cluster
        return namespace


class NamespacePool:
    """Fresh namespaces for one run instance (an xdist worker has its own pool), or the one
    namespace the user named (`fixed`: never created, kept or deleted here). `keep` is
    --kfs-keep: never, on-failure or always."""

    def __init__(
        self,
        cluster: Cluster,
        run_id: str,
        instance: str,
        keep: str = "never",
        fixed: str | None = None,
    ) -> None:
        self.cluster, self.run_id, self.instance = cluster, run_id, instance
        self.keep, self.fixed = keep, fixed
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._room: int | None = None

    def open(self, test_id: str) -> Namespace:
        """A namespace for `test_id`, labelled as this run's and held until `close`; KfsError
        (one line: what and the fix) when it cannot be made."""
        if self.fixed is not None:
            return Namespace.on(self.cluster, self.fixed)
        name = namespaces.namespace_name(self.run_id, test_id, self.room())
        try:
            try:
                namespaces.create(self.cluster, name, self.run_id, test_id, self.instance)
            except NamespaceBusy:
                # Same run id, same test, another job: a name of this run instance's own.
                name = namespaces.namespace_name(
                    self.run_id, f"{test_id}@{self.instance}", self.room()
                )
                namespaces.create(self.cluster, name, self.run_id, test_id, self.instance)
        except ApiException as error:
            need = (
                " (pytest-kfs needs create on namespaces; see README, RBAC)"
                if error.status == 403
                else ""
            )
            raise KfsError(
                f"cannot create namespace {name} on {self.cluster.context}: HTTP "
                f"{error.status} {error.reason}{need}"
            ) from None
        self._hold(name)
        # As `kubectl create namespace` users expect: its default service account is there.
        namespaces.wait_default_account(self.cluster, name)
        return Namespace.on(self.cluster, name)

    def close(self, namespace: str, failed: bool) -> None:
        """Done with it: delete it, or keep it (annotated, so sweeps leave it) as asked."""
        if self.fixed is not None:
            return
        with self._lock:
            self._held.discard(str(namespace))
        if self.keep == "always" or (self.keep == "on-failure" and failed):
            namespaces.mark_kept(
                self.cluster, str(namespace), "failed" if failed else "--kfs-keep=always"
            )
            return
        namespaces.delete(self.cluster, str(namespace))

    def room(self) -> int:
        """The longest namespace the cluster's KServe domainTemplate leaves room for (read
        once)."""
        if self._room is None:
            ingress = read_kserve_config(self.cluster).get("ingress") or {}
            self._room = namespaces.namespace_room(
                ingress.get("domainTemplate"), ingress.get("ingressDomain")
            )
        return self._room

    def stop(self) -> None:
        """Stop renewing (the run is over; what is still held is cleaned up by the session)."""
        self._stopped.set()

    def _hold(self, name: str) -> None:
        with self._lock:
            self._held.add(name)
            if self._heartbeat is None:
                self._heartbeat = threading.Thread(
                    target=self._renew, name="kfs-heartbeat", daemon=True
                )
                self._heartbeat.start()

    def _renew(self) -> None:
        # A sweep by another run leaves a namespace alone while its heartbeat is fresh,
        # however old the namespace is.
        while not self._stopped.wait(namespaces.HEARTBEAT_SECONDS):
            with self._lock:
                held = list(self._held)
            namespaces.renew(self.cluster, held, time.time())
