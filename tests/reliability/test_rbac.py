"""Live-cluster safety: the plugin works with the least-privilege ClusterRole of
examples/rbac-deploy.yaml, and with any required rule less it stops at once, naming it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml

from pytest_kfs.kube import permissions
from pytest_kfs.local.scenarios import sample_key

from ..integration.helpers import service_account_kubeconfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rbac-deploy.yaml"


def _documents() -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(EXAMPLE.read_text()) if doc}


@pytest.fixture
def identity(kfs_cluster, tmp_path):
    """The example's objects under unique names; yields (role name, its kubeconfig)."""
    tag = uuid.uuid4().hex[:6]
    docs = _documents()
    namespace, account, role = f"kfs-ci-{tag}", "pytest-kfs", f"pytest-kfs-deploy-{tag}"
    kfs_cluster.core.create_namespace({"metadata": {"name": namespace}})
    kfs_cluster.core.create_namespaced_service_account(namespace, {"metadata": {"name": account}})
    cluster_role = docs["ClusterRole"]
    cluster_role["metadata"]["name"] = role
    binding = docs["ClusterRoleBinding"]
    binding["metadata"]["name"] = role
    binding["roleRef"]["name"] = role
    binding["subjects"][0]["namespace"] = namespace
    kfs_cluster.rbac.create_cluster_role(cluster_role)
    kfs_cluster.rbac.create_cluster_role_binding(binding)
    path = service_account_kubeconfig(
        kfs_cluster, namespace, account, tmp_path / "kubeconfig", "ci"
    )
    yield role, path
    kfs_cluster.rbac.delete_cluster_role_binding(role)
    kfs_cluster.rbac.delete_cluster_role(role)
    kfs_cluster.core.delete_namespace(namespace)


def _granted(rules: list[dict]) -> set[tuple[str, str, str]]:
    """(verb, resource, group) of every RBAC rule."""
    return {
        (verb, resource, group)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_example_grants_exactly_the_plugins_table():
    granted = _granted(_documents()["ClusterRole"]["rules"])
    wanted = {(p.verb, p.resource, p.group) for p in permissions.DEPLOY}
    assert granted == wanted


def test_deploying_tests_run_with_least_privilege(pytester, kfs_cluster, kfs_gcp, identity):
    _, kubeconfig = identity
    keys = {
        "rbac-reader": sample_key(kfs_gcp, "rbac-reader"),
        "rbac-stranger": sample_key(kfs_gcp, "rbac-stranger", can_read=False),
    }
    (pytester.path / "keys.json").write_text(json.dumps(keys))
    pytester.makepyfile("""
        import json, pytest
        from pytest_kfs.deploy import ModelNotLoaded
        from pytest_kfs.local.scenarios import PRIVATE_URI

        KEYS = json.load(open("keys.json"))

        def test_loads(kfs_deploy):
            kfs_deploy("sklearn-iris", credentials=KEYS["rbac-reader"]).wait_loaded()

        def test_diagnosed(kfs_deploy):
            model = kfs_deploy("sklearn-iris", storage_uri=PRIVATE_URI,
                               credentials=KEYS["rbac-stranger"])
            with pytest.raises(ModelNotLoaded) as failure:
                model.wait_loaded()
            assert failure.value.findings[0].code == "GCS_LIST_DENIED"
    """)
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=ci", f"--kfs-kubeconfig={kubeconfig}", "-p", "no:cacheprovider", timeout=180
    )
    result.assert_outcomes(passed=2)
    assert "kfs permissions: without" not in result.stdout.str()


