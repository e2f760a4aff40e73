"""--kfs-existing over a fleet: one LIST per kind, every stuck model diagnosed, no write.

A bare control plane (KServe's CRDs, no controller, no kubelet) holds a fleet written as
KServe and the kubelet leave it (pytest_kfs.testing.fleetworld); the local Google Cloud holds its
buckets, keys and grants. The real suite runs through a counting proxy in front of the API
server, so the requests it makes are counted, not estimated.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from pytest_kfs.local.embedded import start_embedded
from pytest_kfs.local.gcp.admin import GcpAdmin
from pytest_kfs.local.gcp.server import LocalGcp
from pytest_kfs.local.gcp.world import GcpWorld
from pytest_kfs.testing import fleetworld
from pytest_kfs.testing.faultproxy import FaultProxy

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group("fleet")  # one control plane for the module's tests
OPERATOR = f"fleet-operator@{fleetworld.PROJECT}.iam.gserviceaccount.com"
MODELS, NAMESPACES, PRINCIPALS = 120, 12, 6  # 6 stuck: one of each cause


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """The fleet, its control plane and local Google Cloud, and the operator's key."""
    work = tmp_path_factory.mktemp("fleet")
    gcp = LocalGcp(GcpWorld()).start()
    try:
        with start_embedded(kserve=False) as embedded:
            admin = GcpAdmin(gcp)
            models = fleetworld.plan(MODELS, NAMESPACES, PRINCIPALS)
            keys = fleetworld.arrange_google(admin, models, PRINCIPALS)
            fleetworld.write(embedded.api_client(), models, keys)
            admin.ensure_service_account(OPERATOR)
            for role in ("roles/storage.admin", "roles/iam.securityReviewer"):
                admin.grant_project(fleetworld.PROJECT, role, f"serviceAccount:{OPERATOR}")
            operator_key = work / "operator.json"
            operator_key.write_text(json.dumps(admin.create_key(OPERATOR)))
            yield embedded, gcp, models, operator_key
    finally:
        gcp.stop()


def _run(pytester, monkeypatch, fleet, *selection, context="fleet"):
    """The nightly suite over `selection`, through a fresh counting proxy."""
    embedded, gcp, _, operator_key = fleet
    proxy = FaultProxy(embedded.plane.server, embedded.plane.client_ssl_context())
    proxy.start()
    try:
        kubeconfig = proxy.write_kubeconfig(pytester.path / f"{context}.kubeconfig", context)
        for name, value in (
            ("GOOGLE_APPLICATION_CREDENTIALS", str(operator_key)),
            ("KFS_GCS_ENDPOINT", gcp.endpoint),
            ("KFS_IAM_ENDPOINT", gcp.endpoint),
            ("KFS_IAM_CREDENTIALS_ENDPOINT", gcp.endpoint),
        ):
            monkeypatch.setenv(name, value)
        result = pytester.runpytest_subprocess(
            f"--kfs-cluster={context}",
            f"--kfs-kubeconfig={kubeconfig}",
            str(ROOT / "suites" / "test_existing.py"),
            "-p",
            "no:cacheprovider",
            "--kfs-report=fleet.json",
            "-rs",  # a skip says why in the summary
            *selection,
            timeout=300,
        )
        return result, proxy.recorded
    finally:
        proxy.stop()


def _reads(recorded):
    """LISTs and GETs, by kind of request, leaving out the stuck models' log reads."""
    kinds = Counter()
    for request in recorded:
        path = request.path.split("?")[0]
        if request.method == "GET" and not path.endswith("/log"):
            kinds[re.sub(r"/namespaces/[^/]+", "/namespaces/*", path)] += 1
    return kinds


def _failures(models):
    """Failed tests: the status check of each stuck model, and the bucket check of each whose
    serving identity cannot load it (all but the OOM-killed, whose bucket is readable)."""
    stuck = list(fleetworld.stuck(models))
    return len(stuck) + sum(1 for m in stuck if m.expected != "OOM_KILLED")


