"""The bad-input matrix: each mistake a user can make gives one line that says what is wrong
and what to do — no traceback — and changes nothing of the user's (files, namespaces).

Cases that need a cluster use the session's embedded one through kubeconfigs made for the case
(wrong CA, rejected token, an identity without RBAC, a proxy that hides KServe)."""

from __future__ import annotations

import hashlib
import json
import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from pytest_kfs.kube import namespaces
from pytest_kfs.local import pki
from pytest_kfs.local.processes import free_port
from pytest_kfs.local.scenarios import PRIVATE_URI, sample_key
from pytest_kfs.testing.faultproxy import FaultProxy

from ..integration.helpers import service_account_kubeconfig, write_kubeconfig

MODEL = PRIVATE_URI
PLAIN_TEST = "def test_x(kfs_namespace):\n    pass\n"


@dataclass(frozen=True)
class Case:
    """One mistake: the command line, the test file, and the line the user must see."""

    args: tuple[str, ...]
    expected: str
    test: str = PLAIN_TEST
    usage: bool = True  # stops the run at start (exit 4); else the test fails or errors
    env: dict[str, str] = field(default_factory=dict)


CLUSTER = ("--kfs-cluster=kfs-local", "--kfs-kubeconfig={admin}")
_TOKEN_URI = "'token_uri': 'https://oauth2.googleapis.com/token'"
KEY_EMAIL_NOT_TEXT = (
    "{'type': 'service_account', 'client_email': 5, "
    + _TOKEN_URI
    + ", 'private_key': '-----BEGIN PRIVATE KEY-----SECRETBODY'}"
)
KEY_NOT_PEM = (
    "{'type': 'service_account', 'client_email': 'a@p.iam.gserviceaccount.com', "
    + _TOKEN_URI
    + ", 'private_key': 'SECRETBODY'}"
)
DEPLOY = (*CLUSTER, "-p", "no:randomly")

