"""Time to verdict (healthy and broken) and API cost per wait, every tool on the same model.

Healthy: a bare control plane with KServe's CRDs and no controller; the benchmark itself
writes the status a KServe controller writes (Pending, then Loaded with Ready=True), so the
moment of the change is known to the microsecond. Broken: the full embedded cluster with the
seed scenario (permission denied), measured from the storage-initializer's first failure.
"""

from __future__ import annotations

import copy
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import waiters
from common import ISVC, counted, summary
from kubernetes import watch

from pytest_kfs.deploy import Deployer
from pytest_kfs.kserve import manifests as isvc
from pytest_kfs.kube.cluster import connect_context
from pytest_kfs.local.embedded import start_embedded
from pytest_kfs.local.gcp.admin import GcpAdmin
from pytest_kfs.local.scenarios import scenario

PENDING = {
    "observedGeneration": 1,
    "conditions": [
        {"type": t, "status": "False", "reason": "Initializing"}
        for t in ("IngressReady", "PredictorReady", "Ready")
    ],
    "modelStatus": {
        "states": {"activeModelState": "Pending", "targetModelState": "Pending"},
        "transitionStatus": "InProgress",
        "copies": {"failedCopies": 0},
    },
}
LOADED = {
    "observedGeneration": 1,
    "url": "http://model.bench.example.com",
    "conditions": [
        {"type": t, "status": "True"} for t in ("IngressReady", "PredictorReady", "Ready")
    ],
    "modelStatus": {
        "states": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
        "transitionStatus": "UpToDate",
        "copies": {"failedCopies": 0, "totalCopies": 1},
    },
}


def _tools(sdk: bool) -> list[tuple[str, Any, dict[str, Any]]]:
    tools: list[tuple[str, Any, dict[str, Any]]] = [
        ("pytest-kfs", waiters.pytest_kfs, {}),
        ("polling-1s", waiters.polling_loop, {"interval": 1.0}),
    ]
    if waiters.kubectl_available():
        tools.append(("kubectl", waiters.kubectl_wait, {}))
    if sdk:
        tools += [
            ("sdk-default", waiters.kserve_sdk, {"mode": "10"}),
            ("sdk-1s", waiters.kserve_sdk, {"mode": "1"}),
            ("sdk-watch", waiters.kserve_sdk, {"mode": "watch"}),
        ]
    return tools


def _write_status(cluster, namespace: str, name: str, status: dict[str, Any]) -> None:
    cluster.custom.patch_namespaced_custom_object_status(
        ISVC[0], ISVC[1], namespace, ISVC[2], name, {"status": copy.deepcopy(status)}
    )


def _trial(
    embedded, admin, directory: Path, index: int, hold: float, sdk: bool
) -> dict[str, dict[str, Any]]:
    """One model, every tool waiting on it; Loaded is written after `hold` seconds."""
    namespace, name = f"bench-{index}", "model"
    admin.core.create_namespace({"metadata": {"name": namespace}})
    admin.custom.create_namespaced_custom_object(
        ISVC[0],
        ISVC[1],
        namespace,
        ISVC[2],
        isvc.manifest(name, model_format="sklearn", storage_uri="gs://bench/model"),
    )
    _write_status(admin, namespace, name, PENDING)
    started = []
    for tool, launch, options in _tools(sdk):
        path = counted(embedded, directory, f"{tool}-{index}")
        started.append((tool, launch(path, namespace, name, hold + 60, **options)))
    for _, waiter in started:
        if not waiter.waiting.wait(60):
            raise SystemExit(f"{waiter.tool} did not start waiting within 60s")
    baseline = {tool: waiter.path.requests() for tool, waiter in started}
    time.sleep(hold)
    changed = time.monotonic()
    _write_status(admin, namespace, name, LOADED)
    results = {}
    for tool, waiter in started:
        waiter.join(hold + 90)
        errors = waiter.path.kubeconfig.with_suffix(".stderr")
        last_error = errors.read_text().strip().splitlines()[-1:] if errors.is_file() else []
        results[tool] = {
            "label": waiter.tool,
            "outcome": waiter.outcome or f"no answer ({' '.join(last_error) or 'silent'})",
            "after_change_s": None if waiter.finished is None else waiter.finished - changed,
            "requests_while_waiting": waiter.path.requests() - baseline[tool],
            "requests_total": waiter.path.requests(),
        }
        waiter.path.proxy.stop()
    admin.core.delete_namespace(namespace)
    return results


