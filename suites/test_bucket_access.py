"""Bucket access: can the serving identity do what KServe's storage-initializer does?"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_kfs import Code, Finding, Serving, fail_with


def test_the_serving_identity_has_google_credentials(
    kfs_serving: Serving, kfs_property: Callable[[str, object], None]
) -> None:
    kfs_serving.require_gcs()
    identity = kfs_serving.identity
    kfs_property("serving_identity", identity.describe())
    if identity.source == "ambient" and kfs_serving.is_public():
        pytest.skip(
            f"{kfs_serving.config.storage_uri} is public (anyone may list and read it, "
            "as KServe's sample bucket): no credentials are needed"
        )
    if identity.source == "ambient":
        fail_with(
            Finding(
                Code.GCS_ANONYMOUS_FALLBACK,
                f"service account {kfs_serving.service_account} has no key secret with "
                "gcloud-application-credentials.json and no iam.gke.io/gcp-service-account "
                "annotation: KServe will read the bucket as the node's service account, or "
                "anonymously off GCP",
                tuple(identity.notes),
                kfs_serving.credentials_fix(),
                bucket=kfs_serving.bucket or None,
            )
        )


def test_the_key_secret_is_usable(kfs_serving: Serving) -> None:
    kfs_serving.require_gcs()
    check = kfs_serving.check_key()
    secret = f"secret {kfs_serving.identity.secret}"
    if check.unverified:
        fail_with(
            Finding(Code.STORAGE_UNREACHABLE, f"{secret} could not be checked: {check.unverified}")
        )
    if not check.ok:
        fail_with(kfs_serving.explain(check.detail, Code.GCS_KEY_INVALID, secret))


def test_the_serving_identity_can_list_the_model_prefix(kfs_serving: Serving) -> None:
    kfs_serving.require_gcs()
    check = kfs_serving.check_access_as_key()
    who = kfs_serving.identity.principal
    if check.unverified:
        fail_with(Finding(Code.STORAGE_UNREACHABLE, f"{who}: {check.unverified}"))
    if not check.listed:
        fail_with(
            kfs_serving.explain(
                check.listed_detail,
                Code.GCS_LIST_DENIED,
                f"{who} cannot list {kfs_serving.config.storage_uri}",
            )
        )


def test_the_serving_identity_can_read_the_model(kfs_serving: Serving) -> None:
    kfs_serving.require_gcs()
    check = kfs_serving.check_access_as_key()
    who = kfs_serving.identity.principal
    if check.unverified:
        fail_with(Finding(Code.STORAGE_UNREACHABLE, f"{who}: {check.unverified}"))
    if not check.listed:
        pytest.skip("the prefix cannot be listed (see the list test)")
    if not check.read:
        fail_with(
            kfs_serving.explain(
                check.read_detail,
                Code.GCS_GET_DENIED,
                f"{who} cannot read {kfs_serving.config.storage_uri}",
            )
        )


def test_an_in_cluster_probe_lists_then_reads_as_the_initializer(
    kfs_serving: Serving, kfs_property: Callable[[str, object], None]
) -> None:
    kfs_serving.require_gcs()
    result = kfs_serving.probe()
    if not result.completed:
        fail_with(
            Finding(Code.UNEXPLAINED, f"the in-cluster probe did not finish: {result.detail}")
        )
    kfs_property("probe_principal", result.principal or result.credential_type or "")
    who = result.principal or result.credential_type
    problem = result.refresh_error or result.list_error or result.read_error
    if not result.ok:
        fail_with(
            kfs_serving.explain(
                problem or result.detail,
                Code.STORAGE_DOWNLOAD_FAILED,
                f"from inside the cluster, as {who}",
            )
        )
