"""What the local GCP serves and remembers: its world, the pods its metadata server knows, the
requests it answered. The server, its admin API and the node share this; none of them owns it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from pytest_kfs.local.gcp.world import GcpWorld


@dataclass(frozen=True)
class PodIdentity:
    """What the metadata server knows about a pod: its namespace and service account."""

    namespace: str
    service_account: str
    gsa_annotation: str | None = None


@dataclass
class AccessRecord:
    """One request to the local GCP (for tests and benchmarks; never holds a token)."""

    principal: str
    method: str
    path: str
    status: int


@dataclass
class GcpState:
    """The local GCP's world, its address, the pods the metadata server serves."""

    world: GcpWorld
    workload_identity_project: str | None = None
    # Namespaces whose pods run on a Workload Identity node pool (others see no metadata
    # server, as off GCP); `metadata_everywhere` puts every namespace on such a pool.
    metadata_namespaces: set[str] = field(default_factory=set)
    metadata_everywhere: bool = False
    pods: dict[str, PodIdentity] = field(default_factory=dict)
    access_log: list[AccessRecord] = field(default_factory=list)
    port: int = 0
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def endpoint(self) -> str:
        """Base URL of the storage API (for API_ENDPOINT_OVERRIDE or client_options)."""
        return f"http://127.0.0.1:{self.port}"

    def serves_metadata(self, namespace: str) -> bool:
        """Whether pods of this namespace reach a GKE metadata server."""
        return self.workload_identity_project is not None and (
            self.metadata_everywhere or namespace in self.metadata_namespaces
        )

    def metadata_host(self, pod_uid: str) -> str:
        """GCE_METADATA_HOST / GCE_METADATA_IP value for one pod."""
        return f"127.0.0.1:{self.port}/pods/{pod_uid}"
