"""IAM roles: the bucket policy grants the serving principal what KServe needs, and no more."""

from __future__ import annotations

import google.auth
import pytest
from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exceptions
from google.cloud import storage
from google.oauth2 import service_account

from pytest_kfs.diagnosis.rules import parse_gcs_uri
from pytest_kfs.gcp import iam
from pytest_kfs.plugin.stash import RUN_CLUSTER

from .conftest import requires_gcs


@pytest.fixture
def operator_client(request, kfs_serving):
    """Whoever runs the suite, with the right to read bucket policies: on the embedded cluster
    an operator account of its local GCP; elsewhere the operator's own Google credentials
    (Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS or gcloud's login), at
    the configured endpoint (KFS_GCS_ENDPOINT for private endpoints)."""
    run = request.config.stash.get(RUN_CLUSTER, None)
    if run is not None and run.cloud is not None:
        credentials = service_account.Credentials.from_service_account_info(
            run.cloud.operator_key())
        return storage.Client(credentials=credentials, project="kfs-demo",
                              client_options=ClientOptions(api_endpoint=kfs_serving.gcs_endpoint))
    try:
        credentials, project = google.auth.default(
            scopes=["https://www.googleapis.com/auth/devstorage.full_control"])
    except auth_exceptions.DefaultCredentialsError:
        pytest.skip("no operator Google credentials to read bucket IAM policies with: set "
                    "GOOGLE_APPLICATION_CREDENTIALS to a key file, or run gcloud auth "
                    "application-default login")
    endpoint = kfs_serving.gcs_endpoint
    return storage.Client(credentials=credentials, project=project or "-",
                          client_options=ClientOptions(api_endpoint=endpoint) if endpoint
                          else None)


def _principal(kfs_serving) -> iam.Principal:
    identity = kfs_serving.identity
    if identity.principal is None:
        pytest.skip(f"no single principal to check ({identity.describe()})")
    return iam.Principal.service_account(identity.principal)


def _explanation(kfs_serving, operator_client):
    bucket_name, path = parse_gcs_uri(kfs_serving.config.storage_uri)
    try:
        policy = operator_client.bucket(bucket_name).get_iam_policy(requested_policy_version=3)
    except api_exceptions.NotFound:
        pytest.fail(f"bucket gs://{bucket_name} does not exist", pytrace=False)
    except api_exceptions.Forbidden as error:
        pytest.skip(f"cannot read the policy of gs://{bucket_name}: {error.message}")
    bindings = [iam.Binding.from_json({**b, "members": sorted(b["members"])})
                for b in policy.bindings]
    return iam.explain(_principal(kfs_serving), bucket_name, f"{path}/model",
                       [(f"bucket {bucket_name}", bindings)])


def test_the_bucket_policy_grants_the_serving_principal_read(kfs_serving, operator_client):
    requires_gcs(kfs_serving)
    explanation = _explanation(kfs_serving, operator_client)
    bucket, _ = parse_gcs_uri(kfs_serving.config.storage_uri)
    assert not explanation.missing, (
        f"no binding on gs://{bucket} gives {kfs_serving.identity.principal} "
        f"{', '.join(explanation.missing)}; fix: gcloud storage buckets add-iam-policy-binding "
        f"gs://{bucket} --member=serviceAccount:{kfs_serving.identity.principal} "
        "--role=roles/storage.objectViewer (project-level grants are not inspected here)")


def test_the_serving_principal_holds_no_broader_role_than_needed(kfs_serving, operator_client):
    requires_gcs(kfs_serving)
    explanation = _explanation(kfs_serving, operator_client)
    broad = sorted({binding.role for binding in explanation.overbroad})
    assert not broad, (f"{kfs_serving.identity.principal} holds {', '.join(broad)}; "
                       "roles/storage.objectViewer is enough to serve")
