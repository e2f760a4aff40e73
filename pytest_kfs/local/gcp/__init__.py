"""The local GCP: token endpoint, metadata server and GCS with per-identity IAM."""

from pytest_kfs.local.gcp.server import LocalGcp, PodIdentity
from pytest_kfs.local.gcp.world import GcpWorld, WorldError

__all__ = ["GcpWorld", "LocalGcp", "PodIdentity", "WorldError"]
