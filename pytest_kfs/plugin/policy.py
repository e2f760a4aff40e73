"""Which model a test deploys and as whom: the marker, the options and the scenarios weighed
in one plain function (pure; the fixtures do what it decides)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from pytest_kfs.kserve.spec import ModelSpec, spec_from_marker
from pytest_kfs.plugin.settings import Settings

# Where the serving identity comes from, besides the model's own service_account:
# the --kfs-serving-key file, a copy of --kfs-serving-account, or the scenario's arrangement.
IdentitySource = Literal["model", "key", "copy", "scenario", "default"]


@dataclass(frozen=True)
class ModelChoice:
    """What `kfs_model` deploys: the spec (before the sample fills it in), where its identity
    comes from, and how long it may take to load."""

    model: ModelSpec | None
    identity: IdentitySource
    timeout: float


def choose_model(
    marker: ModelSpec | None, marker_rest: Mapping[str, Any], settings: Settings
) -> ModelChoice:
    """The marker's model, else the options', else the scenario's plan, else the sample; its
    identity as identity_source() says."""
    model = marker if marker is not None else settings.model
    timeout = float(marker_rest.get("timeout", settings.timeout_seconds))
    return ModelChoice(model, identity_source(model, settings), timeout)


def identity_source(model: ModelSpec | None, settings: Settings) -> IdentitySource:
    """Who a model is served as: its own account (a scenario's plan names its own), else the
    scenario's arrangement, else the serving key, else the copied account (both live-cluster
    options), else the namespace's default. For kfs_model and kfs_serving alike."""
    if model is not None and (model.service_account or model.scenario):
        return "model"
    if settings.scenarios:
        return "scenario" if model is None else "default"
    if settings.serving_key:
        return "key"
    if settings.serving_account:
        return "copy"
    return "default"


def marker_problem(node: pytest.Item) -> str | None:
    """One line on what is wrong with a test's `@pytest.mark.kfs`, or None."""
    marker = node.get_closest_marker("kfs")
    try:
        if marker is not None:
            spec_from_marker(marker.args, marker.kwargs)
    except ValueError as error:
        return f"@pytest.mark.kfs on {node.nodeid}: {error}"
    return None


def marker_of(node: pytest.Item) -> tuple[ModelSpec | None, dict[str, Any]]:
    """The model a test's `@pytest.mark.kfs` names, and its namespace and timeout; a marker
    that is wrong fails the test with one line (an xdist worker cannot stop the run)."""
    problem = marker_problem(node)
    if problem:
        pytest.fail(f"pytest-kfs: {problem}", pytrace=False)
    marker = node.get_closest_marker("kfs")
    return spec_from_marker(marker.args, marker.kwargs) if marker else (None, {})
