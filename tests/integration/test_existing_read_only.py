"""--kfs-existing verifies running models without a single write: the audit log proves it.

The nightly example's own ServiceAccount and read-only ClusterRole are applied and used, so
the example's RBAC is tested too: it can do what the verification needs, and nothing more.
"""

import json
import re
import time
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from pytest_kfs.deploy import ModelNotLoaded
from pytest_kfs.local.scenarios import PRIVATE_URI, PROJECT, sample_key

from .helpers import service_account_kubeconfig

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "nightly-cronjob.yaml"
NIGHTLY_USER = "system:serviceaccount:kfs-nightly:kfs-nightly"
OPERATOR = "kfs-audit-operator@kfs-demo.iam.gserviceaccount.com"


def _key(kfs_gcp, name, grant):
    return sample_key(kfs_gcp, name, can_read=grant)


def _apply_example(kfs_cluster):
    documents = [doc for doc in yaml.safe_load_all(EXAMPLE.read_text()) if doc]
    kinds = {doc["kind"]: doc for doc in documents}
    kfs_cluster.core.create_namespace(kinds["Namespace"])
    kfs_cluster.core.create_namespaced_service_account("kfs-nightly", kinds["ServiceAccount"])
    kfs_cluster.rbac.create_cluster_role(kinds["ClusterRole"])
    kfs_cluster.rbac.create_cluster_role_binding(kinds["ClusterRoleBinding"])
    client.BatchV1Api(kfs_cluster.api_client).create_namespaced_cron_job(
        "kfs-nightly", kinds["CronJob"]
    )  # validated by the API server; never triggered here


def test_nightly_verification_reads_only(
    pytester, kfs_cluster, kfs_namespace, kfs_gcp, kfs_deploy, pytestconfig, monkeypatch, tmp_path
):
    from pytest_kfs.plugin.stash import RUN_CLUSTER

    kfs_deploy(
        "sklearn-iris", name="healthy", credentials=_key(kfs_gcp, "nightly-reader", True)
    ).wait_loaded()
    stuck = kfs_deploy(
        "sklearn-iris",
        name="stuck",
        storage_uri=PRIVATE_URI,
        credentials=_key(kfs_gcp, "nightly-stranger", False),
    )
    with pytest.raises(ModelNotLoaded):
        stuck.wait_loaded()
    _apply_example(kfs_cluster)
    kubeconfig = service_account_kubeconfig(
        kfs_cluster, "kfs-nightly", "kfs-nightly", tmp_path / "nightly.kubeconfig", "nightly"
    )

    # The operator's Google side: ADC from a key file, APIs at the local GCP.
    kfs_gcp.ensure_service_account(OPERATOR)
    for role in ("roles/storage.admin", "roles/iam.securityReviewer"):
        kfs_gcp.grant_project(PROJECT, role, f"serviceAccount:{OPERATOR}")
    operator_key = tmp_path / "operator.json"
    operator_key.write_text(json.dumps(kfs_gcp.create_key(OPERATOR)))
    endpoint = kfs_gcp.endpoint()
    for name, value in (
        ("GOOGLE_APPLICATION_CREDENTIALS", str(operator_key)),
        ("KFS_GCS_ENDPOINT", endpoint),
        ("KFS_IAM_ENDPOINT", endpoint),
        ("KFS_IAM_CREDENTIALS_ENDPOINT", endpoint),
    ):
        monkeypatch.setenv(name, value)

    audit_log = pytestconfig.stash[RUN_CLUSTER].audit_log
    before = len(audit_log.read_text().splitlines())
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=nightly",
        f"--kfs-kubeconfig={kubeconfig}",
        f"--kfs-existing={kfs_namespace}",
        str(ROOT / "suites"),
        "-p",
        "no:cacheprovider",
        "-rfEs",
        "--kfs-report=nightly.json",
        "--kfs-html=nightly.html",
        "--junitxml=nightly.xml",
        "-o",
        "junit_family=xunit1",
        timeout=240,
    )
    output = result.stdout.str()
    failed = set(re.findall(r"^FAILED \S+::(\S+)", output, re.M))
    assert failed == {
        f"test_the_existing_model_is_loaded[{kfs_namespace}/stuck]",
        f"test_the_serving_identity_can_read_the_existing_model[{kfs_namespace}/stuck]",
    }, output[-3000:]
    assert "[GCS_LIST_DENIED]" in output
    # The bucket check's failure is its answer, first: cause, whom, what.
    assert re.search(
        r"GCS_LIST_DENIED: the serving identity cannot load gs://kfs-demo-models"
        r"\S* as nightly-stranger@kfs-demo\.iam\.gserviceaccount\.com: ",
        output,
    )
    assert "--kfs-existing is read-only: this test deploys" in output  # the deploying suites

    # The nightly outputs carry the right verdicts.
    report = json.loads((pytester.path / "nightly.json").read_text())
    verdicts = {model["name"]: model["verdict"] for model in report["models"]}
    assert verdicts == {"healthy": "loaded", "stuck": "failed"}
    stuck_record = next(m for m in report["models"] if m["name"] == "stuck")
    assert stuck_record["findings"][0]["code"] == "GCS_LIST_DENIED"
    assert "GCS_LIST_DENIED" in (pytester.path / "nightly.html").read_text()
    assert 'name="kfs_verdict" value="failed"' in (pytester.path / "nightly.xml").read_text()
    assert re.search(r"/stuck\s+failed", output)  # the terminal summary row

    time.sleep(0.5)
    entries = [json.loads(line) for line in audit_log.read_text().splitlines()[before:]]
    mine = [entry for entry in entries if entry["user"]["username"] == NIGHTLY_USER]
    assert mine, "the nightly identity made no request at all"
    # The start-up permission check asks SelfSubjectAccessReview: a question, never stored.
    reviews = [
        e for e in mine if e.get("objectRef", {}).get("resource") == "selfsubjectaccessreviews"
    ]
    assert reviews and all(e["verb"] == "create" for e in reviews)
    mine = [entry for entry in mine if entry not in reviews]
    verbs = {entry["verb"] for entry in mine}
    assert verbs <= {"get", "list", "watch"}, f"writes in read-only mode: {verbs}"
