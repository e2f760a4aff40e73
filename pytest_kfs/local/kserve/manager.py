"""KServe's own manager (controller + webhooks) as a process of the embedded cluster."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client

from pytest_kfs.errors import KfsError
from pytest_kfs.kube.cluster import create_unless_exists
from pytest_kfs.local import crds, processes
from pytest_kfs.local.assets import kserve_manager, kserve_manifests
from pytest_kfs.local.kserve import manifests
from pytest_kfs.local.kserve.releases import Release
from pytest_kfs.local.loopback import open_url

_START_TIMEOUT = 60.0
# Leave the manager to the kubeconfig it is given: no cluster config from the environment.
_INHERITED = ("PATH", "HOME", "LANG")


class KServeError(KfsError, RuntimeError):
    """KServe's manager could not start; the message carries the log tail."""


@dataclass
class KServeManager:
    """A running KServe manager; `stop()` ends it."""

    release: Release
    process: subprocess.Popen[bytes]
    log: Path
    webhook_url: str

    def stop(self) -> None:
        """Stop the manager process."""
        processes.stop(self.process, grace_seconds=2.0)

    def alive(self) -> bool:
        """Whether the manager process still runs."""
        return self.process.poll() is None


def _cert_dir(workdir: Path, cert: Path, key: Path) -> Path:
    # controller-runtime reads its webhook certificate from $TMPDIR/k8s-webhook-server/
    # serving-certs: a TMPDIR of the cluster's own keeps clusters of parallel runs apart.
    tmp = workdir / "kserve-tmp"
    serving = tmp / "k8s-webhook-server" / "serving-certs"
    serving.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cert, serving / "tls.crt")
    shutil.copyfile(key, serving / "tls.key")
    (serving / "tls.key").chmod(0o600)
    return tmp


def _ready(url: str) -> bool:
    try:
        with open_url(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _webhook_answers(url: str, context: ssl.SSLContext) -> bool:
    try:
        open_url(url, timeout=1, context=context)
    except urllib.error.HTTPError:
        return True  # any HTTP answer: TLS is up and the server listens
    except (urllib.error.URLError, OSError):
        return False
    return True


def install(release: Release, api_client: client.ApiClient) -> None:
    """What installing the release puts in a cluster besides its manager: CRDs, the
    inferenceservice-config ConfigMap, the ClusterServingRuntimes."""
    folder = kserve_manifests(release)
    core = client.CoreV1Api(api_client)
    crds.install(api_client, manifests.crds(folder))
    create_unless_exists(core.create_namespace, {"metadata": {"name": manifests.NAMESPACE}})
    create_unless_exists(
        core.create_namespaced_config_map,
        manifests.NAMESPACE,
        manifests.config_map(folder, release),
    )
    # The runtimes exist before the manager starts, as after a release's install: its caches
    # start with them. (Created later, the first models met "no runtime found" until its cache
    # caught up.)
    custom = client.CustomObjectsApi(api_client)
    for runtime in manifests.cluster_serving_runtimes(folder, release):
        create_unless_exists(
            custom.create_cluster_custom_object,
            "serving.kserve.io",
            "v1alpha1",
            "clusterservingruntimes",
            runtime,
        )


def start(
    release: Release,
    api_client: client.ApiClient,
    kubeconfig: Path,
    workdir: Path,
    ca_cert: Path,
    serving_cert: Path,
    serving_key: Path,
    installed: bool = False,
) -> KServeManager:
    """Install the release's CRDs, ConfigMap and runtimes (unless `installed`), start its
    manager, register its webhooks; returns once the webhooks answer."""
    binary = kserve_manager(release)
    if not installed:
        install(release, api_client)
    webhook_port, probe_port = processes.free_port(), processes.free_port()
    env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    env.update(
        KUBECONFIG=str(kubeconfig),
        POD_NAMESPACE=manifests.NAMESPACE,
        TMPDIR=str(_cert_dir(workdir, serving_cert, serving_key)),
    )
    log = workdir / "kserve-manager.log"
    process = processes.spawn(
        [
            binary,
            "--metrics-addr=0",
            f"--webhook-port={webhook_port}",
            f"--health-probe-addr=127.0.0.1:{probe_port}",
            "--leader-elect=false",
        ],
        log,
        env=env,
    )
    manager = KServeManager(release, process, log, f"https://127.0.0.1:{webhook_port}")
    try:
        _wait(manager, lambda: _ready(f"http://127.0.0.1:{probe_port}/readyz"))
        context = ssl.create_default_context(cafile=str(ca_cert))
        _wait(manager, lambda: _webhook_answers(manager.webhook_url, context))
        registration = client.AdmissionregistrationV1Api(api_client)
        for configuration in manifests.webhook_configurations(
            kserve_manifests(release), manager.webhook_url, ca_cert.read_bytes()
        ):
            create = (
                registration.create_mutating_webhook_configuration
                if configuration["kind"] == "MutatingWebhookConfiguration"
                else registration.create_validating_webhook_configuration
            )
            create_unless_exists(create, configuration)
    except BaseException:
        manager.stop()
        raise
    return manager


def _wait(manager: KServeManager, ready: Any) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if not manager.alive():
            raise KServeError(
                f"KServe {manager.release.version}'s manager exited with code "
                f"{manager.process.returncode} while starting; last lines of its log:\n"
                f"{processes.tail(manager.log)}"
            )
        if ready():
            return
        time.sleep(0.05)
    raise KServeError(
        f"KServe {manager.release.version}'s manager was not ready within "
        f"{_START_TIMEOUT:.0f}s; last lines of its log:\n"
        f"{processes.tail(manager.log)}"
    )
