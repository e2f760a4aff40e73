"""Shared set-up of the conformance suites: a run with no cluster checks nothing, so it stops."""

from __future__ import annotations

import pytest

from pytest_kfs import run_settings


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Running the conformance suites with no cluster would skip every check: a green job that
    checked nothing. That is a usage error, naming the option."""
    if items and run_settings(config).target is None:
        raise pytest.UsageError(
            "pytest-kfs: the conformance suites need a cluster: pass --kfs-cluster=<kubeconfig "
            "context> (or local, in-cluster, kind[:name]); nothing was checked"
        )
