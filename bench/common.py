"""Shared by the benchmarks: clusters, kubeconfigs behind counting proxies, statistics."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from pytest_kfs.local.assets import cache_dir, model_server_python
from pytest_kfs.local.kserve.releases import release
from pytest_kfs.testing.faultproxy import FaultProxy

ROOT = Path(__file__).resolve().parents[1]
ISVC = ("serving.kserve.io", "v1beta1", "inferenceservices")


@dataclass
class Counted:
    """A tool's own path to the API server: a counting proxy and a kubeconfig through it."""

    proxy: FaultProxy
    kubeconfig: Path

    def requests(self) -> int:
        """Requests the tool made so far (each watch counts once, however long it streams)."""
        return len(self.proxy.recorded)


def counted(embedded, directory: Path, name: str) -> Counted:
    """A counting proxy in front of the embedded kube-apiserver, for one tool."""
    proxy = FaultProxy(embedded.plane.server, embedded.plane.client_ssl_context())
    proxy.start()
    return Counted(proxy, proxy.write_kubeconfig(directory / f"{name}.kubeconfig", "bench"))


def summary(values: list[float]) -> dict[str, float]:
    """median, mean, min, max (seconds)."""
    return {
        "median": statistics.median(values),
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def sdk_python() -> str:
    """The KServe SDK's interpreter: the model-server venv of the embedded cluster."""
    python = model_server_python(release())
    if python is None:
        raise SystemExit("the KServe SDK venv is missing: run `make setup` first")
    return python


def machine() -> dict[str, str]:
    """Where and with what the figures were taken."""

    def version(package: str, python: str = sys.executable) -> str:
        try:
            return subprocess.run(
                [python, "-c", f"import importlib.metadata as m; print(m.version('{package}'))"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except subprocess.CalledProcessError:
            return "?"

    meminfo = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    kubectl = cache_dir() / "kubectl"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPUs ({cpu}), {int(meminfo) // 1024 // 1024} GiB RAM, "
        f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "pytest-kfs": metadata.version("pytest-kfs"),
        "pytest": metadata.version("pytest"),
        "kubernetes (client)": metadata.version("kubernetes"),
        "kube-apiserver": "v1.34.4 (embedded, built from k8s.io/kubernetes)",
        "kubectl": subprocess.run(
            [str(kubectl), "version", "--client", "-o", "yaml"], capture_output=True, text=True
        )
        .stdout.split("gitVersion: ")[1]
        .split()[0]
        if kubectl.is_file()
        else "not built",
        "kserve SDK": version("kserve", sdk_python()),
        "kubernetes (SDK's client)": version("kubernetes", sdk_python()),
    }
