"""pytest-kfs: deploy KServe models, watch them to Loaded, and say why when they are stuck."""

from typing import Any

from pytest_kfs.config import Settings, SettingsError

__all__ = ["Cluster", "ClusterError", "Settings", "SettingsError"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazy: the Kubernetes client is slow to import, and the plugin loads this package.
    if name in ("Cluster", "ClusterError"):
        from pytest_kfs import cluster

        return getattr(cluster, name)
    raise AttributeError(f"module 'pytest_kfs' has no attribute {name!r}")
