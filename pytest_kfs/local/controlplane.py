"""A real etcd + kube-apiserver + kube-controller-manager on loopback, for one test run."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pytest_kfs.errors import KfsError
from pytest_kfs.local import pki, processes
from pytest_kfs.local.assets import Assets, locate
from pytest_kfs.local.loopback import open_url

CONTEXT_NAME = "kfs-local"
WORKDIR_PREFIX = "kfs-local-"
_OWNER_FILE = "owner.pid"
_START_TIMEOUT = 60.0

# Metadata for every request: enough to prove read-only runs (verbs per user), no bodies,
# so no secret ever lands in the audit log.
_AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}


class ControlPlaneError(KfsError, RuntimeError):
    """The embedded control plane could not start; the message carries the log tail."""


@dataclass
class ControlPlane:
    """A running embedded control plane; `stop()` leaves no process and no directory."""

    workdir: Path
    pki: pki.ControlPlanePki | None
    kubeconfig: Path
    server: str
    audit_log: Path
    etcd_url: str = ""
    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    _apiserver_argv: list[str] = field(default_factory=list)

    def stop(self) -> None:
        """Stop every process, newest first, and delete the working directory."""
        for _, process in reversed(self._processes):
            # Everything lives in a throwaway directory: no need for kube-apiserver's
            # seconds-long graceful shutdown.
            processes.stop(process, grace_seconds=0.5)
        self._processes.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def alive(self) -> dict[str, bool]:
        """Which of the control-plane processes are still running."""
        return {name: process.poll() is None for name, process in self._processes}

    def client_ssl_context(self) -> ssl.SSLContext:
        """TLS to kube-apiserver as the admin (for proxies that stand in front of it)."""
        if self.pki is None:
            raise ControlPlaneError("the control plane has no certificates yet")
        return _ssl_context(self.pki)

    def restart_apiserver(self, down_seconds: float = 0.0) -> None:
        """Stop kube-apiserver, stay down `down_seconds`, start it again on the same port."""
        index = next(i for i, (name, _) in enumerate(self._processes) if name == "kube-apiserver")
        processes.stop(self._processes[index][1], grace_seconds=0.5)
        time.sleep(down_seconds)
        log = self.workdir / "kube-apiserver.log"
        process = processes.spawn(self._apiserver_argv, log)
        self._processes[index] = ("kube-apiserver", process)
        _wait_until(
            lambda: _http_ok(f"{self.server}/readyz", self.client_ssl_context()),
            "kube-apiserver",
            process,
            log,
            time.monotonic() + _START_TIMEOUT,
        )

    def pids(self) -> list[int]:
        """Process ids of the control plane (for tests that prove cleanup)."""
        return [process.pid for _, process in self._processes]

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def sweep_stale_workdirs(root: Path | None = None) -> list[Path]:
    """Delete working directories of runs whose owning process is gone (e.g. SIGKILLed)."""
    root = root or Path(tempfile.gettempdir())
    removed = []
    for candidate in root.glob(f"{WORKDIR_PREFIX}*"):
        owner = candidate / _OWNER_FILE
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if not processes.pid_alive(pid):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


def _ssl_context(certs: pki.ControlPlanePki) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs.ca_cert))
    context.load_cert_chain(str(certs.admin_cert), str(certs.admin_key))
    return context


def _wait_until(
    ready: Callable[[], bool],
    what: str,
    process: subprocess.Popen[bytes],
    log: Path,
    deadline: float,
) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ControlPlaneError(
                f"{what} exited with code {process.returncode} while starting; "
                f"last lines of its log:\n{processes.tail(log)}"
            )
        if ready():
            return
        time.sleep(0.05)
    raise ControlPlaneError(
        f"{what} was not ready within {_START_TIMEOUT:.0f}s; last lines of its log:\n"
        f"{processes.tail(log)}"
    )


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with open_url(url, timeout=1, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _write_kubeconfig(path: Path, server: str, certs: pki.ControlPlanePki) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CONTEXT_NAME,
                "cluster": {"server": server, "certificate-authority": str(certs.ca_cert)},
            }
        ],
        "users": [
            {
                "name": "kfs-admin",
                "user": {
                    "client-certificate": str(certs.admin_cert),
                    "client-key": str(certs.admin_key),
                },
            }
        ],
        "contexts": [
            {"name": CONTEXT_NAME, "context": {"cluster": CONTEXT_NAME, "user": "kfs-admin"}}
        ],
        "current-context": CONTEXT_NAME,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)


def _apiserver_command(
    assets: Assets, certs: pki.ControlPlanePki, workdir: Path, etcd_url: str, port: int
) -> list[str]:
    return [
        str(assets.kube_apiserver),
        f"--etcd-servers={etcd_url}",
        f"--etcd-cafile={certs.ca_cert}",
        f"--etcd-certfile={certs.admin_cert}",
        f"--etcd-keyfile={certs.admin_key}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={workdir / 'apiserver-certs'}",
        f"--tls-cert-file={certs.serving_cert}",
        f"--tls-private-key-file={certs.serving_key}",
        f"--client-ca-file={certs.ca_cert}",
        "--authorization-mode=RBAC",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={certs.service_account_pub}",
        f"--service-account-signing-key-file={certs.service_account_key}",
        f"--audit-log-path={workdir / 'audit.log'}",
        f"--audit-policy-file={workdir / 'audit-policy.yaml'}",
        "--allow-privileged=true",
        # pods/log reaches the embedded kubelet like a real one: TLS, client certificate.
        f"--kubelet-client-certificate={certs.admin_cert}",
        f"--kubelet-client-key={certs.admin_key}",
        f"--kubelet-certificate-authority={certs.ca_cert}",
        "--kubelet-preferred-address-types=InternalIP",
        "--enable-priority-and-fairness=false",
        "--profiling=false",
        "--v=0",
    ]


def _controller_manager_command(
    assets: Assets, certs: pki.ControlPlanePki, kubeconfig: Path
) -> list[str]:
    # Only the controllers a test cluster needs: namespace deletion, default service accounts,
    # the kube-root-ca.crt config map, garbage collection of owned objects, Jobs, and the
    # Deployments and ReplicaSets KServe's Standard mode serves models with, and ResourceQuota
    # usage (quota admission refuses pods while a quota's usage is not counted).
    return [
        str(assets.kube_controller_manager),
        f"--kubeconfig={kubeconfig}",
        "--controllers=namespace-controller,serviceaccount-controller,"
        "serviceaccount-token-controller,garbage-collector-controller,"
        "root-ca-certificate-publisher-controller,job-controller,deployment-controller,"
        "replicaset-controller,resourcequota-controller",
        f"--service-account-private-key-file={certs.service_account_key}",
        f"--root-ca-file={certs.ca_cert}",
        "--use-service-account-credentials=false",
        "--leader-elect=false",
        "--secure-port=0",
        "--concurrent-namespace-syncs=4",
        "--namespace-sync-period=1m",
        "--v=0",
    ]


def start(
    assets: Assets | None = None, before_controllers: Callable[[ControlPlane], None] | None = None
) -> ControlPlane:
    """Start etcd, kube-apiserver and kube-controller-manager; return once the API is ready.

    `before_controllers` runs once the API answers, before kube-controller-manager starts: what
    a cluster has before its workloads (CRDs) is then in the garbage collector's first
    discovery. (Installed later, the collector learns of a kind only at its next resync, 30 s,
    and until then cannot delete what such an object owns: a deleted InferenceService's pods
    stayed up to a minute.)"""
    assets = assets or locate()
    sweep_stale_workdirs()
    workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
    (workdir / _OWNER_FILE).write_text(str(os.getpid()))
    plane = ControlPlane(
        workdir=workdir,
        pki=None,
        kubeconfig=workdir / "kubeconfig",
        server="",
        audit_log=workdir / "audit.log",
    )
    try:
        _start_processes(plane, assets, before_controllers)
    except BaseException:
        plane.stop()
        raise
    return plane


def _start_processes(
    plane: ControlPlane,
    assets: Assets,
    before_controllers: Callable[[ControlPlane], None] | None = None,
) -> None:
    workdir = plane.workdir
    deadline = time.monotonic() + _START_TIMEOUT
    certs = plane.pki = pki.generate(workdir)
    (workdir / "audit-policy.yaml").write_text(json.dumps(_AUDIT_POLICY))

    client_port, peer_port = processes.free_port(), processes.free_port()
    etcd_url = plane.etcd_url = f"https://127.0.0.1:{client_port}"
    peer_url = f"https://127.0.0.1:{peer_port}"
    etcd_log = workdir / "etcd.log"
    # Loopback is shared with every local user: etcd only answers clients (and peers) with a
    # certificate from this run's CA, whose files are in the 0700 work directory.
    tls = [
        f"--cert-file={certs.serving_cert}",
        f"--key-file={certs.serving_key}",
        f"--trusted-ca-file={certs.ca_cert}",
        "--client-cert-auth",
        f"--peer-cert-file={certs.serving_cert}",
        f"--peer-key-file={certs.serving_key}",
        f"--peer-trusted-ca-file={certs.ca_cert}",
        "--peer-client-cert-auth",
    ]
    etcd = processes.spawn(
        [
            assets.etcd,
            f"--data-dir={workdir / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            *tls,
            "--unsafe-no-fsync",
            "--log-level=warn",
            # KServe's real InferenceService CRD alone is about 2 MB.
            "--max-request-bytes=10485760",
        ],
        etcd_log,
    )
    plane._processes.append(("etcd", etcd))
    context = _ssl_context(certs)
    _wait_until(lambda: _http_ok(f"{etcd_url}/health", context), "etcd", etcd, etcd_log, deadline)

    port = processes.free_port()
    plane.server = f"https://127.0.0.1:{port}"
    apiserver_log = workdir / "kube-apiserver.log"
    plane._apiserver_argv = _apiserver_command(assets, certs, workdir, etcd_url, port)
    apiserver = processes.spawn(plane._apiserver_argv, apiserver_log)
    plane._processes.append(("kube-apiserver", apiserver))
    _wait_until(
        lambda: _http_ok(f"{plane.server}/readyz", context),
        "kube-apiserver",
        apiserver,
        apiserver_log,
        deadline,
    )

    _write_kubeconfig(plane.kubeconfig, plane.server, certs)
    if before_controllers is not None:
        before_controllers(plane)
    manager_log = workdir / "kube-controller-manager.log"
    manager = processes.spawn(
        _controller_manager_command(assets, certs, plane.kubeconfig), manager_log
    )
    plane._processes.append(("kube-controller-manager", manager))
