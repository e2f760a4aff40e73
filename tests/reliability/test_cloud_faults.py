"""Cloud faults during bucket checks, made for real with the fault proxy in front of the local
GCP: bursts are retried; a Google that stays down gives "could not verify", never a false
"permission denied"."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from pytest_kfs.deploy import Deployer
from pytest_kfs.diagnosis.preflight import GoogleAccess, predict
from pytest_kfs.gcp import storage as gcs
from pytest_kfs.kserve.spec import ModelSpec
from pytest_kfs.local.processes import free_port
from pytest_kfs.local.scenarios import PRIVATE_URI, sample_key
from pytest_kfs.testing.faultproxy import FaultProxy

MODEL_URI = PRIVATE_URI


@pytest.fixture(autouse=True)
def short_retries(monkeypatch):
    monkeypatch.setattr(gcs, "RETRY_SECONDS", 2.0)


def secret_data(key: dict) -> dict[str, str]:
    return {gcs.GCS_KEY_FILE: base64.b64encode(json.dumps(key).encode()).decode()}


@pytest.fixture
def reader(kfs_gcp) -> dict:
    return sample_key(kfs_gcp, "fault-reader")


@pytest.fixture
def stranger(kfs_gcp) -> dict:
    return sample_key(kfs_gcp, "fault-stranger", can_read=False)


@pytest.fixture
def gcs_proxy(kfs_gcs_endpoint):
    with FaultProxy(kfs_gcs_endpoint) as proxy:
        yield proxy


def test_a_burst_of_5xx_and_429_is_retried(gcs_proxy, reader):
    gcs_proxy.fail(503, times=2)
    gcs_proxy.fail(429, times=1)
    check = gcs.check_access(gcs.client_for_key(secret_data(reader), gcs_proxy.url), MODEL_URI)
    assert check.ok, check
    assert not check.unverified
    statuses = [r.status for r in gcs_proxy.recorded]
    assert (statuses.count(503), statuses.count(429)) == (2, 1)


def test_storage_that_keeps_failing_is_could_not_verify(gcs_proxy, stranger):
    # The stranger really lacks access: a fault on the deciding call (list) must give "could
    # not verify", not "permission denied".
    gcs_proxy.fail(503, path_contains="/o?")
    check = gcs.check_access(gcs.client_for_key(secret_data(stranger), gcs_proxy.url), MODEL_URI)
    assert check.unverified.startswith("could not verify bucket access")
    assert check.listed is None and check.read is None
    assert "ServiceUnavailable" in check.unverified


def test_a_read_that_keeps_failing_is_could_not_verify(gcs_proxy, reader):
    gcs_proxy.fail(502, path_contains="/o/")
    check = gcs.check_access(gcs.client_for_key(secret_data(reader), gcs_proxy.url), MODEL_URI)
    assert check.listed is True and check.read is None
    assert "reading an object" in check.unverified


def test_storage_down_is_could_not_verify(reader):
    dead = f"http://127.0.0.1:{free_port()}"
    check = gcs.check_access(gcs.client_for_key(secret_data(reader), dead), MODEL_URI)
    assert check.unverified.startswith("could not verify bucket access")
    assert check.listed is None


@pytest.mark.parametrize("fault", ["down", "503"])
def test_token_endpoint_unavailable_is_could_not_verify(reader, fault, kfs_gcs_endpoint):
    with FaultProxy(reader["token_uri"].rsplit("/", 1)[0]) as proxy:
        if fault == "down":
            proxy.go_down()
        else:
            proxy.fail(503)
        key = {**reader, "token_uri": f"{proxy.url}/token"}
        check = gcs.check_key(secret_data(key), private_endpoints=[proxy.url])
    assert not check.ok
    assert check.unverified.startswith("could not verify the key")
    assert "refused" not in check.detail


def test_a_token_endpoint_burst_is_retried(reader):
    with FaultProxy(reader["token_uri"].rsplit("/", 1)[0]) as proxy:
        proxy.fail(503, times=2)
        check = gcs.check_key(
            secret_data({**reader, "token_uri": f"{proxy.url}/token"}),
            private_endpoints=[proxy.url],
        )
    assert check.ok, check.detail


def test_preflight_says_unknown_not_fails(
    kfs_cluster, kfs_namespace, gcs_proxy, stranger, kfs_gcs_endpoint
):
    # Storage behind a faulty proxy; the key's token endpoint (the local Google) is configured.
    account = Deployer(kfs_cluster, str(kfs_namespace), 60).key_service_account(
        "model", f"sa-{uuid.uuid4().hex[:6]}", stranger
    )
    gcs_proxy.fail(503)
    prediction = predict(
        kfs_cluster,
        str(kfs_namespace),
        ModelSpec("model", MODEL_URI, "sklearn", account),
        GoogleAccess(None, gcs_proxy.url, iam_endpoint=kfs_gcs_endpoint),
    )
    assert prediction.outcome == "unknown", prediction.describe()
    assert "could not verify" in prediction.describe()
    gcs_proxy.heal()
    healed = predict(
        kfs_cluster,
        str(kfs_namespace),
        ModelSpec("model", MODEL_URI, "sklearn", account),
        GoogleAccess(None, gcs_proxy.url, iam_endpoint=kfs_gcs_endpoint),
    )
    assert (healed.outcome, healed.code) == ("fails", "GCS_LIST_DENIED")