def test_a_fleet_is_read_once_and_every_stuck_model_diagnosed(pytester, monkeypatch, fleet):
    models = fleet[2]
    result, recorded = _run(pytester, monkeypatch, fleet, "--kfs-existing=all")
    stuck = {(m.namespace, m.name): m.expected for m in fleetworld.stuck(models)}
    assert len(stuck) == 6 and len(set(stuck.values())) == 5
    report = json.loads((pytester.path / "fleet.json").read_text())["models"]
    found = {
        (r["namespace"], r["name"]): r["findings"][0]["code"] if r["findings"] else None
        for r in report
    }
    assert len(found) == MODELS
    assert {key: code for key, code in found.items() if code} == stuck, result.stdout.str()[-3000:]
    skips = [line for line in result.outlines if line.startswith("SKIPPED")]
    assert skips == [], "every model's bucket access is checked"
    result.assert_outcomes(passed=2 * MODELS - _failures(models), failed=_failures(models))
    # Nothing written: the only POSTs are the start-up permission check's access reviews.
    writes = [r for r in recorded if r.method != "GET"]
    assert {r.path.split("?")[0] for r in writes} <= {
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    }, writes
    # The summary groups the fleet: how many are healthy, how many stuck and why.
    output = result.stdout.str()
    assert f"{MODELS} models: {MODELS - 6} healthy, 6 not loaded" in output
    assert "1 model: SERVICE_ACCOUNT_MISSING" in output
    shown = re.search(
        r"summary groups what it found.*?```text\n(.+?)\n```",
        (ROOT / "README.md").read_text(),
        re.S,
    )
    for line in shown[1].splitlines():  # the README's example is this run's output
        assert line in output.splitlines(), line

    # Two namespaces of the twelve (a label selector) cost the same reads: one per kind.
    chosen = [m for m in models if m.namespace in ("team-003", "team-007")]
    subset, sub_recorded = _run(
        pytester,
        monkeypatch,
        fleet,
        "--kfs-existing=all",
        "--kfs-existing-selector=team in (team-003,team-007)",
    )
    subset.assert_outcomes(passed=2 * len(chosen) - _failures(chosen), failed=_failures(chosen))
    assert _reads(sub_recorded) == _reads(recorded)
    # Each kind once (InferenceServices, pods, events, service accounts, secrets, runtimes,
    # nodes, KServe's ConfigMap, discovery): 11 reads for 120 models.
    assert set(_reads(recorded).values()) == {1} and len(_reads(recorded)) <= 12, _reads(recorded)


TEAM_READER = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "rules": [
        {
            "apiGroups": ["serving.kserve.io"],
            "resources": ["inferenceservices", "servingruntimes"],
            "verbs": ["get", "list", "watch"],
        },
        {
            "apiGroups": [""],
            "resources": ["pods", "pods/log", "events", "serviceaccounts", "secrets"],
            "verbs": ["get", "list", "watch"],
        },
    ],
}


def test_a_team_with_namespaced_rights_verifies_its_namespaces(pytester, monkeypatch, fleet):
    """No ClusterRole: a Role in each of the team's namespaces. The lists are made per
    namespace, and nothing outside them is read or reported."""
    from kubernetes import client

    from pytest_kfs.kube.cluster import connect_context

    from .helpers import service_account_kubeconfig

    embedded, _, models, _ = fleet
    admin = connect_context(embedded.context, embedded.kubeconfig)
    teams = ("team-003", "team-007")
    admin.core.create_namespaced_service_account("team-003", {"metadata": {"name": "nightly"}})
    rbac = client.RbacAuthorizationV1Api(admin.api_client)
    for team in teams:
        rbac.create_namespaced_role(team, {**TEAM_READER, "metadata": {"name": "nightly"}})
        rbac.create_namespaced_role_binding(
            team,
            {
                "metadata": {"name": "nightly"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "nightly",
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": "nightly", "namespace": "team-003"}
                ],
            },
        )
    kubeconfig = service_account_kubeconfig(
        admin, "team-003", "nightly", pytester.path / "team.kubeconfig", "team"
    )
    _, gcp, _, operator_key = fleet
    for name, value in (
        ("GOOGLE_APPLICATION_CREDENTIALS", str(operator_key)),
        ("KFS_GCS_ENDPOINT", gcp.endpoint),
        ("KFS_IAM_ENDPOINT", gcp.endpoint),
        ("KFS_IAM_CREDENTIALS_ENDPOINT", gcp.endpoint),
    ):
        monkeypatch.setenv(name, value)
    result = pytester.runpytest_subprocess(
        "--kfs-cluster=team",
        f"--kfs-kubeconfig={kubeconfig}",
        "--kfs-existing=" + ",".join(teams),
        str(ROOT / "suites" / "test_existing.py"),
        "-p",
        "no:cacheprovider",
        "--kfs-report=team.json",
        "-rs",
        timeout=300,
    )
    chosen = [m for m in models if m.namespace in teams]
    # The model whose key secret is gone would act anonymously, unless its nodes are GKE's:
    # nodes are not the team's to list, so that check cannot be made (a skip, with the reason).
    anonymous = sum(1 for m in chosen if m.expected == "SECRET_MISSING")
    result.assert_outcomes(
        passed=2 * len(chosen) - _failures(chosen),
        failed=_failures(chosen) - anonymous,
        skipped=anonymous,
    )
    assert "nodes cannot be listed" in result.stdout.str() or not anonymous
    report = json.loads((pytester.path / "team.json").read_text())["models"]
    assert {r["namespace"] for r in report} == set(teams)
    found = {(r["namespace"], r["name"]): r["findings"][0]["code"] for r in report if r["findings"]}
    assert found == {(m.namespace, m.name): m.expected for m in fleetworld.stuck(chosen)}


