"""Fleet-scale nightly: `pytest --kfs-existing=all` over N InferenceServices.

A bare control plane (KServe's release installed, its manager not running, no kubelet) holds a
fleet written by `pytest_kfs.testing.fleetworld` as KServe and the kubelet leave it: N models over
100 namespaces, 50 principals, one stuck in 20 with each cause in turn (the seed's
`Active Loaded / Target Pending / InProgress` among them). The suite runs through a counting
proxy; the local Google Cloud counts its requests; the process tree's memory is sampled.

Compared in the same run with what users do today: one `kubectl get isvc -A`, then per model
the serving identity (`kubectl get sa`, `kubectl get secret`) and a listing of the model's
prefix as that identity in a fresh process (what `gcloud storage ls` with the key does). That
script takes seconds per model, so it runs on a sample and is scaled to N (said in the table).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT
from processes import run_sampled

from pytest_kfs.local.assets import build_kubectl
from pytest_kfs.local.embedded import start_embedded
from pytest_kfs.local.gcp.admin import GcpAdmin
from pytest_kfs.local.gcp.server import LocalGcp
from pytest_kfs.local.gcp.world import GcpWorld
from pytest_kfs.testing import fleetworld
from pytest_kfs.testing.faultproxy import FaultProxy

NAMESPACES, PRINCIPALS = 100, 50
OPERATOR = f"fleet-operator@{fleetworld.PROJECT}.iam.gserviceaccount.com"
PEER_SAMPLE = 40

_LIST_AS = """
import json, sys
from google.cloud import storage
from google.oauth2 import service_account
from google.api_core.client_options import ClientOptions
key, endpoint, bucket, prefix = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
credentials = service_account.Credentials.from_service_account_info(key)
client = storage.Client(credentials=credentials, project=key["project_id"],
                        client_options=ClientOptions(api_endpoint=endpoint))
try:
    print(len(list(client.bucket(bucket).list_blobs(prefix=prefix, max_results=1))))
except Exception as error:
    print("denied:", type(error).__name__)
