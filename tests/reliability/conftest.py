"""A dedicated embedded cluster for fault tests: restarting its API server harms no other test."""

from __future__ import annotations

import uuid

import pytest

from pytest_kfs.kube.cluster import Cluster, connect_context
from pytest_kfs.local.embedded import start_embedded
from pytest_kfs.local.gcp.admin import GcpAdmin
from pytest_kfs.local.node.kubelet import Timing
from pytest_kfs.testing.faultproxy import FaultProxy


@pytest.fixture(scope="module")
def own_cluster():
    """An embedded cluster of this module; pulls take 3 s so faults land mid-wait."""
    with start_embedded(timing=Timing(pull=3.0)) as embedded:
        yield embedded


@pytest.fixture(scope="module")
def own_gcp(own_cluster) -> GcpAdmin:
    return GcpAdmin(own_cluster.gcp)


@pytest.fixture
def api_proxy(own_cluster):
    """A fault proxy in front of the module cluster's kube-apiserver."""
    with FaultProxy(own_cluster.plane.server, own_cluster.plane.client_ssl_context()) as proxy:
        yield proxy


@pytest.fixture
def proxied_cluster(api_proxy, tmp_path) -> Cluster:
    """The module cluster as a client behind the fault proxy sees it."""
    return connect_context("proxied", api_proxy.write_kubeconfig(tmp_path / "kubeconfig"))


@pytest.fixture
def direct_cluster(own_cluster) -> Cluster:
    return connect_context(own_cluster.context, own_cluster.kubeconfig)


@pytest.fixture
def run_id() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def inner(pytester, kfs_cluster, run_id, monkeypatch):
    """Run pytest on the session's cluster as a user would, with a known run id."""
    monkeypatch.setenv("KFS_RUN_ID", run_id)
    args = [
        "--kfs-cluster=kfs-local",
        f"--kfs-kubeconfig={kfs_cluster.kubeconfig}",
        "-p",
        "no:cacheprovider",
    ]

    def run(*extra: str):
        return pytester.runpytest_subprocess(*args, *extra, timeout=240)

    run.args = args
    return run