CASES = {
    # Which cluster, and can we talk to it.
    "unknown-context": Case(
        ("--kfs-cluster=staging", "--kfs-kubeconfig={two_contexts}"),
        "kubeconfig context 'staging' not found in {two_contexts} (available: dev, prod)",
    ),
    "kubeconfig-missing": Case(
        ("--kfs-cluster=dev", "--kfs-kubeconfig={tmp}/none.yaml"),
        "kubeconfig {tmp}/none.yaml does not exist or is not a file",
    ),
    "kubeconfig-unreadable": Case(
        ("--kfs-cluster=dev", "--kfs-kubeconfig={garbage}"), "cannot read {garbage}"
    ),
    "server-unreachable": Case(
        ("--kfs-cluster=dev", "--kfs-kubeconfig={two_contexts}"),
        "cannot reach the API server https://127.0.0.1:{closed}",
    ),
    "tls-wrong-ca": Case(
        ("--kfs-cluster=wrong-ca", "--kfs-kubeconfig={wrong_ca}"),
        "TLS handshake with the API server {server} failed",
    ),
    "credentials-rejected": Case(
        ("--kfs-cluster=bad-token", "--kfs-kubeconfig={bad_token}"),
        "rejected the credentials of context 'bad-token' (HTTP 401",
    ),
    "rbac-forbidden": Case(
        ("--kfs-cluster=no-rbac", "--kfs-kubeconfig={no_rbac}"),
        "lack what pytest-kfs needs to deploy into namespaces of its own "
        "(cluster-wide): get inferenceservices.serving.kserve.io, list "
        "inferenceservices.serving.kserve.io",
    ),
    "kserve-crds-missing": Case(
        ("--kfs-cluster=proxied", "--kfs-kubeconfig={no_kserve}"),
        "KServe is not installed on kubeconfig context 'proxied'",
    ),
    "in-cluster-outside-a-pod": Case(
        ("--kfs-cluster=in-cluster",),
        "--kfs-cluster=in-cluster needs to run inside a pod",
        env={"KUBERNETES_SERVICE_HOST": ""},
    ),
    "kind-name-invalid": Case(
        ("--kfs-cluster=kind:Bad_Name",), "'Bad_Name' is not a valid kind cluster name"
    ),
    # Options and their combinations.
    "timeout-negative": Case(
        ("--kfs-cluster=local", "--kfs-timeout=-5"),
        "--kfs-timeout=-5 must be a positive number of seconds",
    ),
    "timeout-zero": Case(
        ("--kfs-cluster=local", "--kfs-timeout=0"),
        "--kfs-timeout=0 must be a positive number of seconds",
    ),
    "timeout-not-a-number": Case(
        ("--kfs-cluster=local", "--kfs-timeout=soon"),
        "--kfs-timeout='soon' is not a number of seconds",
    ),
    "storage-uri-malformed": Case(
        (*CLUSTER, "--kfs-storage-uri=gs:/models/iris", "--kfs-model-format=sklearn"),
        "--kfs-storage-uri: storage URI 'gs:/models/iris' has no scheme",
    ),
    "storage-uri-unsupported-scheme": Case(
        (*CLUSTER, "--kfs-storage-uri=ftp://host/model", "--kfs-model-format=sklearn"),
        "storage URI 'ftp://host/model' has the unsupported scheme ftp://; KServe downloads gs, s3",
    ),
    "bucket-name-invalid": Case(
        (*CLUSTER, "--kfs-storage-uri=gs://Bad_Bucket!/model", "--kfs-model-format=sklearn"),
        "'Bad_Bucket!' is not a valid bucket name",
    ),
    "storage-uri-without-format": Case(
        (*CLUSTER, "--kfs-storage-uri=" + MODEL), "--kfs-model-format"
    ),
    "scenario-on-a-live-cluster": Case(
        (*CLUSTER, "--kfs-scenario=healthy"),
        "--kfs-scenario=healthy rehearses a failure in the "
        "embedded cluster; it needs --kfs-cluster=local",
    ),
    "scenario-unknown": Case(
        ("--kfs-cluster=local", "--kfs-scenario=nope"),
        "--kfs-scenario=nope: unknown scenario 'nope'; known: healthy",
    ),
    "kubeconfig-with-local": Case(
        ("--kfs-cluster=local", "--kfs-kubeconfig={admin}"),
        "--kfs-kubeconfig conflicts with --kfs-cluster=local",
    ),
    "models-and-storage-uri": Case(
        (
            *CLUSTER,
            "--kfs-models={models}",
            "--kfs-storage-uri=" + MODEL,
            "--kfs-model-format=sklearn",
        ),
        "--kfs-models and --kfs-storage-uri both name the models",
    ),
    "models-file-missing": Case(
        (*CLUSTER, "--kfs-models={tmp}/nope.yaml"), "--kfs-models={tmp}/nope.yaml cannot be read"
    ),
    "models-file-malformed": Case(
        (*CLUSTER, "--kfs-models={garbage}"), "--kfs-models={garbage} cannot be parsed"
    ),
    "existing-without-cluster": Case(("--kfs-existing=all",), "--kfs-existing needs --kfs-cluster"),
    "existing-bad-namespace": Case(
        (*CLUSTER, "--kfs-existing=team-a,Team_B"),
        "--kfs-existing=team-a,Team_B: 'Team_B' is not a valid Kubernetes name",
    ),
    "existing-selector-alone": Case(
        (*CLUSTER, "--kfs-existing-selector=team=x"), "--kfs-existing-selector needs --kfs-existing"
    ),
    "existing-selector-malformed": Case(
        (*CLUSTER, "--kfs-existing=all", "--kfs-existing-selector=team=$(id)"),
        "--kfs-existing-selector='team=$(id)' is not a label selector",
    ),
    "existing-selector-with-one-model": Case(
        (*CLUSTER, "--kfs-existing=a/model", "--kfs-existing-selector=team=x"),
        "--kfs-existing=a/model names one InferenceService",
    ),
    "report-directory-missing": Case(
        (*CLUSTER, "--kfs-report={tmp}/no/dir/r.json"),
        "--kfs-report={tmp}/no/dir/r.json: directory {tmp}/no/dir does not exist",
    ),
    "sweep-ttl-too-short": Case(
        (*CLUSTER, "--kfs-sweep-ttl=5s"), "--kfs-sweep-ttl=5s is under a minute"
    ),
    "run-id-invalid": Case(
        CLUSTER, "KFS_RUN_ID='Not Valid' must be 1-20 lower-case", env={"KFS_RUN_ID": "Not Valid"}
    ),
    # Mistakes in the tests and the model's objects.
    "marker-unknown-argument": Case(
        DEPLOY,
        "@pytest.mark.kfs on test_x.py::test_x: unknown "
        "argument(s) storage; known: min_replicas, model_format",
        test="import pytest\n\n@pytest.mark.kfs(storage='gs://b/m')\n"
        "def test_x(kfs_model):\n    pass\n",
    ),
    # xdist workers collect: the marker's line then fails the test instead of stopping the run.
    "marker-unknown-argument-xdist": Case(
        (*DEPLOY, "-n", "2", "-p", "xdist"),
        "pytest-kfs: @pytest.mark.kfs on test_x.py::test_x: unknown argument(s) storage",
        test="import pytest\n\n@pytest.mark.kfs(storage='gs://b/m')\n"
        "def test_x(kfs_model):\n    pass\n",
        usage=False,
    ),
    "several-scenarios-for-kfs-model": Case(
        ("--kfs-cluster=local", "--kfs-scenario=healthy,bad-key"),
        "kfs_model and kfs_scenario deploy one scenario, and --kfs-scenario names 2",
        test="def test_x(kfs_model):\n    pass\n",
        usage=False,
    ),
    "sample-unknown": Case(
        DEPLOY,
        "unknown sample 'no-such-sample'",
        test="import pytest\n\n@pytest.mark.kfs('no-such-sample')\n"
        "def test_x(kfs_model):\n    pass\n",
        usage=False,
    ),
    "yaml-not-an-inferenceservice": Case(
        DEPLOY,
        "pytest-kfs: cannot deploy: expected kind InferenceService, got 'Deployment'",
        test="def test_x(kfs_deploy):\n    kfs_deploy(spec='apiVersion: apps/v1\\nkind: "
        "Deployment\\nmetadata:\\n  name: web\\n')\n",
        usage=False,
    ),
    "key-json-malformed": Case(
        DEPLOY,
        "pytest-kfs: cannot deploy: credentials= is not valid JSON (line 1, column 2)",
        test="def test_x(kfs_deploy):\n    kfs_deploy('sklearn-iris', credentials='{not json')\n",
        usage=False,
    ),
    "key-not-a-service-account": Case(
        DEPLOY,
        "credentials= is not a service-account key: its type is 'authorized_user', "
        "not service_account",
        test="def test_x(kfs_deploy):\n    kfs_deploy('sklearn-iris', credentials="
        "{'type': 'authorized_user', 'refresh_token': 'x'})\n",
        usage=False,
    ),
    "key-with-a-list-for-its-private-key": Case(
        DEPLOY,
        "credentials= is not a service-account key: it lacks private_key (or they are not text)",
        test="def test_x(kfs_deploy):\n    kfs_deploy('sklearn-iris', credentials={"
        "'type': 'service_account', 'client_email': 'a@p.iam.gserviceaccount.com', "
        "'token_uri': 'https://oauth2.googleapis.com/token', "
        "'private_key': ['-----BEGIN PRIVATE KEY-----SECRETBODY']})\n",
        usage=False,
    ),
    "model-name-of-201-characters": Case(
        DEPLOY,
        "pytest-kfs: cannot deploy: model name 'mmmmmmmm",
        test="def test_x(kfs_deploy):\n    kfs_deploy('sklearn-iris', name='m' * 201)\n",
        usage=False,
    ),
    "key-for-another-project": Case(
        DEPLOY,
        f"[GCS_LIST_DENIED] other-team@kfs-other.iam.gserviceaccount.com cannot list {MODEL}",
        test="import json\n\ndef test_x(kfs_deploy):\n    key = json.load(open('key.json'))\n"
        f"    kfs_deploy('sklearn-iris', storage_uri='{MODEL}', credentials=key)"
        ".wait_loaded()\n",
        usage=False,
    ),
    "service-account-missing": Case(
        (
            *DEPLOY,
            "--kfs-preflight",
            "--kfs-storage-uri=" + MODEL,
            "--kfs-model-format=sklearn",
            "--kfs-service-account=ghost",
        ),
        "fails: SERVICE_ACCOUNT_MISSING (service account ghost does not exist in",
        test="def test_x(kfs_model):\n    pass\n",
        usage=False,
    ),
    "secret-missing-key": Case(
        (
            *DEPLOY,
            "--kfs-storage-uri=" + MODEL,
            "--kfs-model-format=sklearn",
            "--kfs-service-account=keyless",
        ),
        "service account keyless: secrets ['keyless'], none with key "
        "gcloud-application-credentials.json",
        test=textwrap.dedent("""\
            import base64, pytest

            @pytest.fixture(autouse=True)
            def keyless(kfs_cluster, kfs_namespace):
                ns = str(kfs_namespace)
                kfs_cluster.core.create_namespaced_secret(ns, {"metadata": {"name": "keyless"},
                    "data": {"key.json": base64.b64encode(b"{}").decode()}})
                kfs_cluster.core.create_namespaced_service_account(ns, {
                    "metadata": {"name": "keyless"}, "secrets": [{"name": "keyless"}]})

            def test_x(keyless, kfs_model):
                pass
            """),
        usage=False,
    ),
    # A namespace of the user's (--kfs-namespace).
    "namespace-not-a-name": Case(
        (*CLUSTER, "--kfs-namespace=Team_A"), "--kfs-namespace='Team_A' is not a namespace name"
    ),
    "namespace-missing": Case(
        (*CLUSTER, "--kfs-namespace=no-such-team"),
        "--kfs-namespace=no-such-team: no such namespace on context 'kfs-local'; create it",
    ),
    "namespace-and-a-scenario": Case(
        ("--kfs-cluster=local", "--kfs-namespace=team", "--kfs-scenario=healthy"),
        "--kfs-scenario arranges fresh namespaces of its own",
    ),
    "namespace-with-parallel-workers": Case(
        (*CLUSTER, "--kfs-namespace=team", "-p", "xdist", "-n", "2"),
        "--kfs-namespace=team runs every test in one namespace",
    ),
    # Preflight's mode from the environment.
    "namespace-too-long": Case(
        (*CLUSTER, "--kfs-namespace=" + "t" * 64),
        "is not a namespace name (lower-case letters, digits and '-', at most 63)",
    ),
    "serving-key-and-serving-account": Case(
        (*CLUSTER, "--kfs-serving-key={key}", "--kfs-serving-account=platform/reader"),
        "--kfs-serving-key and --kfs-serving-account both give the serving identity; use one",
    ),
    "ingress-not-a-url": Case(
        (*CLUSTER, "--kfs-ingress=istio"), "--kfs-ingress='istio' is not http(s)://HOST[:PORT]"
    ),
    "preflight-mode-unknown": Case(
        CLUSTER,
        "kfs_preflight='maybe' is not one of on, report, off",
        env={"KFS_PREFLIGHT": "maybe"},
    ),
    # Key files of the wrong shape: the field is named, never its value.
    "key-a-json-list": Case(
        DEPLOY,
        "credentials= is not a service-account key: it is not a JSON object (it is a list)",
        test="def test_x(kfs_deploy):\n    kfs_deploy('sklearn-iris', credentials='[1, 2]')\n",
        usage=False,
    ),
    "key-email-not-text": Case(
        DEPLOY,
        "credentials= is not a service-account key: it lacks client_email (or they are not text)",
        test="def test_x(kfs_deploy):\n    kfs_deploy('sklearn-iris', "
        f"credentials={KEY_EMAIL_NOT_TEXT})\n",
        usage=False,
    ),
    "key-private-key-not-pem": Case(
        DEPLOY,
        "its private_key is not a PEM private key",
        test="def test_x(kfs_deploy):\n    kfs_deploy("
        f"'sklearn-iris', credentials={KEY_NOT_PEM})\n",
        usage=False,
    ),
    "serving-key-not-pem": Case(
        (*CLUSTER, "--kfs-serving-key={tmp}/not-pem.json"),
        "is not a service-account key file: its private_key is not a PEM private key",
    ),
    "model-name-upper-case": Case(
        DEPLOY,
        "pytest-kfs: cannot deploy: the API server refused InferenceService",
        test="def test_x(kfs_deploy):\n    kfs_deploy('sklearn-iris', name='Iris')\n",
        usage=False,
    ),
    "namespace-taken-without-our-label": Case(
        DEPLOY,
        "already exists and is not pytest-kfs's (no label app.kubernetes.io/managed-by="
        "pytest-kfs); it was left untouched",
        usage=False,
    ),
}


