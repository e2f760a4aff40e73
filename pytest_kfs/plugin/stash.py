"""The run's shared state, kept in pytest's stash: one key per thing, typed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pytest_kfs.plugin.settings import Settings

if TYPE_CHECKING:
    from pytest_kfs.targets import RunCluster

SETTINGS = pytest.StashKey[Settings]()
RUN_CLUSTER: pytest.StashKey[RunCluster] = pytest.StashKey()
RUN_ID = pytest.StashKey[str]()
INSTANCE = pytest.StashKey[str]()
REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
RECORDS = pytest.StashKey[dict[str, dict[str, Any]]]()
RECORD_PROPERTY = "kfs_record"  # the test property that carries a model's record
FLEET = pytest.StashKey[Any]()  # the --kfs-existing snapshot (pytest_kfs.diagnosis.fleet.Fleet)


def run_settings(config: pytest.Config) -> Settings:
    """The run's validated settings: what its --kfs-* options, ini keys and environment say."""
    return config.stash[SETTINGS]
