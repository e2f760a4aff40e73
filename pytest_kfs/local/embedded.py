"""The embedded cluster: the real control plane with pytest-kfs's KServe CRDs installed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config

from pytest_kfs.local import controlplane, crds


@dataclass
class EmbeddedCluster:
    """A running embedded cluster; connect to it with `kubeconfig` and `context`."""

    plane: controlplane.ControlPlane
    context: str = controlplane.CONTEXT_NAME

    @property
    def kubeconfig(self) -> Path:
        """The generated kubeconfig (admin, system:masters)."""
        return self.plane.kubeconfig

    @property
    def audit_log(self) -> Path:
        """kube-apiserver's audit log (Metadata level: who did which verb on what)."""
        return self.plane.audit_log

    def api_client(self) -> client.ApiClient:
        """A fresh admin API client."""
        return config.new_client_from_config(str(self.kubeconfig), context=self.context,
                                             persist_config=False)

    def stop(self) -> None:
        """Stop everything; no process and no temp directory remain."""
        self.plane.stop()

    def __enter__(self) -> EmbeddedCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_embedded(extra_crds: list[dict] | None = None, own_crds: bool = True) -> EmbeddedCluster:
    """Start the control plane and install the KServe CRDs (ours, or `extra_crds` instead)."""
    plane = controlplane.start()
    cluster = EmbeddedCluster(plane)
    try:
        with cluster.api_client() as api_client:
            wanted = (crds.own_crds() if own_crds else []) + (extra_crds or [])
            if wanted:
                crds.install(api_client, wanted)
    except BaseException:
        cluster.stop()
        raise
    return cluster
