"""One run's cluster: resolve the target, start or find the cluster, connect, clean up."""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_kfs import kind
from pytest_kfs.cluster import Cluster, ClusterError, connect_context, connect_in_cluster
from pytest_kfs.config import ClusterTarget, ContextTarget, InClusterTarget, KindTarget, LocalTarget

# Keys of the xdist worker input: workers reuse the controller's cluster instead of their own.
SHARED_KUBECONFIG = "kfs_shared_kubeconfig"
SHARED_CONTEXT = "kfs_shared_context"
SHARED_KIND = "kfs_shared_kind"
SHARED_AUDIT_LOG = "kfs_shared_audit_log"
SHARED_GCP_ENDPOINT = "kfs_shared_gcp_endpoint"
SHARED_GCP_TOKEN = "kfs_shared_gcp_token"
SHARED_INGRESS = "kfs_shared_ingress"
SHARED_KSERVE = "kfs_shared_kserve"


@dataclass
class RunCluster:
    """The cluster of this run, and what to undo at the end."""

    cluster: Cluster
    shared: dict[str, str] = field(default_factory=dict)
    embedded: Any = None
    _cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def audit_log(self) -> Path | None:
        """kube-apiserver's audit log when the run uses the embedded cluster."""
        path = self.shared.get(SHARED_AUDIT_LOG)
        return Path(path) if path else None

    def gcp_admin(self) -> Any:
        """The embedded cluster's local GCP admin (in-process, or remote for xdist workers)."""
        if self.embedded is not None and self.embedded.gcp is not None:
            from pytest_kfs.local.gcp.admin import GcpAdmin

            return GcpAdmin(self.embedded.gcp)
        if self.shared.get(SHARED_GCP_ENDPOINT):
            from pytest_kfs.local.gcp.admin import RemoteGcpAdmin

            return RemoteGcpAdmin(self.shared[SHARED_GCP_ENDPOINT], self.shared[SHARED_GCP_TOKEN])
        return None

    def close(self) -> None:
        """Undo what this run set up, newest first (idempotent)."""
        while self._cleanups:
            self._cleanups.pop()()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _sigterm_as_interrupt() -> Callable[[], None]:
    # SIGTERM (CI cancelling a job) then cleans up exactly like Ctrl-C does.
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)
    return restore


def _start_local(target: LocalTarget) -> RunCluster:
    from pytest_kfs.local import start_embedded  # the core imports local/ only here

    restore_signal = _sigterm_as_interrupt()
    try:
        embedded = start_embedded(kserve_version=target.kserve_version)
    except BaseException:
        restore_signal()
        raise
    try:
        cluster = connect_context(embedded.context, embedded.kubeconfig)
    except BaseException:
        embedded.stop()
        restore_signal()
        raise
    cluster.kind = "local"
    cluster.ingress = embedded.gateway.address
    cluster.kserve_description = embedded.describe_kserve()
    run = RunCluster(cluster=cluster, embedded=embedded,
                     shared={SHARED_KUBECONFIG: str(embedded.kubeconfig),
                             SHARED_CONTEXT: embedded.context, SHARED_KIND: "local",
                             SHARED_AUDIT_LOG: str(embedded.audit_log),
                             SHARED_GCP_ENDPOINT: embedded.local_gcp.endpoint,
                             SHARED_GCP_TOKEN: embedded.local_gcp.admin_token,
                             SHARED_INGRESS: cluster.ingress,
                             SHARED_KSERVE: cluster.kserve_description})
    run._cleanups += [restore_signal, embedded.stop]
    return run


def _start_kind(target: KindTarget) -> RunCluster:
    directory = Path(tempfile.mkdtemp(prefix="kfs-kind-"))
    try:
        kubeconfig, context = kind.kubeconfig_for(target.name, target.create, directory)
        cluster = connect_context(context, kubeconfig)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    cluster.kind = "kind"
    run = RunCluster(cluster=cluster, shared={SHARED_KUBECONFIG: str(kubeconfig),
                                              SHARED_CONTEXT: context, SHARED_KIND: "kind"})
    run._cleanups.append(lambda: shutil.rmtree(directory, ignore_errors=True))
    return run


def open_cluster(target: ClusterTarget, shared: dict[str, str] | None = None) -> RunCluster:
    """Start or connect to the target; xdist workers pass the controller's `shared` input."""
    if shared and shared.get(SHARED_KUBECONFIG):
        cluster = connect_context(shared[SHARED_CONTEXT], Path(shared[SHARED_KUBECONFIG]))
        cluster.kind = shared.get(SHARED_KIND, "context")
        cluster.ingress = shared.get(SHARED_INGRESS)
        cluster.kserve_description = shared.get(SHARED_KSERVE)
        return RunCluster(cluster=cluster, shared=dict(shared))
    match target:
        case LocalTarget():
            run = _start_local(target)
        case KindTarget():
            run = _start_kind(target)
        case InClusterTarget():
            run = RunCluster(cluster=connect_in_cluster())
        case ContextTarget(context=context, kubeconfig=kubeconfig):
            run = RunCluster(cluster=connect_context(context, kubeconfig))
    if not run.cluster.kserve_installed:
        run.close()
        raise ClusterError(
            f"KServe is not installed on {target.describe()} ({run.cluster.server}): the API "
            "server does not serve serving.kserve.io/v1beta1 InferenceService; install KServe "
            "there, or use --kfs-cluster=local to rehearse"
        )
    return run
