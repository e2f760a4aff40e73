"""The real google-cloud-storage and google-auth against the local GCP behave as against Google.

One test per row of the error table in shared/reference/gcp-access.md §5, plus the IAM traps of
§1.2 (legacyBucketReader, basic roles, prefix conditions, public objects).
"""

import json
import os

import google.auth.transport.requests
import pytest
import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exceptions
from google.cloud import storage
from google.oauth2 import service_account

from pytest_kfs.gcp.iam import LIST
from pytest_kfs.local.gcp.server import LocalGcp
from pytest_kfs.local.gcp.world import GcpWorld, WorldError

PROJECT = "table-proj"
BUCKET = "table-models"


@pytest.fixture(scope="module")
def gcp():
    os.environ["DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA"] = "true"
    local = LocalGcp(GcpWorld()).start()
    world = local.world
    world.add_bucket(BUCKET, PROJECT)
    world.put_object(BUCKET, "sklearn/model.joblib", b"model")
    world.put_object(BUCKET, "other/data.csv", b"x")
    yield local
    local.stop()


def _sa(gcp, name: str, role: str | None = None, condition: str | None = None):
    email = f"{name}@{PROJECT}.iam.gserviceaccount.com"
    if email not in gcp.world.service_accounts:
        gcp.world.add_service_account(email)
        if role:
            gcp.world.grant_bucket(BUCKET, role, f"serviceAccount:{email}", condition)
    return email


def _client(gcp, email: str) -> storage.Client:
    credentials = service_account.Credentials.from_service_account_info(gcp.world.create_key(email))
    return storage.Client(
        credentials=credentials,
        project=PROJECT,
        client_options=ClientOptions(api_endpoint=gcp.endpoint),
    )


def _anonymous(gcp) -> storage.Client:
    client = storage.Client.create_anonymous_client()
    client._connection.API_BASE_URL = gcp.endpoint
    return client


def test_reader_lists_then_downloads(gcp):
    client = _client(gcp, _sa(gcp, "reader", "roles/storage.objectViewer"))
    blobs = list(client.bucket(BUCKET).list_blobs(prefix="sklearn/"))
    assert [blob.name for blob in blobs] == ["sklearn/model.joblib"]
    assert blobs[0].download_as_bytes() == b"model"
    assert blobs[0].download_as_bytes(start=0, end=0) == b"m"


def test_missing_list_permission_is_forbidden_with_principal_and_permission(gcp):
    email = _sa(gcp, "nobody")
    with pytest.raises(api_exceptions.Forbidden) as error:
        list(_client(gcp, email).bucket(BUCKET).list_blobs(prefix="sklearn/"))
    assert (
        f"{email} does not have storage.objects.list access to the Google Cloud Storage "
        "bucket. Permission 'storage.objects.list' denied on resource (or it may not "
        "exist)."
    ) in str(error.value)
    assert error.value.errors[0]["reason"] == "forbidden"


def test_legacy_bucket_reader_lists_but_cannot_download(gcp):
    email = _sa(gcp, "legacy-reader", "roles/storage.legacyBucketReader")
    bucket = _client(gcp, email).bucket(BUCKET)
    blobs = list(bucket.list_blobs(prefix="sklearn/"))
    with pytest.raises(api_exceptions.Forbidden) as error:
        blobs[0].download_as_bytes()
    # Media downloads lose `errors`; the body still carries Google's message.
    assert error.value.errors == []
    body = json.loads(error.value.response.text)
    assert body["error"]["message"].startswith(
        f"{email} does not have storage.objects.get access to the Google Cloud Storage object"
    )


def test_anonymous_caller_on_private_bucket_hits_the_refresh_trap(gcp):
    with pytest.raises(
        auth_exceptions.InvalidOperation, match="Anonymous credentials cannot be refreshed"
    ):
        list(_anonymous(gcp).bucket(BUCKET).list_blobs(prefix="sklearn/"))


def test_invalid_token_is_401_auth_error(gcp):
    response = requests.get(
        f"{gcp.endpoint}/storage/v1/b/{BUCKET}/o",
        headers={"Authorization": "Bearer ya29.not-issued-here"},
        timeout=5,
    )
    assert response.status_code == 401
    error = response.json()["error"]["errors"][0]
    assert (error["reason"], error["location"]) == ("authError", "Authorization")
    assert response.json()["error"]["message"] == "Invalid Credentials"


