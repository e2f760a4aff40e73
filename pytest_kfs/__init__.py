"""pytest-kfs: deploy KServe models, watch them to Loaded, and say why when they are stuck."""

from typing import TYPE_CHECKING, Any

from pytest_kfs.config import Settings, SettingsError

if TYPE_CHECKING:  # for type checkers and IDEs; at run time they load on first use
    from pytest_kfs.cluster import Cluster, ClusterError
    from pytest_kfs.codes import Code
    from pytest_kfs.deploy import Deployer, DeployError, ModelHandle, ModelNotLoaded
    from pytest_kfs.diagnose import Finding
    from pytest_kfs.models import ModelSpec
    from pytest_kfs.offline import Diagnosis, Pasted, diagnose_pasted
    from pytest_kfs.preflight import Prediction
    from pytest_kfs.status import ModelState, Verdict
    from pytest_kfs.wait import WaitResult

__all__ = [
    "Cluster",
    "ClusterError",
    "Code",
    "DeployError",
    "Deployer",
    "Diagnosis",
    "Finding",
    "ModelHandle",
    "ModelNotLoaded",
    "ModelSpec",
    "ModelState",
    "Pasted",
    "Prediction",
    "Settings",
    "SettingsError",
    "Verdict",
    "WaitResult",
    "diagnose_pasted",
]
__version__ = "0.1.0"

# Lazy: the Kubernetes client is slow to import, and the plugin loads this package.
_HOMES = {"Cluster": "cluster", "ClusterError": "cluster", "Code": "codes",
          "DeployError": "deploy", "Deployer": "deploy", "ModelHandle": "deploy",
          "ModelNotLoaded": "deploy", "Finding": "diagnose", "ModelSpec": "models",
          "Prediction": "preflight",
          "Diagnosis": "offline", "Pasted": "offline", "diagnose_pasted": "offline",
          "ModelState": "status", "Verdict": "status", "WaitResult": "wait"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"pytest_kfs.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'pytest_kfs' has no attribute {name!r}")
