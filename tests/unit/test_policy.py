"""Which model `kfs_model` deploys, and as whom: one plain function (plugin.policy)."""

from pathlib import Path

import pytest

from pytest_kfs.kserve.spec import ModelSpec
from pytest_kfs.plugin.policy import choose_model, identity_source
from pytest_kfs.plugin.settings import Settings
from pytest_kfs.targets import LocalTarget

OWN = ModelSpec(storage_uri="gs://b/m", model_format="sklearn", service_account="reader")
PLAIN = ModelSpec(storage_uri="gs://b/m", model_format="sklearn")


@pytest.mark.parametrize(
    ("marker", "settings", "expected"),
    [
        # The model's own service account wins over every run-wide identity.
        (OWN, Settings(target=None, serving_key=Path("key.json")), (OWN, "model")),
        (None, Settings(target=None, model=OWN), (OWN, "model")),
        # A scenario arranges its own identity, unless the test names its model.
        (None, Settings(target=LocalTarget(), scenarios=("healthy",)), (None, "scenario")),
        (PLAIN, Settings(target=LocalTarget(), scenarios=("healthy",)), (PLAIN, "default")),
        # Live clusters: the key file, else the copied account.
        (PLAIN, Settings(target=None, serving_key=Path("key.json")), (PLAIN, "key")),
        (None, Settings(target=None, serving_account=("team", "reader")), (None, "copy")),
        (None, Settings(target=None), (None, "default")),
    ],
)
def test_the_marker_then_the_options_then_the_scenario(marker, settings, expected):
    choice = choose_model(marker, {}, settings)
    assert (choice.model, choice.identity) == expected


def test_the_marker_sets_the_timeout_else_the_run_does():
    settings = Settings(target=None, timeout_seconds=120.0)
    assert choose_model(None, {"timeout": 30}, settings).timeout == 30.0
    assert choose_model(None, {}, settings).timeout == 120.0


@pytest.mark.parametrize(
    ("config", "settings", "expected"),
    [
        # kfs_serving's configured model: a scenario's plan is served as the scenario arranged it,
        # whatever the run's options; otherwise the same order as kfs_model's.
        (
            ModelSpec(storage_uri="gs://b/m", scenario="healthy"),
            Settings(target=LocalTarget(), scenarios=("healthy",)),
            "model",
        ),
        (OWN, Settings(target=None, serving_account=("team", "reader")), "model"),
        (PLAIN, Settings(target=None, serving_key=Path("key.json")), "key"),
        (PLAIN, Settings(target=None, serving_account=("team", "reader")), "copy"),
        (PLAIN, Settings(target=None), "default"),
    ],
)
def test_kfs_serving_takes_its_identity_from_the_same_rule(config, settings, expected):
    assert identity_source(config, settings) == expected
