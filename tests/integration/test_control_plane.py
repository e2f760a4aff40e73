"""The embedded control plane is a real Kubernetes API, used through the official client."""

import time

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from pytest_kfs.kserve import api
from pytest_kfs.kserve.spec import ModelSpec
from pytest_kfs.plugin.stash import RUN_CLUSTER

SKLEARN_IRIS = ModelSpec(sample="sklearn-iris").resolved()


def _eventually(predicate, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture
def namespace(kfs_cluster, request):
    name = f"cp-{request.node.name.replace('_', '-')[:40].lower()}"
    kfs_cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    kfs_cluster.core.delete_namespace(name)


def test_server_is_a_real_kube_apiserver(pytestconfig, kfs_cluster):
    assert pytestconfig.stash[RUN_CLUSTER].shared["kfs_shared_target"] == "local"
    assert kfs_cluster.server_version.startswith("v1.34.")
    assert kfs_cluster.kserve_installed
    assert kfs_cluster.server.startswith("https://127.0.0.1:")


def test_namespaces_are_created_and_deleted_for_real(kfs_cluster):
    core = kfs_cluster.core
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="cp-lifecycle")))
    # kube-controller-manager creates the default service account, as on any cluster.
    _eventually(lambda: core.list_namespaced_service_account("cp-lifecycle").items)
    core.delete_namespace("cp-lifecycle")

    def gone():
        try:
            core.read_namespace("cp-lifecycle")
        except ApiException as error:
            return error.status == 404
        return False

    _eventually(gone)


def test_kserve_crds_are_the_releases_own(kfs_cluster):
    crds = {
        crd.metadata.name: crd
        for crd in kfs_cluster.apiextensions.list_custom_resource_definition().items
    }
    assert {
        "inferenceservices.serving.kserve.io",
        "servingruntimes.serving.kserve.io",
        "clusterservingruntimes.serving.kserve.io",
    } <= set(crds)
    isvc_crd = crds["inferenceservices.serving.kserve.io"]
    # KServe's controller-gen stamp, not ours: the CRD is the release's file as shipped.
    assert "controller-gen.kubebuilder.io/version" in (isvc_crd.metadata.annotations or {})
    assert not (isvc_crd.metadata.labels or {}).get("app.kubernetes.io/managed-by")


def test_custom_resource_and_status_subresource(kfs_cluster, namespace):
    custom = kfs_cluster.custom
    body = SKLEARN_IRIS.manifest()
    created = custom.create_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.PLURAL, body
    )
    assert created["spec"]["predictor"]["model"]["storageUri"].startswith("gs://")

    # A status write goes through /status and cannot change the spec.
    status = {
        "status": {
            "modelStatus": {
                "transitionStatus": "InProgress",
                "states": {"activeModelState": "Pending", "targetModelState": "Pending"},
            }
        },
        "spec": {"predictor": {"model": {"storageUri": "gs://other/path"}}},
    }
    custom.patch_namespaced_custom_object_status(
        api.GROUP, api.VERSION, namespace, api.PLURAL, "sklearn-iris", status
    )
    stored = custom.get_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.PLURAL, "sklearn-iris"
    )
    assert stored["status"]["modelStatus"]["transitionStatus"] == "InProgress"
    assert (
        stored["spec"]["predictor"]["model"]["storageUri"]
        == body["spec"]["predictor"]["model"]["storageUri"]
    )


def test_schema_is_enforced_server_side(kfs_cluster, namespace):
    body = SKLEARN_IRIS.manifest()
    body["metadata"]["name"] = "invalid-status"
    kfs_cluster.custom.create_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.PLURAL, body
    )
    bad = {"status": {"modelStatus": {"transitionStatus": "Sleeping"}}}
    with pytest.raises(ApiException) as error:
        kfs_cluster.custom.patch_namespaced_custom_object_status(
            api.GROUP, api.VERSION, namespace, api.PLURAL, "invalid-status", bad
        )
    assert error.value.status == 422
    assert "Sleeping" in error.value.body


def test_watch_streams_changes(kfs_cluster, namespace):
    """A watch from a resourceVersion sees every change after it, in order: the create, then
    each status write (KServe's own controller writes status.url too; the test's is one)."""
    custom = kfs_cluster.custom
    listed = custom.list_namespaced_custom_object(api.GROUP, api.VERSION, namespace, api.PLURAL)
    custom.create_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.PLURAL, SKLEARN_IRIS.manifest()
    )
    custom.patch_namespaced_custom_object_status(
        api.GROUP,
        api.VERSION,
        namespace,
        api.PLURAL,
        "sklearn-iris",
        {"status": {"url": "http://sklearn-iris.example"}},
    )
    seen: list[tuple[str, str]] = []
    stream = watch.Watch()
    for event in stream.stream(
        custom.list_namespaced_custom_object,
        api.GROUP,
        api.VERSION,
        namespace,
        api.PLURAL,
        resource_version=listed["metadata"]["resourceVersion"],
        timeout_seconds=60,
    ):
        state = (event["object"].get("status") or {}).get("url", "")
        seen.append((event["type"], state))
        if event["type"] == "MODIFIED" and state == "http://sklearn-iris.example":
            stream.stop()
    assert seen[0] == ("ADDED", "")
    assert ("MODIFIED", "http://sklearn-iris.example") in seen


def test_rbac_is_enforced_for_service_account_tokens(kfs_cluster, namespace):
    core = kfs_cluster.core
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nobody"))
    )
    token = core.create_namespaced_service_account_token(
        "nobody",
        namespace,
        client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
        ),
    ).status.token
    configuration = client.Configuration()
    configuration.host = kfs_cluster.server
    configuration.ssl_ca_cert = kfs_cluster.api_client.configuration.ssl_ca_cert
    configuration.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(configuration) as as_nobody, pytest.raises(ApiException) as error:
        client.CoreV1Api(as_nobody).list_namespaced_pod(namespace)
    assert error.value.status == 403
    assert f"system:serviceaccount:{namespace}:nobody" in error.value.body


def test_audit_log_records_who_did_what(kfs_cluster, namespace, pytestconfig):
    from pytest_kfs.plugin.stash import RUN_CLUSTER

    audit_log = pytestconfig.stash[RUN_CLUSTER].audit_log
    kfs_cluster.core.list_namespaced_config_map(namespace)
    # kube-controller-manager writes here too (kube-root-ca.crt), so look for our own list.
    ours = _eventually(
        lambda: [
            line
            for line in audit_log.read_text().splitlines()
            if f"/api/v1/namespaces/{namespace}/configmaps" in line
            and '"verb":"list"' in line
            and '"userAgent":"OpenAPI-Generator' in line
        ]
    )
    assert '"user":{"username":"kfs-admin"' in ours[-1]
