"""pytest-kfs: deploy KServe models, watch them to Loaded, and say why when they are stuck.

The public API is what `__all__` names; everything else may move. Names load on first use:
the Kubernetes and Google clients are slow to import, and pytest loads this package whenever
the plugin is installed.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs
    from pytest_kfs.deploy import Deployer, ModelHandle, ModelNotLoaded
    from pytest_kfs.diagnosis.codes import Code
    from pytest_kfs.diagnosis.pasted import Diagnosis, Pasted, diagnose_pasted
    from pytest_kfs.diagnosis.preflight import Prediction
    from pytest_kfs.diagnosis.rules import Finding
    from pytest_kfs.errors import (
        ClusterError,
        DeployError,
        InferenceFailed,
        KfsError,
        SettingsError,
    )
    from pytest_kfs.kserve.spec import ModelSpec
    from pytest_kfs.kserve.status import ModelState, Verdict
    from pytest_kfs.kube.cluster import Cluster
    from pytest_kfs.plugin.settings import Settings
    from pytest_kfs.wait import WaitResult

# name -> the module that holds it
_HOMES = {
    "Cluster": "kube.cluster", "ClusterError": "errors", "Code": "diagnosis.codes",
    "DeployError": "errors", "Deployer": "deploy", "Diagnosis": "diagnosis.pasted",
    "Finding": "diagnosis.rules", "InferenceFailed": "errors", "KfsError": "errors",
    "ModelHandle": "deploy", "ModelNotLoaded": "deploy", "ModelSpec": "kserve.spec",
    "ModelState": "kserve.status", "Pasted": "diagnosis.pasted",
    "Prediction": "diagnosis.preflight", "Settings": "plugin.settings",
    "SettingsError": "errors", "Verdict": "kserve.status", "WaitResult": "wait",
    "diagnose_pasted": "diagnosis.pasted",
}
__all__ = [
    "Cluster",
    "ClusterError",
    "Code",
    "DeployError",
    "Deployer",
    "Diagnosis",
    "Finding",
    "InferenceFailed",
    "KfsError",
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

try:
    __version__ = version("pytest-kfs")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"pytest_kfs.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'pytest_kfs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
