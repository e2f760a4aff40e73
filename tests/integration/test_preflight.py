"""Preflight predicts the real outcome of every embedded scenario, with read-only access."""

import uuid

import pytest
from kubernetes import client

from pytest_kfs.deploy import ModelNotLoaded
from pytest_kfs.kube.cluster import Cluster
from pytest_kfs.local.scenarios import SCENARIOS

READ_ONLY_RULES = [
    {
        "apiGroups": [""],
        "resources": ["serviceaccounts", "secrets", "nodes"],
        "verbs": ["get", "list"],
    },
    {
        "apiGroups": ["serving.kserve.io"],
        "resources": ["servingruntimes", "clusterservingruntimes"],
        "verbs": ["get", "list"],
    },
]


@pytest.fixture(scope="module")
def read_only_cluster(kfs_cluster):
    """The same API server, as an identity that can only read (a write would be a 403)."""
    rbac, core = kfs_cluster.rbac, kfs_cluster.core
    name = f"kfs-preflight-reader-{uuid.uuid4().hex[:6]}"  # one per xdist worker
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_service_account(name, {"metadata": {"name": "reader"}})
    rbac.create_cluster_role({"metadata": {"name": name}, "rules": READ_ONLY_RULES})
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": name}],
        }
    )
    token = core.create_namespaced_service_account_token(
        "reader",
        name,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    ).status.token
    configuration = client.Configuration()
    configuration.host = kfs_cluster.server
    configuration.ssl_ca_cert = kfs_cluster.api_client.configuration.ssl_ca_cert
    configuration.api_key = {"authorization": f"Bearer {token}"}
    yield Cluster(
        client.ApiClient(configuration),
        "reader",
        kfs_cluster.server,
        kfs_cluster.server_version,
        True,
    )
    rbac.delete_cluster_role_binding(name)
    rbac.delete_cluster_role(name)
    core.delete_namespace(name)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_prediction_matches_the_real_deploy(
    name, kfs_cluster, kfs_namespace, kfs_gcp, kfs_deploy, read_only_cluster, kfs_google
):
    from pytest_kfs.diagnosis.preflight import predict

    scenario = SCENARIOS[name]
    if not scenario.preflight_sees:
        pytest.skip(f"{name}: preflight checks access to the model, not its content")
    plan = scenario.arrange_namespace(kfs_cluster.core, kfs_namespace, kfs_gcp)
    spec = plan.but(name="model").resolved()
    prediction = predict(read_only_cluster, kfs_namespace, spec, kfs_google)

    model = kfs_deploy(spec)  # the very spec preflight judged
    try:
        model.wait_loaded(timeout=60)
        real = ("loads", None)
    except ModelNotLoaded as failure:
        real = ("fails", failure.findings[0].code)
    assert (prediction.outcome, prediction.code) == real, (
        f"preflight said {prediction.describe()}, the deploy did {real}: one of them is wrong"
    )
    assert real[0] == ("loads" if scenario.expect_loaded else "fails")
