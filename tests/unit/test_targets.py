"""Cluster targets: a registry lookup picks one (the embedded cluster's single door is checked in
test_architecture.py)."""

import pytest

from pytest_kfs.errors import SettingsError
from pytest_kfs.plugin.settings import resolve
from pytest_kfs.targets import LocalTarget, TargetOptions, parse_target, registry


def test_every_registered_target_has_its_own_name():
    names = [target.name for target in registry()]
    assert sorted(names) == ["context", "in-cluster", "kind", "local"]  # the entry points
    assert names[-1] == "context"  # it takes any value: asked last


@pytest.mark.parametrize("value", ["local:x", "in-cluster-prod", "kindly", "arn:aws:eks:eu:1:c/x"])
def test_a_name_no_target_claims_is_a_kubeconfig_context(value):
    target = parse_target(value, TargetOptions())
    assert target.name == "context"
    assert f"'{value}'" in target.describe()


def test_only_a_target_that_can_choose_kserve_takes_a_release():
    with pytest.raises(SettingsError, match="runs the KServe installed there"):
        resolve({"cluster": "prod", "kserve_version": "v0.20.0"}, {}, {})
    with pytest.raises(SettingsError, match="--kfs-kserve-version: "):
        resolve({"cluster": "local", "kserve_version": "v0.1.0"}, {}, {})
    assert resolve({"cluster": "local", "kserve_version": "v0.13.1"}, {}, {}).target == LocalTarget(
        "v0.13.1"
    )


def test_scenarios_need_a_target_that_rehearses():
    with pytest.raises(SettingsError, match="needs --kfs-cluster=local"):
        resolve({"cluster": "kind", "scenario": "healthy"}, {}, {})
    with pytest.raises(SettingsError, match="unknown scenario 'nope'"):
        resolve({"cluster": "local", "scenario": "nope"}, {}, {})
    assert parse_target("in-cluster").rehearsal() is None
    models = LocalTarget().rehearsal().default_models(None)
    assert [model.scenario for model in models] == ["healthy"]


def test_several_scenarios_make_one_model_each():
    from pytest_kfs.local.scenarios import SCENARIOS
    from pytest_kfs.plugin.settings import configured_models

    settings = resolve({"cluster": "local", "scenario": "bad-key, wrong-path,bad-key"}, {}, {})
    assert settings.scenarios == ("bad-key", "wrong-path")
    assert [(m.name, m.scenario) for m in configured_models(settings)] == [
        ("bad-key", "bad-key"),
        ("wrong-path", "wrong-path"),
    ]
    everything = resolve({"cluster": "local", "scenario": "all"}, {}, {})
    assert everything.scenarios == tuple(SCENARIOS)
    with pytest.raises(SettingsError, match="an empty scenario name; known: healthy"):
        resolve({"cluster": "local", "scenario": "healthy,"}, {}, {})