def test_disabled_key_fails_refresh_with_invalid_jwt_signature(gcp):
    email = _sa(gcp, "disabled-key", "roles/storage.objectViewer")
    key = gcp.world.create_key(email)
    gcp.world.disable_key(email, key["private_key_id"])
    credentials = service_account.Credentials.from_service_account_info(key)
    client = storage.Client(
        credentials=credentials,
        project=PROJECT,
        client_options=ClientOptions(api_endpoint=gcp.endpoint),
    )
    with pytest.raises(auth_exceptions.RefreshError, match=r"invalid_grant: Invalid JWT Signature"):
        list(client.bucket(BUCKET).list_blobs(prefix="sklearn/"))


def test_deleted_service_account_fails_refresh_with_account_not_found(gcp):
    email = _sa(gcp, "deleted-sa", "roles/storage.objectViewer")
    key = gcp.world.create_key(email)
    gcp.world.service_accounts[email].deleted = True
    credentials = service_account.Credentials.from_service_account_info(key)
    with pytest.raises(auth_exceptions.RefreshError, match="account not found"):
        credentials.refresh(google.auth.transport.requests.Request())


def test_missing_bucket_is_not_found(gcp):
    client = _client(gcp, _sa(gcp, "reader", "roles/storage.objectViewer"))
    with pytest.raises(api_exceptions.NotFound, match=r"The specified bucket does not exist\."):
        list(client.bucket("no-such-bucket-here").list_blobs(prefix="x/"))


def test_requester_pays_without_user_project_is_bad_request(gcp):
    gcp.world.add_bucket("payer-bucket", PROJECT, requester_pays=True)
    email = _sa(gcp, "payer-reader")
    gcp.world.grant_bucket("payer-bucket", "roles/storage.objectViewer", f"serviceAccount:{email}")
    with pytest.raises(
        api_exceptions.BadRequest,
        match=r"Bucket is a requester pays bucket but no user project provided\.",
    ):
        list(_client(gcp, email).bucket("payer-bucket").list_blobs(prefix="x/"))


def test_test_iam_permissions_answers_for_the_caller(gcp):
    reader = _client(gcp, _sa(gcp, "reader", "roles/storage.objectViewer")).bucket(BUCKET)
    asked = ["storage.objects.list", "storage.objects.get", "storage.buckets.get"]
    assert reader.test_iam_permissions(asked) == ["storage.objects.list", "storage.objects.get"]
    assert _client(gcp, _sa(gcp, "nobody")).bucket(BUCKET).test_iam_permissions(asked) == []
    with pytest.raises(api_exceptions.BadRequest):
        reader.test_iam_permissions(["storage.buckets.list"])


def test_basic_roles_give_no_object_data(gcp):
    email = _sa(gcp, "project-viewer")
    gcp.world.grant_project(PROJECT, "roles/viewer", f"serviceAccount:{email}")
    bucket = _client(gcp, email).bucket(BUCKET)
    # Google's published roles/viewer has storage.buckets.list, not get (project members see a
    # bucket through its convenience bindings, which the local cloud does not model).
    assert bucket.test_iam_permissions([LIST, "storage.buckets.get"]) == []
    with pytest.raises(api_exceptions.Forbidden):
        list(bucket.list_blobs(prefix="sklearn/"))


def test_legacy_roles_cannot_be_granted_on_a_project(gcp):
    with pytest.raises(WorldError, match="can only be granted on a bucket"):
        gcp.world.grant_project(PROJECT, "roles/storage.legacyBucketReader", "allUsers")


