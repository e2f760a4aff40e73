"""--kfs-cluster=in-cluster: the pod's service-account files, against the real API server."""

from pathlib import Path
from urllib.parse import urlparse

import pytest
from kubernetes import client

from pytest_kfs.errors import ClusterError
from pytest_kfs.kube.cluster import connect_in_cluster


@pytest.fixture
def mounted_service_account(kfs_cluster, tmp_path):
    """What the kubelet mounts into a pod: token, ca.crt, namespace."""
    namespace = "incluster-check"
    core = kfs_cluster.core
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nightly"))
    )
    token = core.create_namespaced_service_account_token(
        "nightly",
        namespace,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    ).status.token
    (tmp_path / "token").write_text(token)
    ca = kfs_cluster.api_client.configuration.ssl_ca_cert
    (tmp_path / "ca.crt").write_bytes(Path(ca).read_bytes())
    (tmp_path / "namespace").write_text(namespace)
    yield tmp_path
    core.delete_namespace(namespace)


def test_connects_as_the_pods_service_account(kfs_cluster, mounted_service_account):
    server = urlparse(kfs_cluster.server)
    environ = {
        "KUBERNETES_SERVICE_HOST": server.hostname,
        "KUBERNETES_SERVICE_PORT": str(server.port),
    }
    cluster = connect_in_cluster(mounted_service_account, environ)
    assert cluster.context == "in-cluster"
    assert cluster.server_version == kfs_cluster.server_version
    # Discovery is open to every authenticated identity, so KServe is detected without RBAC.
    assert cluster.kserve_installed


def test_missing_token_file_is_explained(kfs_cluster, tmp_path):
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    with pytest.raises(ClusterError, match="in-cluster config is incomplete"):
        connect_in_cluster(tmp_path, environ)
