"""resolve()'s tables: the cross-option rules on plain values, and the order problems are
reported in (the first bad setting in PARSERS' order, each rule as soon as it can be checked)."""

import pytest

from pytest_kfs.errors import SettingsError
from pytest_kfs.kserve.selection import ExistingSelection
from pytest_kfs.kserve.spec import ModelSpec
from pytest_kfs.plugin.settings import DUE, PARSERS, RULES, resolve
from pytest_kfs.targets import ContextTarget, LocalTarget

SPEC = ModelSpec("model", "gs://bucket-a/model", "sklearn")


def problems(values):
    """The messages of the rules that can be checked on `values` and are broken."""
    return [
        problem
        for rule in RULES
        if set(rule.reads) <= set(values) and (problem := rule.problem(values))
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"models": (SPEC,), "model": SPEC},
            ["--kfs-models and --kfs-storage-uri both name the models; use one"],
        ),
        ({"models": (), "model": SPEC}, []),
        (
            {"existing_selector": "team=x", "existing": None},
            [
                "--kfs-existing-selector needs --kfs-existing to say where to look (all, or "
                "namespaces)"
            ],
        ),
        ({"existing_selector": "team=x", "existing": ExistingSelection()}, []),
        (
            {"kubeconfig": "/kc", "target": None},
            ["--kfs-kubeconfig needs --kfs-cluster to say which cluster to use"],
        ),
        ({"kubeconfig": "/kc", "target": ContextTarget("prod")}, []),
        (
            {"existing": ExistingSelection(), "target": None},
            ["--kfs-existing needs --kfs-cluster to say which cluster to verify"],
        ),
        (
            {"scenario": "all", "namespace": "team-a", "cluster": "local", "target": LocalTarget()},
            [
                "--kfs-scenario arranges fresh namespaces of its own; --kfs-namespace=team-a "
                "deploys into yours: use one"
            ],
        ),
        (
            {
                "scenario": "healthy",
                "namespace": None,
                "cluster": "prod",
                "target": ContextTarget("prod"),
            },
            [
                "--kfs-scenario=healthy rehearses a failure in the embedded cluster; it needs "
                "--kfs-cluster=local, not --kfs-cluster=prod"
            ],
        ),
        (
            {"scenario": "healthy", "namespace": None, "cluster": "local", "target": LocalTarget()},
            [],
        ),
    ],
)
def test_each_rule_on_plain_values(values, expected):
    assert problems(values) == expected


def test_every_rule_is_checked_once_after_what_it_reads():
    order = list(PARSERS)
    due = [(name, rule) for name, rules in DUE.items() for rule in rules]
    assert sorted(id(rule) for _, rule in due) == sorted(id(rule) for rule in RULES)
    for name, rule in due:
        assert all(order.index(read) <= order.index(name) for read in rule.reads)
        assert name in rule.reads


@pytest.mark.parametrize(
    ("cli", "message"),
    [
        # A bad value parsed earlier is reported before a rule checked later, and the other way.
        ({"timeout": "abc", "scenario": "all"}, "--kfs-timeout='abc' is not a number"),
        (
            {
                "storage_uri": "gs://bucket-a/m",
                "model_format": "sklearn",
                "models": "/nonexistent/models.yaml",
            },
            "--kfs-models=/nonexistent/models.yaml cannot",
        ),
        ({"existing_selector": "team=x", "sweep_ttl": "5s"}, "--kfs-existing-selector needs"),
        ({"sweep_ttl": "5s", "kind_create": True}, "--kfs-sweep-ttl=5s is under a minute"),
        # Among the options that need a cluster, the first in the table is named.
        (
            {"scenario": "all", "kubeconfig": "/kc", "kind_create": True},
            "--kfs-kind-create needs --kfs-cluster",
        ),
        ({"scenario": "all", "existing": "all"}, "--kfs-scenario needs --kfs-cluster"),
        # The cluster is parsed before the scenario is checked against the namespace.
        (
            {"cluster": "kind:Bad_", "scenario": "all", "namespace": "team-a"},
            "--kfs-cluster=kind:Bad_",
        ),
    ],
)
def test_the_first_problem_in_the_tables_order_is_reported(cli, message):
    with pytest.raises(SettingsError) as error:
        resolve(cli, {}, {})
    assert str(error.value).startswith(message)
