"""The kind target's choices as data (issue 37): the engine, the node image and kind's config,
root, the bounded waits, and whether a created cluster outlives the run."""

from pathlib import Path

import pytest

from pytest_kfs.errors import ClusterError, SettingsError
from pytest_kfs.kindnode import base, cluster, engine
from pytest_kfs.kube import kind
from pytest_kfs.targets import KindTarget, TargetOptions, parse_target


@pytest.mark.parametrize(
    ("environ", "docker", "podman", "expected"),
    [
        ({}, True, True, "docker"),
        ({}, False, True, "podman"),
        ({}, False, False, None),
        ({"KIND_EXPERIMENTAL_PROVIDER": "podman"}, True, False, "podman"),
    ],
)
def test_kind_runs_on_docker_when_it_answers_else_podman(environ, docker, podman, expected):
    assert kind.choose_provider(environ, docker, podman) == expected


def test_podman_is_named_to_kind_only_for_podman():
    assert kind.provider_env("podman")["KIND_EXPERIMENTAL_PROVIDER"] == "podman"


def test_the_node_image_built_here_is_the_default_on_podman_without_kinds_cni():
    here = cluster.plan("podman", None, local_image_present=True)
    assert here == cluster.Plan("podman", base.IMAGE, kind.NO_DEFAULT_CNI_CONFIG)
    assert "disableDefaultCNI: true" in kind.NO_DEFAULT_CNI_CONFIG
    assert cluster.plan("podman", None, False) == cluster.Plan("podman", None, None)
    assert cluster.plan("docker", None, True) == cluster.Plan("docker", None, None)
    assert cluster.plan("podman", "kindest/node:x", True) == cluster.Plan(
        "podman", "kindest/node:x", None
    )
    assert cluster.plan("podman", base.IMAGE, False).config == kind.NO_DEFAULT_CNI_CONFIG


def test_no_engine_and_not_root_are_one_line_each():
    with pytest.raises(engine.EngineMissing) as missing:
        cluster.plan(None, None, False)
    assert "\n" not in str(missing.value)
    assert "python -m pytest_kfs.kindnode engine" in str(missing.value)
    with pytest.raises(ClusterError, match=r"^kind on podman needs root here") as not_root:
        cluster.check_root("podman", 1000)
    assert "\n" not in str(not_root.value)
    cluster.check_root("podman", 0)
    cluster.check_root("docker", 1000)


def test_create_command_names_the_image_and_config_only_when_given():
    assert kind.create_command("c", None, None) == [
        "create",
        "cluster",
        "--name",
        "c",
        "--wait",
        "120s",
    ]
    command = kind.create_command("c", "img", Path("/x.yaml"))
    assert command[4:8] == ["--image", "img", "--config", "/x.yaml"]


def test_a_wait_that_runs_out_names_what_did_not_come_up():
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    with pytest.raises(ClusterError) as late:
        cluster.wait_until(
            "kind cluster 'k': CoreDNS",
            lambda: "CoreDNS pod coredns-1 is not ready (Pending, ContainerCreating)",
            10,
            clock=lambda: now[0],
            sleep=sleep,
        )
    assert str(late.value) == (
        "kind cluster 'k': CoreDNS did not come up within 10 s: CoreDNS pod coredns-1 is not "
        "ready (Pending, ContainerCreating)"
    )
    cluster.wait_until("x", lambda: None, 10, clock=lambda: now[0], sleep=sleep)


def test_kinds_line_about_a_name_in_use_is_the_one_shown():
    output = (
        "Creating cluster ...\nERROR: failed to create cluster: command failed\n"
        'Command Output: Error: creating container storage: the container name "x-control-'
        'plane" is already in use by abc. You have to remove that container'
    )
    assert "already in use" in kind.first_error_line(output)


def test_the_image_and_keep_reach_the_kind_target_and_no_other():
    target = parse_target(
        "kind:k", TargetOptions(kind_create=True, kind_image="img:1", keep="always")
    )
    assert target == KindTarget("k", create=True, image="img:1", keep="always")
    with pytest.raises(SettingsError, match="--kfs-kind-image only applies to kind clusters"):
        parse_target("prod", TargetOptions(kind_image="img:1"))


def test_install_and_the_release_reach_the_kind_target_only_when_it_installs():
    installing = parse_target("kind:k", TargetOptions(kind_install=True))
    assert installing == KindTarget("k", install=True)
    assert installing.with_kserve_version("0.13.1").kserve_version == "0.13.1"
    created = parse_target("kind:k", TargetOptions(kind_create=True))
    assert created.with_kserve_version("v0.20.0").kserve_version == "v0.20.0"
    # A found cluster the run does not install into runs the KServe it has.
    with pytest.raises(SettingsError, match="runs the KServe installed there"):
        parse_target("kind:k", TargetOptions()).with_kserve_version("v0.20.0")
    with pytest.raises(SettingsError, match=r"KServe v0\.9\.0 cannot be installed on kind"):
        installing.with_kserve_version("v0.9.0")
    with pytest.raises(SettingsError, match="--kfs-kind-install only applies to kind clusters"):
        parse_target("prod", TargetOptions(kind_install=True))


def test_a_found_cluster_without_kserve_is_told_how_to_add_it():
    hint = KindTarget("k").kserve_missing_hint()
    assert "--kfs-kind-install" in hint


@pytest.mark.parametrize(
    ("keep", "failed", "deleted"),
    [
        ("never", True, True),
        ("on-failure", False, True),
        ("on-failure", True, False),
        ("always", False, False),
    ],
)
def test_a_created_cluster_is_deleted_unless_kept(keep, failed, deleted, capsys):
    calls = []
    KindTarget("k", create=True, keep=keep)._delete_unless_kept(
        lambda: calls.append("deleted"), failed
    )
    assert bool(calls) == deleted
    if not deleted:
        assert "kind delete cluster --name k" in capsys.readouterr().err
