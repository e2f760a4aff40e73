"""Bucket access: can the serving identity do what KServe's storage-initializer does?"""

from __future__ import annotations

import pytest

from pytest_kfs.diagnosis.preflight import GoogleAccess
from pytest_kfs.gcp.probe import run_probe
from pytest_kfs.gcp.storage import check_access, check_key, client_for_key

from .conftest import key_file_of, requires_gcs


def test_the_serving_identity_has_google_credentials(kfs_serving, kfs_property):
    requires_gcs(kfs_serving)
    identity = kfs_serving.identity
    kfs_property("serving_identity", identity.describe())
    if identity.source == "ambient":
        anonymous = GoogleAccess(None, kfs_serving.gcs_endpoint).storage_client(None)
        if check_access(anonymous, kfs_serving.config.storage_uri).ok:
            pytest.skip(f"{kfs_serving.config.storage_uri} is public (anyone may list and read "
                        "it, as KServe's sample bucket): no credentials are needed")
    assert identity.source != "ambient", (
        f"service account {kfs_serving.service_account} has no key secret with "
        "gcloud-application-credentials.json and no iam.gke.io/gcp-service-account "
        "annotation: KServe will read the bucket as the node's service account, or "
        f"anonymously off GCP. {' '.join(identity.notes)}")


def test_the_key_secret_is_usable(kfs_serving):
    requires_gcs(kfs_serving)
    check = check_key(key_file_of(kfs_serving),
                      private_endpoints=[kfs_serving.gcs_endpoint])
    if check.unverified:
        pytest.fail(f"secret {kfs_serving.identity.secret}: {check.unverified}", pytrace=False)
    assert check.ok, f"secret {kfs_serving.identity.secret}: {check.detail}"


def _access_with_key(kfs_serving):
    requires_gcs(kfs_serving)
    key = key_file_of(kfs_serving)
    if not check_key(key, private_endpoints=[kfs_serving.gcs_endpoint]).ok:
        pytest.skip("the key does not refresh (see test_the_key_secret_is_usable)")
    check = check_access(client_for_key(key, kfs_serving.gcs_endpoint),
                         kfs_serving.config.storage_uri)
    if check.unverified:
        pytest.fail(f"{kfs_serving.identity.principal}: {check.unverified}", pytrace=False)
    return check


def test_the_serving_identity_can_list_the_model_prefix(kfs_serving):
    check = _access_with_key(kfs_serving)
    assert check.listed, (f"{kfs_serving.identity.principal} cannot list "
                          f"{kfs_serving.config.storage_uri}: {check.listed_detail}")


def test_the_serving_identity_can_read_the_model(kfs_serving):
    check = _access_with_key(kfs_serving)
    if not check.listed:
        pytest.skip("the prefix cannot be listed (see the list test)")
    assert check.read, (f"{kfs_serving.identity.principal} cannot read "
                        f"{kfs_serving.config.storage_uri}: {check.read_detail}")


def test_an_in_cluster_probe_lists_then_reads_as_the_initializer(kfs_cluster, kfs_serving,
                                                                   kfs_property):
    requires_gcs(kfs_serving)
    result = run_probe(kfs_cluster, kfs_serving.namespace, kfs_serving.config.storage_uri,
                       kfs_serving.service_account, kfs_serving.identity)
    assert result.completed, result.detail
    kfs_property("probe_principal", result.principal or result.credential_type or "")
    who = result.principal or result.credential_type
    problem = result.refresh_error or result.list_error or result.read_error
    assert result.ok, f"from inside the cluster, as {who}: {problem}"