def test_prefix_condition_needs_both_halves(gcp):
    resource_only = 'resource.name.startsWith("projects/_/buckets/table-models/objects/sklearn/")'
    half = _client(gcp, _sa(gcp, "prefix-half", "roles/storage.objectViewer", resource_only))
    assert half.bucket(BUCKET).blob("sklearn/model.joblib").download_as_bytes() == b"model"
    with pytest.raises(api_exceptions.Forbidden):
        list(half.bucket(BUCKET).list_blobs(prefix="sklearn/"))
    both = resource_only + (
        ' || api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("sklearn/")'
    )
    whole = _client(gcp, _sa(gcp, "prefix-both", "roles/storage.objectViewer", both))
    assert [b.name for b in whole.bucket(BUCKET).list_blobs(prefix="sklearn/")] == [
        "sklearn/model.joblib"
    ]
    with pytest.raises(api_exceptions.Forbidden):
        whole.bucket(BUCKET).blob("other/data.csv").download_as_bytes()


def test_public_object_is_not_a_listable_bucket(gcp):
    gcp.world.add_bucket("public-objects", PROJECT)
    gcp.world.put_object("public-objects", "m/model.bin", b"public")
    gcp.world.grant_bucket("public-objects", "roles/storage.legacyObjectReader", "allUsers")
    anonymous = _anonymous(gcp).bucket("public-objects")
    assert anonymous.blob("m/model.bin").download_as_bytes() == b"public"
    with pytest.raises(auth_exceptions.InvalidOperation):
        list(anonymous.list_blobs(prefix="m/"))


def test_bucket_policy_round_trips_with_conditions(gcp):
    _sa(gcp, "legacy-reader", "roles/storage.legacyBucketReader")
    _sa(
        gcp,
        "prefix-half",
        "roles/storage.objectViewer",
        'resource.name.startsWith("projects/_/buckets/table-models/objects/sklearn/")',
    )
    admin = _client(gcp, _sa(gcp, "bucket-admin", "roles/storage.admin")).bucket(BUCKET)
    policy = admin.get_iam_policy(requested_policy_version=3)
    roles = {binding["role"] for binding in policy.bindings}
    assert "roles/storage.legacyBucketReader" in roles
    conditional = [b for b in policy.bindings if b.get("condition")]
    assert conditional and "startsWith" in conditional[0]["condition"]["expression"]
    policy.bindings.append(
        {
            "role": "roles/storage.objectViewer",
            "members": {"serviceAccount:added@table-proj.iam.gserviceaccount.com"},
        }
    )
    updated = admin.set_iam_policy(policy)
    assert any(
        "serviceAccount:added@table-proj.iam.gserviceaccount.com" in b["members"]
        for b in updated.bindings
    )
    with pytest.raises(api_exceptions.Forbidden, match=r"storage\.buckets\.getIamPolicy"):
        _client(gcp, _sa(gcp, "reader", "roles/storage.objectViewer")).bucket(
            BUCKET
        ).get_iam_policy()


def test_a_models_file_model_is_made_in_the_local_cloud_or_refused_in_one_line():
    """--kfs-models on the embedded cluster: a copy of the sklearn-iris sample is made where
    the model says (readable by anyone: the local cloud cannot know the real IAM); a model
    it cannot make is one line saying why and what to do."""
    from pytest_kfs.local.gcp.admin import GcpAdmin
    from pytest_kfs.local.scenarios import SAMPLE_BUCKET, SAMPLE_PREFIX, arrange_model

    local = LocalGcp(GcpWorld())
    admin = GcpAdmin(local)
    assert arrange_model(admin, "gs://team-models/iris/v3", "sklearn-iris-v2") is None
    assert admin.has_objects_under("team-models", "iris/v3/model.joblib")
    bindings = local.world.bucket_policy_json(local.world.buckets["team-models"])["bindings"]
    assert any(
        b["role"] == "roles/storage.objectViewer" and b["members"] == ["allUsers"] for b in bindings
    )
    # The public sample is there already: nothing to make.
    assert arrange_model(admin, f"gs://{SAMPLE_BUCKET}/{SAMPLE_PREFIX}", None) is None
    assert arrange_model(admin, "gs://ml-prod/fraud/v7", None) == (
        "gs://ml-prod/fraud/v7 is not in the embedded cluster's local Google Cloud, and "
        "pytest-kfs cannot make it (no `sample:` says which catalogue model it copies): run "
        "against your cluster (--kfs-cluster=<context>), or give the model `sample: "
        "sklearn-iris`"
    )
    assert not admin.has_objects_under("ml-prod", "fraud")
