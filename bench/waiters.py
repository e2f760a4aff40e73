"""The tools compared, each waiting for one InferenceService the way its users do.

Every tool runs concurrently on the same model and reaches the API server through its own
counting proxy; each records when it returned (time.monotonic is system-wide on Linux, so
subprocesses and threads share one clock).
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import ISVC, ROOT, Counted, sdk_python

from pytest_kfs.deploy import ModelHandle, ModelNotLoaded
from pytest_kfs.kube.cluster import connect_context
from pytest_kfs.local.assets import cache_dir


@dataclass
class Waiter:
    """One tool waiting: ready once it is watching/polling, finished when it returned."""

    tool: str
    path: Counted
    waiting: threading.Event = field(default_factory=threading.Event)
    finished: float | None = None
    outcome: str = ""
    process: subprocess.Popen[str] | None = None

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.finished is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.process is not None and self.process.poll() is None:
            self.process.kill()


def _thread(target) -> None:
    threading.Thread(target=target, daemon=True).start()


def pytest_kfs(path: Counted, namespace: str, name: str, timeout: float) -> Waiter:
    """pytest-kfs: ModelHandle.wait_loaded, as kfs_model calls it (diagnosis included)."""
    waiter = Waiter("pytest-kfs", path)

    def run() -> None:
        cluster = connect_context("bench", path.kubeconfig)
        handle = ModelHandle(cluster, namespace, name, {"spec": {"predictor": {}}}, timeout)
        _thread(lambda: _once_watching(waiter, streams=3))
        try:
            handle.wait_loaded(timeout)
            waiter.outcome = "loaded"
        except ModelNotLoaded as failure:
            codes = [finding.code for finding in failure.findings]
            waiter.outcome = f"failed: {codes[0] if codes else failure.result.reason}"
        waiter.finished = time.monotonic()

    _thread(run)
    return waiter


def polling_loop(
    path: Counted, namespace: str, name: str, timeout: float, interval: float = 1.0
) -> Waiter:
    """A plain loop: GET the InferenceService every `interval`, until Ready=True."""
    waiter = Waiter(f"polling loop ({interval:g}s)", path)

    def run() -> None:
        cluster = connect_context("bench", path.kubeconfig)
        waiter.waiting.set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            obj = cluster.custom.get_namespaced_custom_object(
                ISVC[0], ISVC[1], namespace, ISVC[2], name
            )
            conditions = (obj.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                waiter.outcome = "ready"
                break
            time.sleep(interval)
        else:
            waiter.outcome = "timeout"
        waiter.finished = time.monotonic()

    _thread(run)
    return waiter


def kserve_sdk(
    path: Counted, namespace: str, name: str, timeout: float, mode: str = "10"
) -> Waiter:
    """KServeClient.wait_isvc_ready: polling every `mode` seconds (10 is its default), or
    its watch=True mode."""
    label = (
        "KServe SDK watch=True"
        if mode == "watch"
        else f"KServe SDK wait_isvc_ready (poll {mode}s{', default' if mode == '10' else ''})"
    )
    waiter = Waiter(label, path)
    waiter.process = subprocess.Popen(
        [
            sdk_python(),
            str(ROOT / "bench" / "sdk_waiter.py"),
            str(path.kubeconfig),
            namespace,
            name,
            mode,
            str(timeout),
        ],
        stdout=subprocess.PIPE,
        stderr=path.kubeconfig.with_suffix(".stderr").open("w"),
        text=True,
    )

    def read() -> None:
        assert waiter.process is not None and waiter.process.stdout is not None
        for line in waiter.process.stdout:
            parts = line.split()
            if parts[:1] == ["WAITING"]:
                waiter.waiting.set()
            elif parts[:1] == ["DONE"]:
                waiter.outcome = parts[2]
                waiter.finished = float(parts[1])

    _thread(read)
    return waiter


def kubectl_wait(path: Counted, namespace: str, name: str, timeout: float) -> Waiter:
    """`kubectl wait --for=condition=Ready inferenceservice/NAME`."""
    waiter = Waiter("kubectl wait --for=condition=Ready", path)
    waiter.process = subprocess.Popen(
        [
            str(cache_dir() / "kubectl"),
            f"--kubeconfig={path.kubeconfig}",
            "-n",
            namespace,
            "wait",
            "--for=condition=Ready",
            f"inferenceservice/{name}",
            f"--timeout={int(timeout)}s",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )

    def watch_exit() -> None:
        assert waiter.process is not None
        code = waiter.process.wait()
        waiter.finished = time.monotonic()
        waiter.outcome = "ready" if code == 0 else "timeout"

    _thread(watch_exit)
    _thread(lambda: _once_watching(waiter, streams=1))
    return waiter


def _once_watching(waiter: Waiter, streams: int) -> None:
    """Mark a watching tool as waiting once its watch requests went out (set-up is not
    counted against it, as for the pollers)."""
    while sum(r.watch for r in waiter.path.proxy.recorded) < streams and waiter.finished is None:
        time.sleep(0.01)
    waiter.waiting.set()


def kubectl_available() -> bool:
    """Whether the benchmark's kubectl has been built."""
    return Path(cache_dir() / "kubectl").is_file()