@pytest.fixture(scope="module")
def materials(kfs_cluster, kfs_gcp, tmp_path_factory):
    """Files and identities the cases refer to, made once."""
    tmp = tmp_path_factory.mktemp("bad-input")
    ca = kfs_cluster.api_client.configuration.ssl_ca_cert
    closed = free_port()
    two = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "dev",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{closed}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [
            {"name": n, "context": {"cluster": "c", "user": "u"}} for n in ("dev", "prod")
        ],
    }
    (tmp / "two.yaml").write_text(yaml.safe_dump(two))
    (tmp / "garbage.yaml").write_text("this: [is not: a kubeconfig")
    (tmp / "models.yaml").write_text(
        f"models:\n  - name: iris\n    storage_uri: {MODEL}\n    model_format: sklearn\n"
    )
    (tmp / "other-pki").mkdir()
    other_ca = pki.generate(tmp / "other-pki").ca_cert
    account = f"no-rbac-{uuid.uuid4().hex[:6]}"
    kfs_cluster.core.create_namespaced_service_account("default", {"metadata": {"name": account}})
    proxy = FaultProxy(kfs_cluster.server, _admin_ssl(kfs_cluster))
    proxy.start()
    proxy.fail(404, path_contains="/apis/serving.kserve.io")  # as if the CRDs were absent
    other_key = sample_key(kfs_gcp, "other-team", can_read=False, project="kfs-other")
    (tmp / "key.json").write_text(json.dumps(other_key))
    (tmp / "not-pem.json").write_text(json.dumps({**other_key, "private_key": "SECRETBODY"}))
    yield {
        "tmp": str(tmp),
        "closed": str(closed),
        "server": kfs_cluster.server,
        "admin": str(kfs_cluster.kubeconfig),
        "two_contexts": str(tmp / "two.yaml"),
        "garbage": str(tmp / "garbage.yaml"),
        "models": str(tmp / "models.yaml"),
        "wrong_ca": str(
            write_kubeconfig(
                tmp / "wrong-ca.yaml", "wrong-ca", kfs_cluster.server, {"token": "x"}, str(other_ca)
            )
        ),
        "bad_token": str(
            write_kubeconfig(
                tmp / "bad-token.yaml",
                "bad-token",
                kfs_cluster.server,
                {"token": "not-a-real-token"},
                ca,
            )
        ),
        "no_rbac": str(
            service_account_kubeconfig(
                kfs_cluster, "default", account, tmp / "no-rbac.yaml", "no-rbac"
            )
        ),
        "no_kserve": str(proxy.write_kubeconfig(tmp / "no-kserve.yaml")),
        "key": str(tmp / "key.json"),
    }
    proxy.stop()
    kfs_cluster.core.delete_namespaced_service_account(account, "default")


