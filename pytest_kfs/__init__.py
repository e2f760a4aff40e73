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
    from pytest_kfs.diagnosis.finding import Finding
    from pytest_kfs.diagnosis.fleet import Fleet
    from pytest_kfs.diagnosis.pasted import Diagnosis, Pasted, diagnose_pasted
    from pytest_kfs.diagnosis.preflight import GoogleAccess, Prediction
    from pytest_kfs.errors import (
        CheckFailed,
        ClusterError,
        DeployError,
        InferenceFailed,
        KfsError,
        SettingsError,
    )
    from pytest_kfs.existing import ExistingCheck, ExistingModel
    from pytest_kfs.failures import fail_with
    from pytest_kfs.gcp.cloud_admin import CloudAdmin
    from pytest_kfs.kserve.samples import Sample, sample_for
    from pytest_kfs.kserve.spec import ModelSpec
    from pytest_kfs.kserve.status import ModelState, State, Transition, Verdict
    from pytest_kfs.kube.cluster import Cluster
    from pytest_kfs.kube.namespace_pool import Namespace, NamespacePool
    from pytest_kfs.plugin.settings import Settings
    from pytest_kfs.plugin.stash import run_settings
    from pytest_kfs.serving import Serving
    from pytest_kfs.targets.base import RehearsalScenario
    from pytest_kfs.untrusted import shown
    from pytest_kfs.wait import WaitResult

# name -> the module that holds it
_HOMES = {
    "Cluster": "kube.cluster",
    "CheckFailed": "errors",
    "CloudAdmin": "gcp.cloud_admin",
    "ClusterError": "errors",
    "Code": "diagnosis.codes",
    "DeployError": "errors",
    "Deployer": "deploy",
    "Diagnosis": "diagnosis.pasted",
    "ExistingCheck": "existing",
    "ExistingModel": "existing",
    "Finding": "diagnosis.rules",
    "Fleet": "diagnosis.fleet",
    "GoogleAccess": "diagnosis.preflight",
    "InferenceFailed": "errors",
    "KfsError": "errors",
    "ModelHandle": "deploy",
    "ModelNotLoaded": "deploy",
    "ModelSpec": "kserve.spec",
    "ModelState": "kserve.status",
    "Namespace": "kube.namespace_pool",
    "NamespacePool": "kube.namespace_pool",
    "Pasted": "diagnosis.pasted",
    "Prediction": "diagnosis.preflight",
    "RehearsalScenario": "targets.base",
    "Sample": "kserve.samples",
    "Serving": "serving",
    "Settings": "plugin.settings",
    "SettingsError": "errors",
    "State": "kserve.status",
    "Transition": "kserve.status",
    "Verdict": "kserve.status",
    "WaitResult": "wait",
    "diagnose_pasted": "diagnosis.pasted",
    "fail_with": "failures",
    "run_settings": "plugin.stash",
    "sample_for": "kserve.samples",
    "shown": "untrusted",
}
__all__ = [
    "CheckFailed",
    "CloudAdmin",
    "Cluster",
    "ClusterError",
    "Code",
    "DeployError",
    "Deployer",
    "Diagnosis",
    "ExistingCheck",
    "ExistingModel",
    "Finding",
    "Fleet",
    "GoogleAccess",
    "InferenceFailed",
    "KfsError",
    "ModelHandle",
    "ModelNotLoaded",
    "ModelSpec",
    "ModelState",
    "Namespace",
    "NamespacePool",
    "Pasted",
    "Prediction",
    "RehearsalScenario",
    "Sample",
    "Serving",
    "Settings",
    "SettingsError",
    "State",
    "Transition",
    "Verdict",
    "WaitResult",
    "diagnose_pasted",
    "fail_with",
    "run_settings",
    "sample_for",
    "shown",
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
