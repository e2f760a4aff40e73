"""S3 failures rehearsed for real: KServe's own pod webhook injects the S3 secret, KServe's own
storage initializer (the release's kserve-storage, boto3) talks to an S3 endpoint that checks
every request's credentials (moto's server with IAM on), and the diagnosis reads what they
printed. Nothing here is written to make a code come out: the world is arranged, the words are
the initializer's."""

import pytest

from pytest_kfs.deploy import ModelNotLoaded
from pytest_kfs.kserve.status import Verdict
from pytest_kfs.local import s3
from pytest_kfs.local.kserve.releases import release
from pytest_kfs.local.samples import iris_model_bytes

BUCKET = "models"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    server = s3.start(tmp_path_factory.mktemp("s3"))
    server.ensure_bucket(BUCKET)
    server.put_object(BUCKET, "iris/model.joblib", iris_model_bytes(release()))
    yield server
    server.stop()


def _serve_as(kfs_cluster, namespace, endpoint, key_id, secret):
    """KServe's documented S3 set-up: a secret with the keys and the endpoint annotations, on
    the service account the model is served as."""
    kfs_cluster.core.create_namespaced_secret(
        namespace,
        {
            "metadata": {
                "name": "s3-creds",
                "annotations": {
                    "serving.kserve.io/s3-endpoint": endpoint.endpoint,
                    "serving.kserve.io/s3-usehttps": "0",
                    "serving.kserve.io/s3-region": "us-east-1",
                },
            },
            "stringData": {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret},
        },
    )
    kfs_cluster.core.create_namespaced_service_account(
        namespace, {"metadata": {"name": "s3-reader"}, "secrets": [{"name": "s3-creds"}]}
    )
    return "s3-reader"


def _fails(kfs_deploy, account, uri=f"s3://{BUCKET}/iris"):
    model = kfs_deploy(storage_uri=uri, model_format="sklearn", service_account=account)
    with pytest.raises(ModelNotLoaded) as failure:
        model.wait_loaded(timeout=90)
    return failure.value.findings[0]


def test_a_reader_loads(kfs_cluster, kfs_namespace, kfs_deploy, endpoint):
    key = endpoint.create_user(f"reader-{kfs_namespace}", (BUCKET,))
    account = _serve_as(
        kfs_cluster, kfs_namespace, endpoint, key.access_key_id, key.secret_access_key
    )
    model = kfs_deploy(
        storage_uri=f"s3://{BUCKET}/iris", model_format="sklearn", service_account=account
    )
    assert model.wait_loaded(timeout=90).verdict is Verdict.LOADED


def test_a_key_without_a_policy_is_refused(kfs_cluster, kfs_namespace, kfs_deploy, endpoint):
    key = endpoint.create_user(f"stranger-{kfs_namespace}")
    top = _fails(
        kfs_deploy,
        _serve_as(kfs_cluster, kfs_namespace, endpoint, key.access_key_id, key.secret_access_key),
    )
    assert top.code == "S3_ACCESS_DENIED", (top.code, top.evidence)
    assert "403" in " ".join(top.evidence)


def test_an_unknown_key_is_refused_the_same_way(kfs_cluster, kfs_namespace, kfs_deploy, endpoint):
    # HeadBucket answers a bare 403 for both (a HEAD response has no body, on AWS too): the
    # finding says both causes are possible rather than pick one.
    top = _fails(
        kfs_deploy,
        _serve_as(kfs_cluster, kfs_namespace, endpoint, "AKIAKFSUNKNOWNKEY000", "not-a-secret"),
    )
    assert top.code == "S3_ACCESS_DENIED", (top.code, top.evidence)
    assert "unknown" in top.cause and "s3:ListBucket" in top.cause


def test_a_missing_bucket_is_named(kfs_cluster, kfs_namespace, kfs_deploy, endpoint):
    # Allowed to read it, were it there: S3 answers 404, not an IAM 403.
    key = endpoint.create_user(f"reader-{kfs_namespace}", (BUCKET, "no-such-bucket"))
    top = _fails(
        kfs_deploy,
        _serve_as(kfs_cluster, kfs_namespace, endpoint, key.access_key_id, key.secret_access_key),
        uri="s3://no-such-bucket/iris",
    )
    assert top.code == "S3_BUCKET_MISSING", (top.code, top.evidence)


def test_an_empty_prefix_is_named(kfs_cluster, kfs_namespace, kfs_deploy, endpoint):
    key = endpoint.create_user(f"reader-{kfs_namespace}", (BUCKET,))
    top = _fails(
        kfs_deploy,
        _serve_as(kfs_cluster, kfs_namespace, endpoint, key.access_key_id, key.secret_access_key),
        uri=f"s3://{BUCKET}/nothing-here",
    )
    assert top.code == "MODEL_NOT_FOUND", (top.code, top.evidence)