"""


def _nightly(
    proxy_kubeconfig: Path, gcp: LocalGcp, operator_key: Path, work: Path, workers: int
) -> tuple[float, dict[str, int], subprocess.CompletedProcess[str]]:
    env = {
        **_environ(),
        "GOOGLE_APPLICATION_CREDENTIALS": str(operator_key),
        "KFS_GCS_ENDPOINT": gcp.endpoint,
        "KFS_IAM_ENDPOINT": gcp.endpoint,
        "KFS_IAM_CREDENTIALS_ENDPOINT": gcp.endpoint,
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--kfs-cluster=fleet",
        f"--kfs-kubeconfig={proxy_kubeconfig}",
        "--kfs-existing=all",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--kfs-report={work / 'fleet.json'}",
        f"--kfs-html={work / 'fleet.html'}",
        str(ROOT / "suites" / "test_existing.py"),
    ]
    if workers > 1:
        command += ["-p", "xdist", "-n", str(workers)]
    return run_sampled(command, work, env=env)


def _environ() -> dict[str, str]:
    import os

    return {
        key: value for key, value in os.environ.items() if not key.startswith(("KFS_", "GOOGLE_"))
    }


def _right(report: Path, models: list[fleetworld.FleetModel]) -> tuple[int, int, list[str]]:
    found = {
        (r["namespace"], r["name"]): (r["findings"][0]["code"] if r["findings"] else None)
        for r in json.loads(report.read_text())["models"]
    }
    stuck = list(fleetworld.stuck(models))
    wrong = [
        f"{m.namespace}/{m.name}: expected {m.expected}, got {found.get((m.namespace, m.name))}"
        for m in stuck
        if found.get((m.namespace, m.name)) != m.expected
    ]
    return len(stuck) - len(wrong), len(stuck), wrong


def _peer(kubectl: Path, kubeconfig: Path, gcp: LocalGcp, sample: int) -> dict[str, Any]:
    """The script users run today, on the first `sample` models."""

    def run(*args: str) -> str:
        return subprocess.run(
            [str(kubectl), f"--kubeconfig={kubeconfig}", *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    started = time.monotonic()
    items = json.loads(run("get", "isvc", "-A", "-o", "json"))["items"]
    listed = time.monotonic() - started
    per_model = []
    denied = 0
    for item in items[:sample]:
        began = time.monotonic()
        namespace = item["metadata"]["namespace"]
        account = item["spec"]["predictor"].get("serviceAccountName") or "default"
        try:
            sa = json.loads(run("get", "sa", account, "-n", namespace, "-o", "json"))
            secret = json.loads(
                run("get", "secret", sa["secrets"][0]["name"], "-n", namespace, "-o", "json")
            )
        except subprocess.CalledProcessError:
            denied += 1
            per_model.append(time.monotonic() - began)
            continue
        key = base64.b64decode(secret["data"][fleetworld.KEY_FILE]).decode()
        bucket, _, prefix = (
            item["spec"]["predictor"]["model"]["storageUri"].removeprefix("gs://").partition("/")
        )
        out = subprocess.run(
            [sys.executable, "-c", _LIST_AS, key, gcp.endpoint, bucket, prefix + "/"],
            capture_output=True,
            text=True,
        ).stdout
        denied += out.startswith("denied")
        per_model.append(time.monotonic() - began)
    return {
        "list_s": listed,
        "per_model_s": sum(per_model) / len(per_model),
        "sample": len(per_model),
        "not_readable_in_sample": denied,
    }


def one(models: int, workers_list: list[int], peer: bool) -> dict[str, Any]:
    """Write a fleet of `models`, run the nightly with each worker count (and the peer)."""
    with (
        tempfile.TemporaryDirectory(prefix="kfs-bench-fleet-") as tmp,
        start_embedded(kserve=False) as embedded,
    ):
        work = Path(tmp)
        gcp = LocalGcp(GcpWorld()).start()
        try:
            admin = GcpAdmin(gcp)
            fleet = fleetworld.plan(models, NAMESPACES, PRINCIPALS)
            began = time.monotonic()
            keys = fleetworld.arrange_google(admin, fleet, PRINCIPALS)
            fleetworld.write(embedded.api_client(), fleet, keys)
            written = time.monotonic() - began
            admin.ensure_service_account(OPERATOR)
            for role in ("roles/storage.admin", "roles/iam.securityReviewer"):
                admin.grant_project(fleetworld.PROJECT, role, f"serviceAccount:{OPERATOR}")
            operator_key = work / "operator.json"
            operator_key.write_text(json.dumps(admin.create_key(OPERATOR)))
            runs = []
            for workers in workers_list:
                proxy = FaultProxy(embedded.plane.server, embedded.plane.client_ssl_context())
                proxy.start()
                google_before = len(gcp.access_log)
                try:
                    kubeconfig = proxy.write_kubeconfig(work / "fleet.kubeconfig", "fleet")
                    wall, peaks, finished = _nightly(kubeconfig, gcp, operator_key, work, workers)
                    recorded = proxy.recorded
                finally:
                    proxy.stop()
                if finished.returncode not in (0, 1):
                    raise SystemExit(f"fleet run failed:\n{finished.stdout[-3000:]}")
                right, stuck, wrong = _right(work / "fleet.json", fleet)
                writes = [
                    r
                    for r in recorded
                    if r.method != "GET" and "selfsubjectaccessreviews" not in r.path
                ]
                logs = sum(1 for r in recorded if r.path.split("?")[0].endswith("/log"))
                runs.append(
                    {
                        "workers": workers,
                        "wall_s": wall,
                        "api_requests": len(recorded),
                        "api_log_reads": logs,
                        "api_writes": len(writes),
                        "google_requests": len(gcp.access_log) - google_before,
                        "peak_rss_mib": {
                            kind: round(value / 2**20) for kind, value in peaks.items()
                        },
                        "stuck": stuck,
                        "stuck_right": right,
                        "wrong": wrong[:10],
                        "summary": [
                            line
                            for line in finished.stdout.splitlines()
                            if line.startswith(f"{models} models:")
                        ][:1],
                        "html_kib": round((work / "fleet.html").stat().st_size / 1024),
                    }
                )
                print(
                    f"  fleet: {models} models, -n {workers}: {wall:.1f}s, "
                    f"{len(recorded)} API requests, {right}/{stuck} stuck right",
                    flush=True,
                )
            peer_row = None
            if peer:
                peer_row = _peer(build_kubectl(), embedded.kubeconfig, gcp, PEER_SAMPLE)
                peer_row["estimated_total_s"] = (
                    peer_row["list_s"] + peer_row["per_model_s"] * models
                )
        finally:
            gcp.stop()
    return {
        "models": models,
        "namespaces": NAMESPACES,
        "principals": PRINCIPALS,
        "write_s": written,
        "runs": runs,
        "peer": peer_row,
    }


def fleet(sizes: list[int], workers: list[int]) -> list[dict[str, Any]]:
    """Each size with each worker count; the peer script on the first size only."""
    return [one(size, workers, peer=index == 0) for index, size in enumerate(sizes)]


def concurrent_waits(models: int) -> dict[str, Any]:
    """`models` waits at once in one process: all in one namespace (they share the namespace's
    three watches), then each in its own namespace (three watches each). Streams and requests
    counted by the proxy, from the first wait to the last verdict."""
    from concurrent.futures import ThreadPoolExecutor

    from pytest_kfs.kserve import api
    from pytest_kfs.kserve import manifests as isvc
    from pytest_kfs.kube.cluster import connect_context
    from pytest_kfs.wait import wait_for_model

    rows = {}
    with (
        tempfile.TemporaryDirectory(prefix="kfs-bench-waits-") as tmp,
        start_embedded(kserve=False) as embedded,
    ):
        admin = connect_context(embedded.context, embedded.kubeconfig)
        loaded = fleetworld._status("Loaded", "Loaded", "UpToDate", True)
        for layout in ("one namespace", "a namespace each"):
            spots = [
                (
                    "waits" if layout == "one namespace" else f"waits-{index:03d}",
                    f"model-{index:03d}",
                )
                for index in range(models)
            ]
            for namespace in sorted({namespace for namespace, _ in spots}):
                admin.core.create_namespace({"metadata": {"name": namespace}})
            for namespace, name in spots:
                admin.custom.create_namespaced_custom_object(
                    api.GROUP,
                    api.VERSION,
                    namespace,
                    api.PLURAL,
                    isvc.manifest(name, model_format="sklearn", storage_uri=f"gs://b/{name}"),
                )
            proxy = FaultProxy(embedded.plane.server, embedded.plane.client_ssl_context())
            proxy.start()
            try:
                cluster = connect_context(
                    "waits", proxy.write_kubeconfig(Path(tmp) / f"{len(rows)}.kubeconfig", "waits")
                )
                proxy.reset_counts()
                began = time.monotonic()
                with ThreadPoolExecutor(models) as pool:
                    waits = [
                        pool.submit(wait_for_model, cluster, namespace, name, 120)
                        for namespace, name in spots
                    ]
                    time.sleep(3)
                    for namespace, name in spots:
                        admin.custom.patch_namespaced_custom_object_status(
                            api.GROUP, api.VERSION, namespace, api.PLURAL, name, {"status": loaded}
                        )
                    verdicts = [wait.result().verdict.value for wait in waits]
                wall = time.monotonic() - began
                recorded = proxy.recorded
            finally:
                proxy.stop()
            rows[layout] = {
                "models": models,
                "watches": sum(1 for r in recorded if r.watch),
                "requests": len(recorded),
                "wall_s": wall,
                "loaded": verdicts.count("loaded"),
            }
            print(
                f"  waits: {models} at once, {layout}: {rows[layout]['watches']} watches, "
                f"{rows[layout]['requests']} requests",
                flush=True,
            )
    return rows
