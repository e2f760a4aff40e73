"""Record what KServe's own controller writes for each rehearsal scenario, per release.

    python docs/kserve_statuses.py [--kserve=v0.20.0,v0.13.1] [--seconds=40] \
        > docs/kserve-statuses.md

Starts the embedded cluster with each release's manager, deploys every scenario at once (one
namespace each, plus two updates of a healthy model), and writes down every distinct status the
controller writes: the model states, the Ready/PredictorReady conditions with their reasons,
lastFailureInfo, and the Warning events of the InferenceService's objects. Nothing is typed by
hand: the Markdown is this script's output.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pytest_kfs.kserve import api
from pytest_kfs.kube.cluster import Cluster, connect_context
from pytest_kfs.local.embedded import start_embedded
from pytest_kfs.local.gcp.admin import GcpAdmin
from pytest_kfs.local.kserve.releases import RELEASES, release
from pytest_kfs.local.scenarios import SAMPLE_URI, SCENARIOS

UPDATES = {
    "healthy, then updated to an unreadable path": "gs://kfserving-examples/nowhere",
    "healthy, then updated to a new readable path": SAMPLE_URI + "/",
}


@dataclass
class Observation:
    """The distinct statuses one InferenceService went through, and its Warning events."""

    title: str
    statuses: list[tuple[float, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def describe(status: dict[str, Any]) -> str:
    """One line: states, Ready and PredictorReady with reasons, lastFailureInfo."""
    model = status.get("modelStatus") or {}
    states = model.get("states") or {}
    active = states.get("activeModelState", "-") or '""'
    text = (
        f"`{active} / {states.get('targetModelState', '-')} / {model.get('transitionStatus', '-')}`"
    )
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Ready", "PredictorReady"):
            reason = f" ({condition['reason']})" if condition.get("reason") else ""
            text += f", {condition['type']}={condition.get('status')}{reason}"
    failure = model.get("lastFailureInfo")
    if failure:
        text += (
            f", lastFailureInfo: reason={failure.get('reason')}, "
            f"exitCode={failure.get('exitCode', '-')}, "
            f"message={'(set)' if failure.get('message') else '(empty)'}"
        )
    return text


def _status(cluster: Cluster, namespace: str) -> dict[str, Any]:
    obj = cluster.custom.get_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.PLURAL, "model"
    )
    return dict(obj.get("status") or {})


def observe(
    cluster: Cluster,
    gcp: GcpAdmin,
    index: int,
    scenario_name: str,
    title: str,
    update_to: str | None,
    seconds: float,
    into: list[Observation],
) -> None:
    """Deploy one scenario in its own namespace and record its statuses for `seconds`."""
    namespace = f"obs-{index}"
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    while not cluster.core.list_namespaced_service_account(
        namespace, field_selector="metadata.name=default"
    ).items:
        time.sleep(0.1)
    plan = SCENARIOS[scenario_name].arrange_namespace(cluster.core, namespace, gcp)
    cluster.custom.create_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.PLURAL, plan.but(name="model").resolved().manifest()
    )
    seen = Observation(title)
    into.append(seen)
    started = time.monotonic()
    updated = update_to is None
    while time.monotonic() - started < seconds:
        line = describe(_status(cluster, namespace))
        if not seen.statuses or seen.statuses[-1][1] != line:
            seen.statuses.append((round(time.monotonic() - started, 1), line))
        if not updated and "Loaded / Loaded / UpToDate" in line:
            cluster.custom.patch_namespaced_custom_object(
                api.GROUP,
                api.VERSION,
                namespace,
                api.PLURAL,
                "model",
                {"spec": {"predictor": {"model": {"storageUri": update_to}}}},
            )
            seen.statuses.append((round(time.monotonic() - started, 1), "*(spec updated)*"))
            updated = True
        time.sleep(0.1)
    for event in cluster.core.list_namespaced_event(namespace).items:
        if event.type == "Warning":
            text = f"{event.reason} on {event.involved_object.kind}: {event.message or ''}"
            seen.warnings.append(text if len(text) < 300 else text[:297] + "...")


def run(version: str, seconds: float) -> list[Observation]:
    """Every scenario and both updates on one release, observed concurrently."""
    found: list[Observation] = []
    with start_embedded(kserve_version=version) as embedded:
        cluster = connect_context(embedded.context, embedded.kubeconfig)
        gcp = GcpAdmin(embedded.gcp)
        work = [(name, f"{name}: {SCENARIOS[name].summary}", None) for name in SCENARIOS]
        work += [("healthy", title, target) for title, target in UPDATES.items()]
        threads = [
            threading.Thread(
                target=observe, args=(cluster, gcp, index, name, title, target, seconds, found)
            )
            for index, (name, title, target) in enumerate(work)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    order = [title for _, title, _ in work]
    return sorted(found, key=lambda seen: order.index(seen.title))


def markdown(results: dict[str, list[Observation]], seconds: float) -> str:
    """The table of what each release shows."""
    lines = [
        "# What KServe's own controller writes, per release and scenario",
        "",
        "Generated by `python docs/kserve_statuses.py` from real runs: each release's own "
        "manager (Standard mode, its CRDs, ConfigMap and runtimes) in the embedded "
        f"cluster, every status it wrote within {seconds:g} s of the deploy, in order. "
        "`active / target / transition` are `kubectl describe`'s *Active Model State*, "
        '*Target Model State* and *Transition Status*; `""` is an empty value.',
        "",
    ]
    for version, observations in results.items():
        lines += [f"## KServe {version} ({release(version).standard_mode} mode)", ""]
        for seen in observations:
            lines += [f"### {seen.title}", "", "| after | status |", "|---|---|"]
            lines += [f"| {at:g} s | {text} |" for at, text in seen.statuses]
            lines += (
                [""]
                + [f"- Warning: {text}".replace("\n", " ") for text in sorted(set(seen.warnings))]
                + [""]
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Observe the releases named with --kserve= (default: all) and print Markdown."""
    versions = list(RELEASES)
    seconds = 40.0
    for arg in argv:
        if arg.startswith("--kserve="):
            versions = [release(v).version for v in arg.split("=", 1)[1].split(",")]
        elif arg.startswith("--seconds="):
            seconds = float(arg.split("=", 1)[1])
    results = {version: run(version, seconds) for version in versions}
    print(markdown(results, seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
