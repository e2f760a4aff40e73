"""The embedded cluster: real control plane, KServe's own manager, local GCP, one node."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config

from pytest_kfs.local import controlplane
from pytest_kfs.local.assets import initializer_python, model_server_python
from pytest_kfs.local.gcp.admin import GcpAdmin
from pytest_kfs.local.gcp.server import LocalGcp
from pytest_kfs.local.gcp.world import GcpWorld
from pytest_kfs.local.kserve import manager as kserve_manager
from pytest_kfs.local.kserve.releases import Release, release
from pytest_kfs.local.node.ingress import Ingress
from pytest_kfs.local.node.kubelet import Images, Kubelet, Timing
from pytest_kfs.local.scenarios import seed_samples


@dataclass
class EmbeddedCluster:
    """A running embedded cluster; connect to it with `kubeconfig` and `context`."""

    plane: controlplane.ControlPlane
    release: Release
    gcp: LocalGcp | None = None
    kubelet: Kubelet | None = None
    kserve: kserve_manager.KServeManager | None = None
    ingress: Ingress | None = None
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
        return self.local_gcp.world

    @property
    def local_gcp(self) -> LocalGcp:
        """The local GCP (every embedded cluster a run starts has one)."""
        if self.gcp is None:
            raise RuntimeError("this embedded cluster runs without the local GCP")
        return self.gcp

    @property
    def gateway(self) -> Ingress:
        """The ingress gateway (every embedded cluster a run starts has one)."""
        if self.ingress is None:
            raise RuntimeError("this embedded cluster runs without an ingress gateway")
        return self.ingress

    def describe_kserve(self) -> str:
        """What KServe runs here, for headers and reports."""
        return self.release.describe()

    def api_client(self) -> client.ApiClient:
        """A fresh admin API client."""
        return config.new_client_from_config(
            str(self.kubeconfig), context=self.context, persist_config=False
        )

    def stop(self) -> None:
        """Stop everything; no process, thread or temp directory remains."""
        for part in (self.kserve, self.ingress, self.kubelet, self.gcp):
            if part is not None:
                part.stop()
        self.plane.stop()
        # With the API server gone their connections break; wait for the threads to see the
        # stop flag: daemon threads still inside TLS calls at interpreter exit can abort it.
        _join_threads(("kfs-kubelet", "kfs-local-gcp", "pod-"), timeout=5.0)

    def __enter__(self) -> EmbeddedCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _join_threads(prefixes: tuple[str, ...], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread.name.startswith(prefixes) and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))


def start_embedded(
    kserve: bool = True, timing: Timing | None = None, kserve_version: str | None = None
) -> EmbeddedCluster:
    """Start the control plane with the release's KServe CRDs and, unless `kserve` is False,
    KServe's own manager, the local GCP and the node; `kserve_version` picks the release
    (default: the newest supported). Without `kserve` the release is installed (CRDs,
    ConfigMap, runtimes) but its manager does not run: nothing writes InferenceService status,
    benchmarks and fleet tests write it themselves."""
    wanted = release(kserve_version)

    def install(plane: controlplane.ControlPlane) -> None:
        # Before kube-controller-manager starts: its garbage collector knows KServe's kinds.
        kserve_manager.install(
            wanted,
            config.new_client_from_config(
                str(plane.kubeconfig), context=controlplane.CONTEXT_NAME, persist_config=False
            ),
        )

    plane = controlplane.start(before_controllers=install)
    cluster = EmbeddedCluster(plane, wanted)
    try:
        api_client = cluster.api_client()
        if kserve and plane.pki is not None:
            cluster.gcp = LocalGcp(GcpWorld()).start()
            seed_samples(GcpAdmin(cluster.gcp), wanted)
            images = Images(wanted.images, initializer_python(wanted), model_server_python(wanted))
            cluster.kubelet = Kubelet(
                api_client,
                cluster.gcp,
                plane.workdir,
                plane.pki.serving_cert,
                plane.pki.serving_key,
                images,
                timing,
                client_ca=plane.pki.ca_cert,
            ).start()
            cluster.ingress = Ingress(api_client, cluster.kubelet).start()
            cluster.kserve = kserve_manager.start(
                wanted,
                api_client,
                plane.kubeconfig,
                plane.workdir,
                plane.pki.ca_cert,
                plane.pki.serving_cert,
                plane.pki.serving_key,
                installed=True,
            )
    except BaseException:
        cluster.stop()
        raise
    return cluster
