"""The embedded cluster (`--kfs-cluster=local`); the core never imports this package."""

from pytest_kfs.local.embedded import EmbeddedCluster, start_embedded

__all__ = ["EmbeddedCluster", "start_embedded"]