@pytest.mark.parametrize(
    ("resource", "verb", "named"),
    [
        ("namespaces", "create", "create namespaces"),
        ("pods", "watch", "watch pods"),
        ("pods/log", "get", "get pods/log"),
    ],
)
def test_with_less_it_stops_naming_what_is_missing(
    pytester, kfs_cluster, identity, resource, verb, named
):
    role, kubeconfig = identity
    rules = []
    for rule in _documents()["ClusterRole"]["rules"]:  # per resource, minus the one verb
        for name in rule["resources"]:
            verbs = [v for v in rule["verbs"] if (name, v) != (resource, verb)]
            if verbs:
                rules.append({"apiGroups": rule["apiGroups"], "resources": [name], "verbs": verbs})
    kfs_cluster.rbac.replace_cluster_role(role, {"metadata": {"name": role}, "rules": rules})
    pytester.makepyfile("def test_x(kfs_namespace):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=ci", f"--kfs-kubeconfig={kubeconfig}", "-p", "no:cacheprovider", timeout=60
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: pytest-kfs:")]
    assert len(errors) == 1, result.stderr.str()
    assert (
        f"lack what pytest-kfs needs to deploy into namespaces of its own (cluster-wide): "
        f"{named} " in errors[0]
    )
    assert "examples/rbac-deploy.yaml" in errors[0]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_optional_permissions_missing_are_listed_not_fatal(pytester, kfs_cluster, identity):
    role, kubeconfig = identity
    rules = [
        rule for rule in _documents()["ClusterRole"]["rules"] if "jobs" not in rule["resources"]
    ]
    kfs_cluster.rbac.replace_cluster_role(role, {"metadata": {"name": role}, "rules": rules})
    pytester.makepyfile("def test_x(kfs_namespace):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=ci", f"--kfs-kubeconfig={kubeconfig}", "-p", "no:cacheprovider", timeout=60
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "kfs permissions: without create jobs.batch (the in-cluster "
            "bucket probe); delete jobs.batch (the in-cluster bucket probe)"
        ]
    )


INTO = Path(__file__).resolve().parents[2] / "examples" / "rbac-deploy-into.yaml"


def _into_documents() -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(INTO.read_text()) if doc}


def test_the_namespaced_example_grants_what_deploying_into_a_namespace_needs():
    granted = _granted(_into_documents()["Role"]["rules"])
    table = {(p.verb, p.resource, p.group): p for p in permissions.DEPLOY_INTO}
    assert {key for key, p in table.items() if p.required} <= granted <= set(table)


def test_deploying_into_a_namespace_runs_with_a_role_there(
    pytester, kfs_cluster, kfs_gcp, tmp_path
):
    namespace = f"team-{uuid.uuid4().hex[:6]}"
    kfs_cluster.core.create_namespace({"metadata": {"name": namespace}})
    try:
        docs = _into_documents()
        for kind in ("ServiceAccount", "Role", "RoleBinding"):
            docs[kind]["metadata"]["namespace"] = namespace
        docs["RoleBinding"]["subjects"][0]["namespace"] = namespace
        kfs_cluster.core.create_namespaced_service_account(namespace, docs["ServiceAccount"])
        kfs_cluster.rbac.create_namespaced_role(namespace, docs["Role"])
        kfs_cluster.rbac.create_namespaced_role_binding(namespace, docs["RoleBinding"])
        kubeconfig = service_account_kubeconfig(
            kfs_cluster, namespace, "pytest-kfs", tmp_path / "kubeconfig", "team"
        )
        (pytester.path / "key.json").write_text(json.dumps(sample_key(kfs_gcp, "team-reader")))
        pytester.makepyfile("""
            def test_loads(kfs_deploy):
                kfs_deploy("sklearn-iris", credentials=open("key.json").read()).wait_loaded()
        """)
        result = pytester.runpytest_subprocess(
            "--kfs-cluster=team",
            f"--kfs-kubeconfig={kubeconfig}",
            f"--kfs-namespace={namespace}",
            "-p",
            "no:cacheprovider",
            timeout=180,
        )
        result.assert_outcomes(passed=1)
        assert (
            kfs_cluster.custom.list_namespaced_custom_object(
                "serving.kserve.io", "v1beta1", namespace, "inferenceservices"
            )["items"]
            == []
        )
    finally:
        kfs_cluster.core.delete_namespace(namespace)