def _admin_ssl(kfs_cluster):
    import ssl

    configuration = kfs_cluster.api_client.configuration
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    context.load_cert_chain(configuration.cert_file, configuration.key_file)
    return context


def _digest(paths) -> dict[str, str]:
    return {
        path: hashlib.sha256(Path(path).read_bytes()).hexdigest()
        for path in paths
        if Path(path).is_file()
    }


def test_the_matrix_has_more_than_50_cases():
    assert len(CASES) > 50


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_clear_line(name, pytester, kfs_cluster, materials, monkeypatch):
    case = CASES[name]
    run_id = f"bad{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("KFS_RUN_ID", run_id)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value) if value else monkeypatch.delenv(key, raising=False)
    pytester.makepyfile(test_x=case.test)
    (pytester.path / "key.json").write_text(Path(materials["key"]).read_text())
    taken = None
    if name == "namespace-taken-without-our-label":
        taken = namespaces.namespace_name(run_id, "test_x.py::test_x")
        kfs_cluster.core.create_namespace({"metadata": {"name": taken, "labels": {"team": "a"}}})
    files = [value for value in materials.values() if value.endswith((".yaml", ".json"))]
    before = _digest(files)
    args = [arg.format(**materials) for arg in case.args]
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider", timeout=120)
    output = result.stdout.str() + "\n" + result.stderr.str()
    expected = case.expected.format(**materials)
    try:
        assert "Traceback" not in output, output
        assert "SECRETBODY" not in output, "key material printed"
        lines = [line for line in output.splitlines() if expected in line]
        assert lines, f"expected {expected!r} in:\n{output}"
        if case.usage:
            assert result.ret == pytest.ExitCode.USAGE_ERROR, output
            errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
            assert len(errors) == 1 and expected in errors[0], result.stderr.str()
        else:
            assert result.ret == pytest.ExitCode.TESTS_FAILED, output
        # Nothing of the user's changed; nothing of ours left behind.
        assert _digest(files) == before
        standing = [
            ns.metadata.name
            for ns in kfs_cluster.core.list_namespace(
                label_selector=f"{namespaces.RUN_ID_LABEL}={run_id}"
            ).items
            if ns.metadata.deletion_timestamp is None
        ]
        assert standing == []
        if taken:
            namespace = kfs_cluster.core.read_namespace(taken)
            assert namespace.metadata.labels == {"team": "a", "kubernetes.io/metadata.name": taken}
            assert namespace.metadata.deletion_timestamp is None
    finally:
        if taken:
            kfs_cluster.core.delete_namespace(taken)
