"""--kfs-namespace: deploying into a namespace the user owns. The run creates and deletes only
its own objects there; the user's objects are never changed, even when a name is taken."""

import json
import time
import uuid

import pytest
from kubernetes.client.rest import ApiException

from pytest_kfs.kserve import api
from pytest_kfs.kube import namespaces
from pytest_kfs.local.scenarios import sample_key


@pytest.fixture
def team(kfs_cluster):
    """A namespace as a team has it: a config map and a service account of its own."""
    name = f"team-{uuid.uuid4().hex[:6]}"
    kfs_cluster.core.create_namespace({"metadata": {"name": name}})
    kfs_cluster.core.create_namespaced_config_map(
        name, {"metadata": {"name": "team-settings"}, "data": {"owner": "ml-platform"}}
    )
    kfs_cluster.core.create_namespaced_service_account(name, {"metadata": {"name": "deployer"}})
    yield name
    kfs_cluster.core.delete_namespace(name)


@pytest.fixture
def key_file(tmp_path, kfs_gcp):
    path = tmp_path / "reader.json"
    path.write_text(json.dumps(sample_key(kfs_gcp, "shared-ns-reader")))
    return path


def _ours(kfs_cluster, namespace):
    selector = f"{namespaces.MANAGED_BY}={namespaces.MANAGER}"
    found = [
        f"InferenceService/{item['metadata']['name']}"
        for item in kfs_cluster.custom.list_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.PLURAL
        )["items"]
    ]
    found += [
        f"ServiceAccount/{sa.metadata.name}"
        for sa in kfs_cluster.core.list_namespaced_service_account(
            namespace, label_selector=selector
        ).items
    ]
    found += [
        f"Secret/{s.metadata.name}"
        for s in kfs_cluster.core.list_namespaced_secret(namespace, label_selector=selector).items
    ]
    return found


def test_a_run_leaves_the_users_namespace_as_it_found_it(
    pytester, inner, kfs_cluster, team, key_file
):
    before = {
        "configmap": kfs_cluster.core.read_namespaced_config_map(
            "team-settings", team
        ).metadata.resource_version,
        "sa": kfs_cluster.core.read_namespaced_service_account(
            "deployer", team
        ).metadata.resource_version,
    }
    pytester.makepyfile(f"""
        KEY = open({str(key_file)!r}).read()

        def test_sample_loads(kfs_deploy, kfs_namespace):
            assert str(kfs_namespace) == {team!r}
            kfs_deploy("sklearn-iris", credentials=KEY).wait_loaded(timeout=90)

        def test_the_same_name_again(kfs_deploy):
            kfs_deploy("sklearn-iris", credentials=KEY).wait_loaded(timeout=90)

        def test_fails_after_deploying(kfs_deploy):
            kfs_deploy("sklearn-iris", name="other", credentials=KEY)
            assert False, "on purpose"
    """)
    result = inner(f"--kfs-namespace={team}")
    result.assert_outcomes(passed=2, failed=1)
    assert _ours(kfs_cluster, team) == []
    assert kfs_cluster.core.read_namespace(team).metadata.deletion_timestamp is None
    assert (
        kfs_cluster.core.read_namespaced_config_map("team-settings", team).metadata.resource_version
        == before["configmap"]
    )
    assert (
        kfs_cluster.core.read_namespaced_service_account("deployer", team).metadata.resource_version
        == before["sa"]
    )


def test_a_taken_name_is_left_untouched(pytester, inner, kfs_cluster, team, key_file):
    kfs_cluster.core.create_namespaced_service_account(
        team, {"metadata": {"name": "sklearn-iris-sa"}}
    )
    version = kfs_cluster.core.read_namespaced_service_account(
        "sklearn-iris-sa", team
    ).metadata.resource_version
    pytester.makepyfile(f"""
        def test_deploys(kfs_deploy):
            kfs_deploy("sklearn-iris", credentials=open({str(key_file)!r}).read())
    """)
    result = inner(f"--kfs-namespace={team}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ServiceAccount sklearn-iris-sa already exists in namespace "
            f"{team} and was not created by this test: it was left "
            "untouched*"
        ]
    )
    account = kfs_cluster.core.read_namespaced_service_account("sklearn-iris-sa", team)
    assert account.metadata.resource_version == version and not account.secrets
    assert _ours(kfs_cluster, team) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ("--kfs-namespace=no-such-team",),
            "*--kfs-namespace=no-such-team: no such namespace on context 'kfs-local'; create it*",
        ),
        (
            ("--kfs-namespace=team", "-p", "xdist", "-n", "2"),
            "*--kfs-namespace=team runs every test in one namespace*without -n*",
        ),
        (("--kfs-namespace=Team_A",), "*--kfs-namespace='Team_A' is not a namespace name*"),
    ],
)
def test_bad_namespace_use_is_one_line(pytester, inner, extra, message):
    pytester.makepyfile("def test_x(kfs_namespace):\n    pass\n")
    result = inner(*extra)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


def test_what_a_killed_run_left_is_swept_after_the_ttl(pytester, inner, kfs_cluster, team):
    labels = {namespaces.MANAGED_BY: namespaces.MANAGER, namespaces.RUN_ID_LABEL: "killedrun"}
    two_hours_ago = str(int(time.time()) - 7200)
    kfs_cluster.core.create_namespaced_secret(
        team,
        {
            "metadata": {
                "name": "left-behind",
                "labels": labels,
                "annotations": {namespaces.CREATED_ANNOTATION: two_hours_ago},
            },
            "stringData": {"x": "y"},
        },
    )
    pytester.makepyfile("def test_x(kfs_namespace):\n    pass\n")
    inner(f"--kfs-namespace={team}", "--kfs-sweep-ttl=3h").assert_outcomes(passed=1)
    kfs_cluster.core.read_namespaced_secret("left-behind", team)  # younger than 3h: it stays
    result = inner(f"--kfs-namespace={team}", "--kfs-sweep-ttl=1h")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"*kfs sweep: deleted what earlier runs left in {team}*Secret/left-behind*"]
    )
    with pytest.raises(ApiException) as gone:
        kfs_cluster.core.read_namespaced_secret("left-behind", team)
    assert gone.value.status == 404
