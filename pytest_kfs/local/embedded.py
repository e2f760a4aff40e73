"""The embedded cluster: real control plane, KServe CRDs, local GCP, embedded KServe + node."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config

from pytest_kfs.local import controlplane, crds
from pytest_kfs.local.assets import initializer_python, model_server_python
from pytest_kfs.local.gcp import GcpWorld, LocalGcp
from pytest_kfs.local.kserve.controller import Controller
from pytest_kfs.local.kserve.kubelet import Kubelet, Timing


@dataclass
class EmbeddedCluster:
    """A running embedded cluster; connect to it with `kubeconfig` and `context`."""

    plane: controlplane.ControlPlane
    gcp: LocalGcp | None = None
    kubelet: Kubelet | None = None
    controller: Controller | None = None
    context: str = controlplane.CONTEXT_NAME

    @property
    def kubeconfig(self) -> Path:
        """The generated kubeconfig (admin, system:masters)."""
        return self.plane.kubeconfig

    @property
    def audit_log(self) -> Path:
        """kube-apiserver's audit log (Metadata level: who did which verb on what)."""
        return self.plane.audit_log

    @property
    def world(self) -> GcpWorld:
        """The local GCP's state: arrange projects, buckets, keys and grants here."""
        if self.gcp is None:
            raise RuntimeError("this embedded cluster runs without the local GCP")
        return self.gcp.world

    def api_client(self) -> client.ApiClient:
        """A fresh admin API client."""
        return config.new_client_from_config(str(self.kubeconfig), context=self.context,
                                             persist_config=False)

    def stop(self) -> None:
        """Stop everything; no process, thread or temp directory remains."""
        for part in (self.controller, self.kubelet, self.gcp):
            if part is not None:
                part.stop()
        self.plane.stop()
        # With the API server gone their connections break; wait for the threads to see the
        # stop flag: daemon threads still inside TLS calls at interpreter exit can abort it.
        _join_threads(("kfs-kserve", "kfs-kubelet", "kfs-local-gcp", "pod-", "scale-to-zero-"),
                      timeout=5.0)

    def __enter__(self) -> EmbeddedCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _join_threads(prefixes: tuple[str, ...], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread.name.startswith(prefixes) and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))


def start_embedded(extra_crds: list[dict] | None = None, own_crds: bool = True,
                   kserve: bool = True, timing: Timing | None = None) -> EmbeddedCluster:
    """Start the control plane, install the KServe CRDs and, unless told not to, KServe + GCP."""
    plane = controlplane.start()
    cluster = EmbeddedCluster(plane)
    try:
        api_client = cluster.api_client()
        wanted = (crds.own_crds() if own_crds else []) + (extra_crds or [])
        if wanted:
            crds.install(api_client, wanted)
        if kserve and plane.pki is not None:
            cluster.gcp = LocalGcp(GcpWorld()).start()
            cluster.kubelet = Kubelet(api_client, cluster.gcp, plane.workdir,
                                      plane.pki.serving_cert, plane.pki.serving_key, timing,
                                      initializer_python(), model_server_python()).start()
            cluster.controller = Controller(api_client, timing).start()
    except BaseException:
        cluster.stop()
        raise
    return cluster
