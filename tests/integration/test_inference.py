"""The embedded predictor serves for real: KServe's model server, a trained iris model."""

import shlex

import pytest

from pytest_kfs.deploy import ModelNotLoaded
from pytest_kfs.errors import InferenceFailed
from pytest_kfs.inference import predict_v1
from pytest_kfs.kserve.samples import IRIS_INPUT, IRIS_OUTPUT
from pytest_kfs.local.assets import model_server_python
from pytest_kfs.local.kserve.releases import release
from pytest_kfs.local.scenarios import SCENARIOS

ROWS = [list(row) for row in IRIS_INPUT]

needs_model_server = pytest.mark.skipif(
    model_server_python(release()) is None,
    reason="the model-server venv is not built (python -m pytest_kfs.local build)",
)


@pytest.fixture
def healthy(kfs_cluster, kfs_namespace, kfs_gcp):
    return SCENARIOS["healthy"].arrange_namespace(kfs_cluster.core, kfs_namespace, kfs_gcp)


@needs_model_server
def test_v1_predicts_the_documented_answer(kfs_deploy, healthy):
    model = kfs_deploy("sklearn-iris", service_account=healthy.service_account)
    model.wait_loaded()
    result = model.predict(ROWS)
    assert result.predictions == list(IRIS_OUTPUT)
    assert result.raw == {"predictions": [1, 1]}
    # KServe's status.url (example.com) through the embedded ingress, with its Host header.
    assert model.route_taken.path == "ingress"
    assert model.route_taken.host == model.url.removeprefix("http://")

    def refused(base, send):
        raise InferenceFailed(f"HTTP 503 from {base}")

    # A failed request says which way it went.
    with pytest.raises(
        InferenceFailed,
        match=r"^HTTP 503 from http://127\.0\.0\.1:\d+ \[sent "
        r"via ingress with Host: sklearn-iris-kfs-",
    ):
        model._sent(refused)


@needs_model_server
def test_v2_sample_infers_and_reports_ready(kfs_deploy, healthy):
    model = kfs_deploy("sklearn-iris-v2", service_account=healthy.service_account)
    model.wait_loaded()
    assert model.v2_ready()
    result = model.predict(ROWS)
    assert result.predictions == list(IRIS_OUTPUT)
    assert result.raw["outputs"][0]["datatype"] == "INT64"


@needs_model_server
def test_a_wrong_model_name_is_explained(kfs_deploy, healthy):
    model = kfs_deploy("sklearn-iris", service_account=healthy.service_account)
    model.wait_loaded()
    with pytest.raises(InferenceFailed, match="no model named 'iris' there"):
        base, send = model.route()
        predict_v1(base, "iris", ROWS, send=send)


@needs_model_server
def test_a_corrupt_model_fails_to_load_and_is_diagnosed(
    kfs_cluster, kfs_namespace, kfs_gcp, kfs_deploy
):
    plan = SCENARIOS["corrupt-model"].arrange_namespace(kfs_cluster.core, kfs_namespace, kfs_gcp)
    model = kfs_deploy(
        storage_uri=plan.storage_uri, model_format="sklearn", service_account=plan.service_account
    )
    with pytest.raises(ModelNotLoaded) as failure:
        model.wait_loaded(timeout=60)
    top = failure.value.findings[0]
    assert top.code == "MODEL_LOAD_FAILED"
    command = shlex.split(top.fix, comments=True)  # the fix is a command to paste
    logs = kfs_cluster.core.read_namespaced_pod_log(
        command[command.index("logs") + 1], kfs_namespace, container="kserve-container"
    )
    assert "joblib" in logs  # the real loader raised, not a canned message


def test_cluster_internal_urls_go_through_the_api_servers_service_proxy(kfs_cluster, kfs_namespace):
    from pytest_kfs.inference import route, send_through_api_server

    way = route("http://iris.models.svc.cluster.local", kfs_namespace, "iris", kfs_cluster.server)
    base = way.base
    assert way.path == "api-server proxy"
    assert base == (
        f"{kfs_cluster.server}/api/v1/namespaces/{kfs_namespace}/services/iris-predictor:80/proxy"
    )
    assert route("http://127.0.0.1:8080", "ns", "iris", kfs_cluster.server).path == "direct"
    # KServe's default domain does not resolve from a CI runner: the service proxy again.
    assert (
        route(
            "http://iris-ns.example.com",
            "ns",
            "iris",
            kfs_cluster.server,
            resolves=lambda host: False,
        ).path
        == "api-server proxy"
    )
    # A known ingress gateway wins: the URL's host goes in the Host header.
    through = route(
        "http://iris-ns.example.com",
        "ns",
        "iris",
        kfs_cluster.server,
        ingress="http://127.0.0.1:8081/",
    )
    assert (through.base, through.path, through.host) == (
        "http://127.0.0.1:8081",
        "ingress",
        "iris-ns.example.com",
    )
    # The request is authenticated and reaches the API server, which has no such service here.
    with pytest.raises(InferenceFailed, match=r"HTTP 404 from https://127\.0\.0\.1"):
        predict_v1(base, "iris", ROWS, send=send_through_api_server(kfs_cluster.api_client))
