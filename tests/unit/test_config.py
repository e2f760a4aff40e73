"""Settings resolution: option > env > ini, and one clear error per bad input."""

from pathlib import Path

import pytest

from pytest_kfs.config import (
    ContextTarget,
    InClusterTarget,
    KindTarget,
    LocalTarget,
    SettingsError,
    parse_cluster,
    parse_timeout,
    resolve,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("local", LocalTarget()),
        ("in-cluster", InClusterTarget()),
        ("kind", KindTarget(name="kind")),
        ("kind:ci-1", KindTarget(name="ci-1")),
        ("gke_proj_europe-west4_prod", ContextTarget(context="gke_proj_europe-west4_prod")),
    ],
)
def test_cluster_values_parse_to_targets(value, expected):
    assert parse_cluster(value, kubeconfig=None, kind_create=False) == expected


def test_context_keeps_its_kubeconfig_path():
    target = parse_cluster("prod", kubeconfig="~/kc.yaml", kind_create=False)
    assert target == ContextTarget(context="prod", kubeconfig=Path("~/kc.yaml").expanduser())


def test_kind_create_is_carried():
    assert parse_cluster("kind:x", None, kind_create=True) == KindTarget(name="x", create=True)


@pytest.mark.parametrize(
    ("value", "kubeconfig", "kind_create", "message"),
    [
        ("  ", None, False, "--kfs-cluster is empty"),
        ("kind:", None, False, "not a valid kind cluster name"),
        ("kind:Bad_Name", None, False, "not a valid kind cluster name"),
        ("prod", None, True, "--kfs-kind-create only applies to kind clusters"),
        ("local", "/tmp/kc", False, "--kfs-kubeconfig conflicts with --kfs-cluster=local"),
        ("in-cluster", "/tmp/kc", False, "conflicts with --kfs-cluster=in-cluster"),
        ("kind:a", "/tmp/kc", False, "conflicts with --kfs-cluster=kind:a"),
    ],
)
def test_bad_cluster_values_say_what_is_wrong(value, kubeconfig, kind_create, message):
    with pytest.raises(SettingsError, match=message) as error:
        parse_cluster(value, kubeconfig, kind_create)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("value", ["0", "-5", "abc", "inf", "nan"])
def test_timeout_must_be_a_positive_number(value):
    with pytest.raises(SettingsError, match="--kfs-timeout"):
        parse_timeout(value)


def test_timeout_default_and_value():
    assert parse_timeout(None) == 300.0
    assert parse_timeout("12.5") == 12.5


def test_command_line_beats_environment_beats_ini():
    ini = {"cluster": "from-ini", "timeout": "30"}
    env = {"KFS_CLUSTER": "from-env"}
    assert resolve({"cluster": "from-cli"}, ini, env).target == ContextTarget("from-cli")
    assert resolve({}, ini, env).target == ContextTarget("from-env")
    settings = resolve({}, ini, {})
    assert settings.target == ContextTarget("from-ini")
    assert settings.timeout_seconds == 30.0


def test_no_cluster_means_no_target():
    assert resolve({}, {}, {}).target is None


@pytest.mark.parametrize(
    ("cli", "flag"),
    [({"kind_create": True}, "--kfs-kind-create"), ({"kubeconfig": "/x"}, "--kfs-kubeconfig")],
)
def test_cluster_only_options_need_a_cluster(cli, flag):
    with pytest.raises(SettingsError, match=f"{flag} needs --kfs-cluster"):
        resolve(cli, {}, {})