def healthy(trials: int, sdk: bool = True) -> dict[str, Any]:
    """Latency from the Loaded status write to each tool returning, over `trials` models."""
    with (
        tempfile.TemporaryDirectory(prefix="kfs-bench-") as work,
        start_embedded(kserve=False) as embedded,
    ):
        admin = connect_context(embedded.context, embedded.kubeconfig)
        # Spread the change over the pollers' 10 s period (golden-ratio steps), so no tool is
        # lucky or unlucky with its phase.
        runs = [
            _trial(
                embedded,
                admin,
                Path(work),
                index,
                hold=3.0 + (index * 0.618034 % 1.0) * 10.0,
                sdk=sdk,
            )
            for index in range(trials)
        ]
    tools = runs[0].keys()
    return {
        tool: {
            "label": runs[0][tool]["label"],
            "latency": summary(
                [r[tool]["after_change_s"] for r in runs if r[tool]["after_change_s"] is not None]
            ),
            "outcomes": sorted({r[tool]["outcome"] for r in runs}),
        }
        for tool in tools
    }


def api_cost(hold: float, sdk: bool = True) -> dict[str, Any]:
    """Requests each tool sends while a model stays Pending for `hold` seconds."""
    with (
        tempfile.TemporaryDirectory(prefix="kfs-bench-") as work,
        start_embedded(kserve=False) as embedded,
    ):
        admin = connect_context(embedded.context, embedded.kubeconfig)
        run = _trial(embedded, admin, Path(work), 100, hold=hold, sdk=sdk)
    return {
        tool: {
            "label": result["label"],
            "requests_total": result["requests_total"],
            "requests_while_waiting": result["requests_while_waiting"],
            "per_minute": result["requests_while_waiting"] * 60.0 / hold,
        }
        for tool, result in run.items()
    }


def _first_initializer_failure(
    cluster, namespace: str, seen: dict[str, float], stop: threading.Event
) -> None:
    """Note when an initializer first exits with an error: a pod watch, which (unlike a
    tight list loop) adds no load to the API server the tools are measured against."""
    stream = watch.Watch()
    for event in stream.stream(cluster.core.list_namespaced_pod, namespace, timeout_seconds=120):
        for status in event["object"].status.init_container_statuses or []:
            terminated = status.state.terminated if status.state else None
            if terminated and terminated.exit_code:
                seen.setdefault("at", time.monotonic())
        if stop.is_set() or "at" in seen:
            stream.stop()


def broken(peer_timeout: float, sdk: bool = True) -> dict[str, Any]:
    """The seed scenario: from the first initializer failure to each tool's answer."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="kfs-bench-") as work, start_embedded() as embedded:
        admin = connect_context(embedded.context, embedded.kubeconfig)
        gcp = GcpAdmin(embedded.gcp)
        for kfs_timeout in (60.0, 600.0):
            namespace = f"broken-{int(kfs_timeout)}"
            admin.core.create_namespace({"metadata": {"name": namespace}})
            plan = scenario("gcs-permission-denied").arrange_namespace(admin.core, namespace, gcp)
            seen: dict[str, float] = {}
            stop = threading.Event()
            threading.Thread(
                target=_first_initializer_failure, args=(admin, namespace, seen, stop), daemon=True
            ).start()
            Deployer(admin, namespace, kfs_timeout)(plan.but(name="model"))
            # Deployed, then waited on, as kfs_model does (kubectl and the SDK need the object).
            launched = [
                (
                    "pytest-kfs",
                    waiters.pytest_kfs(
                        counted(embedded, Path(work), f"kfs-{namespace}"),
                        namespace,
                        "model",
                        kfs_timeout,
                    ),
                )
            ]
            if kfs_timeout == 60.0:  # the peers only once: they wait out their timeout
                for tool, launch, options in _tools(sdk)[1:]:
                    path = counted(embedded, Path(work), f"{tool}-{namespace}")
                    launched.append(
                        (tool, launch(path, namespace, "model", peer_timeout, **options))
                    )
            for tool, waiter in launched:
                waiter.join(peer_timeout + 60)
                key = f"{tool} (--kfs-timeout={kfs_timeout:g})" if tool == "pytest-kfs" else tool
                results[key] = {
                    "label": waiter.tool if tool != "pytest-kfs" else key,
                    "outcome": waiter.outcome or "no answer",
                    "after_first_failure_s": None
                    if waiter.finished is None or "at" not in seen
                    else waiter.finished - seen["at"],
                }
                waiter.path.proxy.stop()
            stop.set()
    return results
