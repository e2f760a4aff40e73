"""Bucket access: can the serving identity do what KServe's storage-initializer does?"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_kfs import Serving


def test_the_serving_identity_has_google_credentials(
        kfs_serving: Serving, kfs_property: Callable[[str, object], None]) -> None:
    kfs_serving.require_gcs()
    identity = kfs_serving.identity
    kfs_property("serving_identity", identity.describe())
    if identity.source == "ambient" and kfs_serving.is_public():
        pytest.skip(f"{kfs_serving.config.storage_uri} is public (anyone may list and read it, "
                    "as KServe's sample bucket): no credentials are needed")
    assert identity.source != "ambient", (
        f"service account {kfs_serving.service_account} has no key secret with "
        "gcloud-application-credentials.json and no iam.gke.io/gcp-service-account "
        "annotation: KServe will read the bucket as the node's service account, or "
        f"anonymously off GCP. {' '.join(identity.notes)}")


def test_the_key_secret_is_usable(kfs_serving: Serving) -> None:
    kfs_serving.require_gcs()
    check = kfs_serving.check_key()
    if check.unverified:
        pytest.fail(f"secret {kfs_serving.identity.secret}: {check.unverified}", pytrace=False)
    assert check.ok, f"secret {kfs_serving.identity.secret}: {check.detail}"


def test_the_serving_identity_can_list_the_model_prefix(kfs_serving: Serving) -> None:
    kfs_serving.require_gcs()
    check = kfs_serving.check_access_as_key()
    if check.unverified:
        pytest.fail(f"{kfs_serving.identity.principal}: {check.unverified}", pytrace=False)
    assert check.listed, (f"{kfs_serving.identity.principal} cannot list "
                          f"{kfs_serving.config.storage_uri}: {check.listed_detail}")


def test_the_serving_identity_can_read_the_model(kfs_serving: Serving) -> None:
    kfs_serving.require_gcs()
    check = kfs_serving.check_access_as_key()
    if check.unverified:
        pytest.fail(f"{kfs_serving.identity.principal}: {check.unverified}", pytrace=False)
    if not check.listed:
        pytest.skip("the prefix cannot be listed (see the list test)")
    assert check.read, (f"{kfs_serving.identity.principal} cannot read "
                        f"{kfs_serving.config.storage_uri}: {check.read_detail}")


def test_an_in_cluster_probe_lists_then_reads_as_the_initializer(
        kfs_serving: Serving, kfs_property: Callable[[str, object], None]) -> None:
    kfs_serving.require_gcs()
    result = kfs_serving.probe()
    assert result.completed, result.detail
    kfs_property("probe_principal", result.principal or result.credential_type or "")
    who = result.principal or result.credential_type
    problem = result.refresh_error or result.list_error or result.read_error
    assert result.ok, f"from inside the cluster, as {who}: {problem}"
