"""The embedded cluster's cost with KServe's own manager: start-up time and memory, per release,
against the control plane with KServe's CRDs alone (what the cluster cost before, minus the
controller that the manager replaced), and the time from create to Loaded for the sample."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from pytest_kfs.kserve import api
from pytest_kfs.kube.cluster import connect_context
from pytest_kfs.local.embedded import start_embedded
from pytest_kfs.local.gcp.admin import GcpAdmin
from pytest_kfs.local.kserve.releases import RELEASES
from pytest_kfs.local.scenarios import SCENARIOS


def _rss_mib(pid: int) -> float:
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def _time_to_loaded(embedded: Any) -> float:
    cluster = connect_context(embedded.context, embedded.kubeconfig)
    cluster.core.create_namespace({"metadata": {"name": "bench"}})
    while not cluster.core.list_namespaced_service_account(
        "bench", field_selector="metadata.name=default"
    ).items:
        time.sleep(0.05)
    plan = SCENARIOS["healthy"].arrange_namespace(cluster.core, "bench", GcpAdmin(embedded.gcp))
    started = time.monotonic()
    cluster.custom.create_namespaced_custom_object(
        api.GROUP, api.VERSION, "bench", api.PLURAL, plan.but(name="model").resolved().manifest()
    )
    while True:
        obj = cluster.custom.get_namespaced_custom_object(
            api.GROUP, api.VERSION, "bench", api.PLURAL, "model"
        )
        model = (obj.get("status") or {}).get("modelStatus") or {}
        if model.get("transitionStatus") == "UpToDate":
            return time.monotonic() - started
        if time.monotonic() - started > 120:
            raise SystemExit("the sample did not load within 120 s")
        time.sleep(0.05)


def _one(version: str | None) -> dict[str, float]:
    started = time.monotonic()
    with start_embedded(kserve=version is not None, kserve_version=version) as embedded:
        up = time.monotonic() - started
        plane = sum(_rss_mib(pid) for pid in embedded.plane.pids())
        manager = _rss_mib(embedded.kserve.process.pid) if embedded.kserve else 0.0
        loaded = _time_to_loaded(embedded) if version else 0.0
        manager_after = _rss_mib(embedded.kserve.process.pid) if embedded.kserve else 0.0
    return {
        "start_s": up,
        "control_plane_mib": plane,
        "manager_mib": max(manager, manager_after),
        "sample_loaded_s": loaded,
    }


def embedded(trials: int) -> dict[str, Any]:
    """Medians over `trials` starts: control plane alone, and with each release's manager."""
    results: dict[str, Any] = {}
    configurations = [
        ("control plane + KServe CRDs, no manager", None),
        *((f"KServe {version}", version) for version in RELEASES),
    ]
    for label, version in configurations:
        runs = [_one(version) for _ in range(trials)]
        results[label] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    return results
