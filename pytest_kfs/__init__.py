"""pytest-kfs: deploy KServe models, watch them to Loaded, and say why when they are stuck."""

from pytest_kfs.cluster import Cluster, ClusterError
from pytest_kfs.config import Settings, SettingsError

__all__ = ["Cluster", "ClusterError", "Settings", "SettingsError"]
__version__ = "0.1.0"
