"""Pure pieces of the suites: KServe's identity choice, IAM explanation, probe output."""

import json

from pytest_kfs.gcp.iam import Binding, Principal, explain
from pytest_kfs.gcp.identity import SecretSummary, resolve_identity
from pytest_kfs.gcp.probe import ProbeResult
from pytest_kfs.kserve.spec import ModelSpec
from pytest_kfs.plugin.settings import Settings, configured_models
from pytest_kfs.targets import LocalTarget

GCS = "gcloud-application-credentials.json"


def _secret(name, *keys, email=None):
    return SecretSummary(name, tuple(keys), client_email=email)


def test_annotation_secret_wins_over_service_account_secrets():
    secrets = {
        "a": _secret("a", GCS, email="a@p.iam.gserviceaccount.com"),
        "b": _secret("b", GCS, email="b@p.iam.gserviceaccount.com"),
    }
    identity = resolve_identity(
        {"serving.kserve.io/storageSecretName": "b"}, {"secrets": ["a"]}, secrets
    )
    assert (identity.source, identity.secret, identity.principal) == (
        "key-secret",
        "b",
        "b@p.iam.gserviceaccount.com",
    )


def test_s3_keys_shadow_the_gcs_key():
    secrets = {"both": _secret("both", "AWS_ACCESS_KEY_ID", GCS)}
    identity = resolve_identity({}, {"secrets": ["both"]}, secrets)
    assert identity.source == "ambient"
    assert "S3 keys" in identity.notes[0]


def test_wrong_key_name_falls_through_to_workload_identity():
    secrets = {"k": _secret("k", "key.json")}
    sa = {
        "secrets": ["k"],
        "annotations": {"iam.gke.io/gcp-service-account": "g@p.iam.gserviceaccount.com"},
    }
    identity = resolve_identity({}, sa, secrets)
    assert identity.source == "workload-identity"
    assert "has no gcloud-application-credentials.json key" in identity.notes[0]


def test_explain_names_granting_bindings_and_missing_permissions():
    reader = Principal.service_account("r@p.iam.gserviceaccount.com")
    legacy = Binding(
        "roles/storage.legacyBucketReader", ("serviceAccount:r@p.iam.gserviceaccount.com",)
    )
    result = explain(reader, "models", "iris/model.joblib", [("bucket models", [legacy])])
    assert result.granting["storage.objects.list"] == [legacy]
    assert result.missing == ("storage.objects.get",)
    admin = Binding("roles/storage.admin", ("serviceAccount:r@p.iam.gserviceaccount.com",))
    broad = explain(reader, "models", "iris/model.joblib", [("bucket models", [admin])])
    assert not broad.missing
    assert broad.overbroad == (admin,)


def test_probe_output_is_parsed():
    line = "KFS-PROBE " + json.dumps(
        {
            "credential_type": "Credentials",
            "principal": "x@y",
            "held": ["storage.objects.list"],
            "listed": True,
            "read": False,
            "read_error": "denied",
        }
    )
    result = ProbeResult.from_log("noise\n" + line + "\n")
    assert (result.listed, result.read, result.read_error) == (True, False, "denied")
    assert not result.ok
    assert not ProbeResult.from_log("Traceback ...").completed


def test_configured_models_follow_options_then_scenario():
    options = Settings(target=LocalTarget(), model=ModelSpec("model", "gs://b/m", "xgboost", "sa"))
    assert [(m.storage_uri, m.service_account) for m in configured_models(options)] == [
        ("gs://b/m", "sa")
    ]
    assert configured_models(Settings(target=LocalTarget()))[0].scenario == "healthy"
    assert configured_models(Settings(target=None))[0].name == "sklearn-iris"


def test_a_key_of_any_shape_is_refused_without_echoing_it():
    from pytest_kfs.gcp.keyfile import key_problem

    pem = (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
    )
    good = {
        "type": "service_account",
        "client_email": "a@p.iam.gserviceaccount.com",
        "private_key": pem,
        "private_key_id": "abc",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    assert key_problem(good) is None
    for broken in (
        {**good, "private_key": [pem]},
        {**good, "private_key": {"k": pem}},
        {**good, "private_key": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"},
        {**good, "type": pem},
        [good],
        pem,
    ):
        problem = key_problem(broken)
        assert problem and "MIIEvQ" not in problem and "BEGIN" not in problem


def test_a_keys_token_uri_is_called_only_when_it_is_googles_or_configured():
    from pytest_kfs.gcp.keyfile import token_uri_trusted

    assert token_uri_trusted("https://oauth2.googleapis.com/token")
    assert token_uri_trusted("http://127.0.0.1:4443/token", ["http://127.0.0.1:4443"])
    assert not token_uri_trusted("http://127.0.0.1:4443/token", ["http://127.0.0.1:9999"])
    assert not token_uri_trusted("http://internal.corp/admin", [None])
    assert not token_uri_trusted("https://oauth2.googleapis.com.evil.example/token")