def test_one_nightly_per_cluster_merges_into_one_report(pytester, monkeypatch, fleet):
    """A CI matrix over contexts: each run writes its report; `merge` makes one of them in
    which every model says its cluster, and the causes are grouped per cluster."""
    import os
    import shlex
    import subprocess
    import sys

    for context, team in (("prod-eu", "team-003"), ("prod-us", "team-007")):
        result, _ = _run(
            pytester,
            monkeypatch,
            fleet,
            f"--kfs-existing={team}",
            f"--kfs-report={context}.json",
            context=context,
        )
        assert result.ret == 1
    # The README's command, as written there.
    command = re.search(r"^python -m pytest_kfs merge .+$", (ROOT / "README.md").read_text(), re.M)[
        0
    ]
    merged = subprocess.run(
        command.replace("python", shlex.quote(sys.executable), 1),
        shell=True,
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GITHUB_STEP_SUMMARY": "all.md"},
    )
    assert merged.returncode == 1, merged.stderr  # some models are not loaded
    lines = merged.stdout.splitlines()
    assert lines[0] == "20 models: 16 healthy, 4 not loaded"
    assert (
        "1 model on cluster prod-us: SERVICE_ACCOUNT_MISSING — fix: kubectl -n team-007 "
        "create serviceaccount gone-account" in lines
    )
    assert any(line.startswith("prod-eu:team-003/model-0008  waiting") for line in lines)
    document = json.loads((pytester.path / "all.json").read_text())
    assert document["cluster"] == {"contexts": ["prod-eu", "prod-us"]}
    assert {(r["cluster"], r["namespace"]) for r in document["models"]} == {
        ("prod-eu", "team-003"),
        ("prod-us", "team-007"),
    }
    assert "prod-us:team-007/model-0006" in (pytester.path / "all.html").read_text()
    assert "` prod-eu:team-003/model-0003 `" in (pytester.path / "all.md").read_text()


def test_many_waits_in_one_namespace_share_three_watches(fleet, tmp_path):
    """Forty models waited on at once, in one namespace and one process: one watch each on
    InferenceServices, pods and events, whatever the number of waits."""
    from concurrent.futures import ThreadPoolExecutor

    from pytest_kfs.kserve import api
    from pytest_kfs.kserve import manifests as isvc
    from pytest_kfs.kube.cluster import connect_context
    from pytest_kfs.wait import wait_for_model

    embedded = fleet[0]
    admin = connect_context(embedded.context, embedded.kubeconfig)
    admin.core.create_namespace({"metadata": {"name": "waits"}})
    names = [f"model-{index:02d}" for index in range(40)]
    for name in names:
        admin.custom.create_namespaced_custom_object(
            api.GROUP,
            api.VERSION,
            "waits",
            api.PLURAL,
            isvc.manifest(name, model_format="sklearn", storage_uri=f"gs://b/{name}"),
        )
    proxy = FaultProxy(embedded.plane.server, embedded.plane.client_ssl_context())
    proxy.start()
    try:
        cluster = connect_context("waits", proxy.write_kubeconfig(tmp_path / "k", "waits"))
        with ThreadPoolExecutor(len(names)) as pool:
            waits = [pool.submit(wait_for_model, cluster, "waits", name, 60) for name in names]
            time.sleep(2)  # every wait is watching
            loaded = fleetworld._status("Loaded", "Loaded", "UpToDate", True)
            for name in names:
                admin.custom.patch_namespaced_custom_object_status(
                    api.GROUP, api.VERSION, "waits", api.PLURAL, name, {"status": loaded}
                )
            results = [wait.result() for wait in waits]
        recorded = proxy.recorded
    finally:
        proxy.stop()
    assert [result.verdict.value for result in results] == ["loaded"] * len(names)
    watches = Counter(re.sub(r"\?.*", "", r.path) for r in recorded if r.watch)
    assert watches == {
        "/apis/serving.kserve.io/v1beta1/namespaces/waits/inferenceservices": 1,
        "/api/v1/namespaces/waits/pods": 1,
        "/api/v1/namespaces/waits/events": 1,
    }, watches
    # Each model's timeline holds its own state, not its neighbours'.
    assert all(
        entry.state is None or entry.state.name == result.isvc["metadata"]["name"]
        for result in results
        for entry in result.timeline
    )
