"""A one-node scheduler + kubelet for the embedded cluster.

It binds pending pods to its Node (or reports them Unschedulable), mounts secret volumes, "pulls"
images, runs the storage-initializer as a real process with the credentials the pod spec gives
it, restarts failed init containers with back-off (CrashLoopBackOff), loads the model in the
kserve-container step, writes Pod status and Events, and serves container logs to the API
server's `pods/log` through the Node's kubelet endpoint.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from pytest_kfs.local.gcp import LocalGcp, PodIdentity
from pytest_kfs.local.gcp.server import QuietHTTPServer
from pytest_kfs.local.node.events import EventRecorder, now_rfc3339
from pytest_kfs.local.processes import free_port

NODE_NAME = "kfs-local-node"
NODE_MEMORY = "16Gi"
NODE_CPU = "8"
INITIALIZER_SCRIPT = Path(__file__).with_name("initializer.py")
MODEL_SERVER_SCRIPT = Path(__file__).with_name("modelserver.py")
WI_ANNOTATION = "iam.gke.io/gcp-service-account"
INITIALIZER, SKLEARN = "initializer", "sklearn"


class _ConfigMissing(Exception):
    """A secret or config map (or a key of one) an env var refers to does not exist."""


@dataclass(frozen=True)
class Images:
    """What the node runs for the KServe release's images: image -> step, step -> Python."""

    steps: dict[str, str]
    initializer_python: str
    model_server_python: str | None

    def step(self, image: str) -> str | None:
        """'initializer', 'sklearn', or None for an image the release does not ship."""
        return self.steps.get(image.removeprefix("docker.io/"))


_TERMINATION_LOG_BYTES = 2048


@dataclass
class Timing:
    """Delays of the embedded cluster (seconds); small by default so tests are fast."""

    pull: float = 0.02
    backoff_base: float = 0.5
    backoff_max: float = 5.0
    resync: float = 5.0


def _quantity(value: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "m": 1e-3,
             "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


def _timestamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _ContainerRun:
    name: str
    image: str
    restart_count: int = 0
    state: dict[str, Any] = field(default_factory=lambda: {
        "waiting": {"reason": "PodInitializing"}})
    last_state: dict[str, Any] = field(default_factory=dict)
    ready: bool = False

    def status(self) -> dict[str, Any]:
        return {"name": self.name, "image": self.image, "imageID": "",
                "ready": self.ready, "restartCount": self.restart_count,
                "started": "running" in self.state, "state": self.state,
                "lastState": self.last_state}


class _PodRun:
    """One pod on the node: its containers' lifecycle in a thread of its own."""

    def __init__(self, kubelet: Kubelet, pod: dict[str, Any]) -> None:
        self.kubelet = kubelet
        self.pod = pod
        meta = pod["metadata"]
        self.namespace, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.root = kubelet.pods_dir / self.uid
        self.stop = threading.Event()
        self.process: subprocess.Popen[bytes] | None = None
        self.server: subprocess.Popen[bytes] | None = None
        self.endpoint: str | None = None
        spec = pod["spec"]
        self.inits = [_ContainerRun(c["name"], c.get("image", ""))
                      for c in spec.get("initContainers") or []]
        self.mains = [_ContainerRun(c["name"], c.get("image", ""), state={
            "waiting": {"reason": "PodInitializing"}}) for c in spec.get("containers") or []]
        self.conditions: dict[str, str] = {"PodScheduled": "True", "Initialized": "False",
                                           "ContainersReady": "False", "Ready": "False"}
        self.phase = "Pending"
        self.started = time.time()
        self.thread = threading.Thread(target=self._run, name=f"pod-{self.name}", daemon=True)

    # -- status ---------------------------------------------------------------------------------
    def _write_status(self) -> None:
        stamp = now_rfc3339()
        status = {
            "phase": self.phase, "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}], "startTime": _timestamp(self.started),
            "conditions": [{"type": kind, "status": value, "lastTransitionTime": stamp}
                           for kind, value in self.conditions.items()],
            "initContainerStatuses": [run.status() for run in self.inits],
            "containerStatuses": [run.status() for run in self.mains],
        }
        try:
            self.kubelet.core.patch_namespaced_pod_status(self.name, self.namespace,
                                                          {"status": status})
        except ApiException as error:
            if error.status == 404:
                self.stop.set()

    def _event(self, reason: str, message: str, type_: str = "Normal",
               container: str | None = None) -> None:
        field_path = None
        if container:
            kind = "initContainers" if any(r.name == container for r in self.inits) else \
                "containers"
            field_path = f"spec.{kind}{{{container}}}"
        self.kubelet.events.record(self.pod, "Pod", reason, message, type_, field_path)

    # -- lifecycle ------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._event("Scheduled", f"Successfully assigned {self.namespace}/{self.name} to "
                                     f"{NODE_NAME}")
            if not self._mount_volumes():
                return
            for run, spec in zip(self.inits, self.pod["spec"].get("initContainers") or [],
                                 strict=True):
                if not self._run_init(run, spec):
                    return
            self.conditions["Initialized"] = "True"
            specs = self.pod["spec"].get("containers") or []
            if all(spec.get("command") for spec in specs):
                self._run_to_completion(specs)
                return
            for run, spec in zip(self.mains, specs, strict=True):
                if not self._start_main(run, spec):
                    return
            self.phase = "Running"
            self.conditions.update(ContainersReady="True", Ready="True")
            self._write_status()
        except Exception as error:  # a kubelet bug must not take the test run down
            print(f"embedded kubelet: pod {self.namespace}/{self.name}: {error!r}",
                  file=sys.stderr)

    def _mount_volumes(self) -> bool:
        """Each volume is a folder of the pod's: emptyDir as is, secrets with their keys."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "gcloud").mkdir(exist_ok=True)
        self._write_status()
        for volume in self.pod["spec"].get("volumes") or []:
            (self.root / "volumes" / volume["name"]).mkdir(parents=True, exist_ok=True)
            secret_name = (volume.get("secret") or {}).get("secretName")
            if not secret_name:
                continue
            while not self.stop.is_set():
                try:
                    secret = self.kubelet.core.read_namespaced_secret(secret_name,
                                                                      self.namespace)
                    break
                except ApiException as error:
                    if error.status != 404:
                        raise
                    self._event("FailedMount", f'MountVolume.SetUp failed for volume '
                                f'"{volume["name"]}" : secret "{secret_name}" not found',
                                "Warning")
                    self.stop.wait(self.kubelet.timing.backoff_max)
            else:
                return False
            folder = self.root / "volumes" / volume["name"]
            for key, value in (secret.data or {}).items():
                (folder / key).write_bytes(base64.b64decode(value))
        return True

    def _pull(self, run: _ContainerRun) -> bool:
        """Pull an image; an unknown one backs off as ImagePullBackOff until the pod goes."""
        if self.kubelet.images.step(run.image):  # the release's images; others are not found
            time.sleep(self.kubelet.timing.pull)
            self._event("Pulled", f'Container image "{run.image}" already present on machine',
                        container=run.name)
            return True
        failure = (f'failed to pull and unpack image "{run.image}": failed to resolve '
                   f'reference "{run.image}": {run.image}: not found')
        delay = self.kubelet.timing.backoff_base
        while not self.stop.is_set():
            self._event("Failed", f'Failed to pull image "{run.image}": {failure}', "Warning",
                        run.name)
            run.state = {"waiting": {"reason": "ErrImagePull", "message": failure}}
            self._write_status()
            self.stop.wait(delay / 2)
            run.state = {"waiting": {"reason": "ImagePullBackOff",
                                     "message": f'Back-off pulling image "{run.image}"'}}
            self._event("BackOff", f'Back-off pulling image "{run.image}"', "Normal", run.name)
            self._write_status()
            self.stop.wait(delay)
            delay = min(delay * 2, self.kubelet.timing.backoff_max)
        return False

    def _run_init(self, run: _ContainerRun, spec: dict[str, Any]) -> bool:
        if not self._pull(run):
            return False
        delay = self.kubelet.timing.backoff_base
        while not self.stop.is_set():
            try:
                self._references(spec)
            except _ConfigMissing as missing:
                run.state = {"waiting": {"reason": "CreateContainerConfigError",
                                         "message": str(missing)}}
                self._event("Failed", f"Error: {missing}", "Warning", run.name)
                self._write_status()
                self.stop.wait(delay)
                delay = min(delay * 2, self.kubelet.timing.backoff_max)
                continue
            started = self._start_attempt(run)
            code, tail = self._execute(run, spec)
            if self.stop.is_set():
                return False
            if code == 0:
                run.state = {"terminated": {"exitCode": 0, "reason": "Completed",
                                            "startedAt": started, "finishedAt": now_rfc3339()}}
                run.ready = True
                self._write_status()
                return True
            delay = self._crash(run, started, code, tail, delay)
        return False

    def _start_attempt(self, run: _ContainerRun) -> str:
        """Events and Running state for one attempt of a container; returns its start time."""
        self._event("Created", f"Created container: {run.name}", container=run.name)
        self._event("Started", f"Started container {run.name}", container=run.name)
        started = now_rfc3339()
        run.state = {"running": {"startedAt": started}}
        self._write_status()
        return started

    def _crash(self, run: _ContainerRun, started: str, code: int, tail: str,
               delay: float) -> float:
        """Terminated(Error), then CrashLoopBackOff for `delay`; returns the next delay."""
        run.state = {"terminated": {"exitCode": code, "reason": "Error", "message": tail,
                                    "startedAt": started, "finishedAt": now_rfc3339()}}
        self._write_status()
        self.stop.wait(min(0.1, delay))
        run.last_state = {"terminated": run.state["terminated"]}
        run.restart_count += 1
        message = (f"back-off {delay:g}s restarting failed container={run.name} "
                   f"pod={self.name}_{self.namespace}({self.uid})")
        run.state = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
        self._event("BackOff", f"Back-off restarting failed container {run.name} in pod "
                    f"{self.name}_{self.namespace}({self.uid})", "Warning", run.name)
        self._write_status()
        self.stop.wait(delay)
        return min(delay * 2, self.kubelet.timing.backoff_max)

    def _run_to_completion(self, specs: list[dict[str, Any]]) -> None:
        """Job-style pods: run each command once; the pod ends Succeeded or Failed."""
        codes = []
        for run, spec in zip(self.mains, specs, strict=True):
            if not self._pull(run):
                return
            self._event("Started", f"Started container {run.name}", container=run.name)
            started = now_rfc3339()
            run.state = {"running": {"startedAt": started}}
            self.phase = "Running"
            self._write_status()
            code, tail = self._execute(run, spec)
            codes.append(code)
            run.state = {"terminated": {
                "exitCode": code, "reason": "Completed" if code == 0 else "Error",
                "startedAt": started, "finishedAt": now_rfc3339(),
                **({"message": tail} if code else {})}}
        self.phase = "Succeeded" if not any(codes) else "Failed"
        self.conditions.update(ContainersReady="False", Ready="False")
        self._write_status()

    def _start_main(self, run: _ContainerRun, spec: dict[str, Any]) -> bool:
        if not self._pull(run):
            return False
        if self.kubelet.images.step(run.image) == SKLEARN:
            return self._serve_model(run, spec)
        self._event("Created", f"Created container: {run.name}", container=run.name)
        self._event("Started", f"Started container {run.name}", container=run.name)
        run.state = {"running": {"startedAt": now_rfc3339()}}
        run.ready = True
        return True

    def _serve_model(self, run: _ContainerRun, spec: dict[str, Any]) -> bool:
        """The model server: load the downloaded model and serve it; crash-loop if it cannot."""
        python = self.kubelet.images.model_server_python
        # The sklearnserver image's entry point: `--model_name=N --model_dir=D --http_port=P`.
        flags = dict(arg.removeprefix("--").split("=", 1) for arg in spec.get("args") or []
                     if arg.startswith("--") and "=" in arg)
        name = flags.get("model_name", "model")
        model_dir = Path(self._container_path(flags.get("model_dir", "/mnt/models"), spec))
        delay = self.kubelet.timing.backoff_base
        while not self.stop.is_set():
            started = self._start_attempt(run)
            log = self.kubelet.log_path(self.uid, run.name, run.restart_count)
            if python is None:
                return self._models_present(run, log, model_dir)
            # Every pod has the node's address: the container's port becomes a free one.
            port = free_port()
            with log.open("wb") as out:
                self.server = subprocess.Popen(
                    [python, str(MODEL_SERVER_SCRIPT), name, str(model_dir), str(port)],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    cwd=self.root, env={"PATH": os.environ.get("PATH", ""),
                                        "HOME": str(self.root), "PYTHONUNBUFFERED": "1"})
            if self._await_ready(port):
                run.ready = True
                self.endpoint = f"http://127.0.0.1:{port}"
                return True
            if self.stop.is_set():
                return False
            code = self.server.wait()
            tail = log.read_bytes()[-_TERMINATION_LOG_BYTES:].decode(errors="replace")
            delay = self._crash(run, started, code or 1, tail, delay)
        return False

    def _await_ready(self, port: int) -> bool:
        """Until the server says ready (v2 health), exits, or the pod goes."""
        url = f"http://127.0.0.1:{port}/v2/health/ready"
        while not self.stop.is_set() and self.server is not None and self.server.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return True
            except OSError:
                pass
            self.stop.wait(0.05)
        return False

    def _models_present(self, run: _ContainerRun, log: Path, models: Path) -> bool:
        """Without a model-server venv: the model must at least be where it is expected."""
        files = sorted(p.relative_to(models).as_posix() for p in models.rglob("*")
                       if p.is_file())
        if files:
            log.write_text(f"model files under /mnt/models: {files}; no model server is "
                           "installed, so requests are not answered\n")
            run.ready = True
            return True
        message = "RuntimeError: Failed to locate model file under dir /mnt/models\n"
        log.write_text(message)
        run.state = {"terminated": {"exitCode": 1, "reason": "Error", "message": message,
                                    "startedAt": now_rfc3339(), "finishedAt": now_rfc3339()}}
        self._write_status()
        return False

    # -- the storage initializer as a process -------------------------------------------------
    def _container_path(self, value: str, spec: dict[str, Any]) -> str:
        """A path inside the container (or `--flag=path`) as the path of the pod's folder."""
        flag, equals, path = value.rpartition("=") if value.startswith("--") else ("", "", value)
        for mount in spec.get("volumeMounts") or []:
            mount_path = mount["mountPath"].rstrip("/")
            if path == mount_path or path.startswith(mount_path + "/"):
                folder = str(self.root / "volumes" / mount["name"])
                return flag + equals + folder + path[len(mount_path):]
        return value

    def _environment(self, spec: dict[str, Any]) -> dict[str, str]:
        gcp = self.kubelet.gcp
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root),
               "CLOUDSDK_CONFIG": str(self.root / "gcloud"), "PYTHONUNBUFFERED": "1",
               "API_ENDPOINT_OVERRIDE": gcp.endpoint,
               "DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA": "true",
               "GCE_METADATA_TIMEOUT": "1", "GCE_METADATA_DETECT_RETRIES": "1"}
        if gcp.serves_metadata(self.namespace):
            account = self.pod["spec"].get("serviceAccountName") or "default"
            annotation = None
            try:
                sa = self.kubelet.core.read_namespaced_service_account(account, self.namespace)
                annotation = (sa.metadata.annotations or {}).get(WI_ANNOTATION)
            except ApiException:
                pass
            gcp.pods[self.uid] = PodIdentity(self.namespace, account, annotation)
            env["GCE_METADATA_HOST"] = env["GCE_METADATA_IP"] = gcp.metadata_host(self.uid)
        else:
            # Off GCP there is no metadata server: ADC finds nothing and KServe goes anonymous.
            closed = f"127.0.0.1:{self.kubelet.closed_port}"
            env["GCE_METADATA_HOST"] = env["GCE_METADATA_IP"] = closed
        for item in spec.get("env") or []:
            if "value" in item:
                env[item["name"]] = self._container_path(item["value"], spec)
        with contextlib.suppress(_ConfigMissing):  # checked before it starts (_run_init)
            env.update(self._references(spec))
        return env

    def _references(self, spec: dict[str, Any]) -> dict[str, str]:
        """Env values from secrets and config maps (valueFrom), as the kubelet resolves them;
        _ConfigMissing names what is missing in the kubelet's words."""
        values = {}
        for item in spec.get("env") or []:
            source = item.get("valueFrom") or {}
            ref = source.get("secretKeyRef") or source.get("configMapKeyRef")
            if not ref:
                continue
            kind = "secret" if "secretKeyRef" in source else "configmap"
            try:
                if kind == "secret":
                    data = {k: base64.b64decode(v).decode(errors="replace") for k, v in (
                        self.kubelet.core.read_namespaced_secret(
                            ref["name"], self.namespace).data or {}).items()}
                else:
                    data = self.kubelet.core.read_namespaced_config_map(
                        ref["name"], self.namespace).data or {}
            except ApiException as error:
                if error.status != 404:
                    raise
                if ref.get("optional"):
                    continue
                raise _ConfigMissing(f'{kind} "{ref["name"]}" not found') from None
            if ref["key"] in data:
                values[item["name"]] = data[ref["key"]]
            elif not ref.get("optional"):
                raise _ConfigMissing(f"couldn't find key {ref['key']} in "
                                     f"{'Secret' if kind == 'secret' else 'ConfigMap'} "
                                     f"{self.namespace}/{ref['name']}")
        return values

    def _execute(self, run: _ContainerRun, spec: dict[str, Any]) -> tuple[int, str]:
        log = self.kubelet.log_path(self.uid, run.name, run.restart_count)
        args = [self._container_path(arg, spec) for arg in spec.get("args") or []]
        step = self.kubelet.images.step(run.image)
        if step == INITIALIZER and not spec.get("command"):
            command = [self.kubelet.images.initializer_python, str(INITIALIZER_SCRIPT), *args]
        elif step == INITIALIZER and spec["command"][0] in ("python", "python3"):
            # The image's own Python (KServe's storage code): the in-cluster probe runs so.
            command = [self.kubelet.images.initializer_python, *spec["command"][1:], *args]
        else:
            log.write_text("")
            return 0, ""
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.root,
                                            env=self._environment(spec))
            while True:
                try:
                    code = self.process.wait(0.1)
                    break
                except subprocess.TimeoutExpired:
                    if self.stop.is_set():
                        self.process.kill()
                        self.process.wait()
                        return 137, ""
        data = log.read_bytes()
        # FallbackToLogsOnError, as KServe sets on the storage-initializer.
        return code, data[-_TERMINATION_LOG_BYTES:].decode(errors="replace")

    def terminate(self) -> None:
        self.stop.set()
        for process in (self.process, self.server):
            if process and process.poll() is None:
                process.kill()
                process.wait()


class Kubelet:
    """Scheduler and kubelet of the single embedded Node."""

    def __init__(self, api_client: client.ApiClient, gcp: LocalGcp, workdir: Path,
                 serving_cert: Path, serving_key: Path, images: Images,
                 timing: Timing | None = None, client_ca: Path | None = None) -> None:
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.gcp = gcp
        self.timing = timing or Timing()
        self.pods_dir = workdir / "pods"
        self.logs_dir = workdir / "logs"
        self.images = images
        self.events = EventRecorder(self.core, "kubelet", NODE_NAME)
        self.scheduler_events = EventRecorder(self.core, "default-scheduler")
        self.runs: dict[str, _PodRun] = {}
        self.unschedulable: set[str] = set()
        self.closed_port = free_port()
        self._stop = threading.Event()
        self._serving = (serving_cert, serving_key)
        self._client_ca = client_ca
        self._server: QuietHTTPServer | None = None
        self._lock = threading.Lock()

    def endpoint_of(self, namespace: str, labels: dict[str, str]) -> str | None:
        """The model server address of the newest ready pod with these labels."""
        with self._lock:
            runs = [run for run in self.runs.values() if run.namespace == namespace
                    and run.endpoint and not run.stop.is_set() and all(
                        (run.pod["metadata"].get("labels") or {}).get(key) == value
                        for key, value in labels.items())]
        return max(runs, key=lambda run: run.started).endpoint if runs else None

    def log_path(self, uid: str, container: str, attempt: int) -> Path:
        """Where one attempt of a container writes its log."""
        folder = self.logs_dir / uid / container
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{attempt}.log"

    # -- node and log endpoint ----------------------------------------------------------------
    def start(self) -> Kubelet:
        """Serve logs, register the Node, and start watching pods."""
        self._serve_logs()
        self._register_node()
        threading.Thread(target=self._watch_pods, name="kfs-kubelet", daemon=True).start()
        threading.Thread(target=self._resync, name="kfs-kubelet-resync", daemon=True).start()
        return self

    def _resync(self) -> None:
        """Look at every pod now and then: a pod whose event was missed still runs."""
        while not self._stop.wait(self.timing.resync):
            try:
                pods = self.core.list_pod_for_all_namespaces(_request_timeout=10).items
            except Exception:  # the API server may be stopping; try again next period
                continue
            for pod in pods:
                self._handle("MODIFIED", self.api_client.sanitize_for_serialization(pod))

    def stop(self) -> None:
        """Stop every pod process and the log endpoint."""
        self._stop.set()
        with self._lock:
            runs = list(self.runs.values())
        for run in runs:
            run.terminate()
        if self._server:
            self._server.stop()
        shutil.rmtree(self.pods_dir, ignore_errors=True)

    def _serve_logs(self) -> None:
        kubelet = self

        class LogHandler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                url = urlparse(self.path)
                parts = url.path.strip("/").split("/")
                if len(parts) != 4 or parts[0] != "containerLogs":
                    self.send_error(404)
                    return
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                body = kubelet.container_log(parts[1], parts[2], parts[3],
                                             query.get("previous") == "true",
                                             int(query["tailLines"]) if "tailLines" in query
                                             else None)
                if body is None:
                    self.send_error(404, "container not found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = QuietHTTPServer(("127.0.0.1", 0), LogHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self._serving[0]), str(self._serving[1]))
        if self._client_ca is not None:
            # Like a real kubelet: only the API server (its client certificate) reads logs.
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(str(self._client_ca))
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._server.serve_in_background("kfs-kubelet-logs")

    def container_log(self, namespace: str, pod: str, container: str, previous: bool,
                      tail: int | None) -> bytes | None:
        """A container's current (or previous) log, as the kubelet's /containerLogs serves."""
        with self._lock:
            run = next((r for r in self.runs.values()
                        if r.namespace == namespace and r.name == pod), None)
        if run is None:
            return None
        state = next((c for c in run.inits + run.mains if c.name == container), None)
        if state is None:
            return None
        attempt = state.restart_count - 1 if previous else state.restart_count
        if previous and not state.last_state:
            attempt = -1
        path = self.logs_dir / run.uid / container / f"{attempt}.log"
        if not previous and not path.exists() and attempt > 0:
            # Waiting to restart: like the kubelet, show the last container that ran.
            path = path.with_name(f"{attempt - 1}.log")
        data = path.read_bytes() if attempt >= 0 and path.exists() else b""
        if tail is not None:
            data = b"".join(data.splitlines(keepends=True)[-tail:]) if tail > 0 else b""
        return data

    def _register_node(self) -> None:
        port = self._server.server_address[1]  # type: ignore[union-attr]
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": NODE_NAME, "labels": {"kubernetes.io/hostname": NODE_NAME,
                                          "kubernetes.io/os": "linux"}}}
        try:
            self.core.create_node(node)
        except ApiException as error:
            if error.status != 409:
                raise
        capacity = {"cpu": NODE_CPU, "memory": NODE_MEMORY, "pods": "110"}
        stamp = now_rfc3339()
        self.core.patch_node_status(NODE_NAME, {"status": {
            "capacity": capacity, "allocatable": capacity,
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": NODE_NAME}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}],
            "nodeInfo": {"kubeletVersion": "v1.34.4", "operatingSystem": "linux",
                         "architecture": "amd64", "containerRuntimeVersion": "pytest-kfs://1",
                         "kernelVersion": "", "osImage": "pytest-kfs embedded node",
                         "kubeProxyVersion": "", "machineID": "", "systemUUID": "",
                         "bootID": ""}}})

    # -- scheduling and pod lifecycle ---------------------------------------------------------
    def _watch_pods(self) -> None:
        resource_version = ""
        while not self._stop.is_set():
            try:
                stream = watch.Watch()
                for event in stream.stream(self.core.list_pod_for_all_namespaces,
                                           resource_version=resource_version,
                                           timeout_seconds=30, _request_timeout=60):
                    if self._stop.is_set():
                        stream.stop()
                        break
                    pod = self.api_client.sanitize_for_serialization(event["object"])
                    resource_version = pod["metadata"].get("resourceVersion", resource_version)
                    self._handle(event["type"], pod)
            except ApiException as error:
                if error.status == 410:
                    resource_version = ""
                time.sleep(0.1)
            except Exception:  # connection drops while the API server stops
                time.sleep(0.1)

    def _handle(self, kind: str, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        if kind == "DELETED" or pod["metadata"].get("deletionTimestamp"):
            with self._lock:
                run = self.runs.pop(uid, None)
            if run:
                run.terminate()
                self.gcp.pods.pop(uid, None)
            if kind != "DELETED":
                self._finish_deletion(pod)
            return
        node = pod["spec"].get("nodeName")
        if not node:
            if uid not in self.unschedulable:
                self._schedule(pod)
            return
        if node != NODE_NAME:
            return
        with self._lock:
            if uid in self.runs:
                return
            run = _PodRun(self, pod)
            self.runs[uid] = run
        run.thread.start()

    def _finish_deletion(self, pod: dict[str, Any]) -> None:
        # The kubelet confirms a graceful deletion once its containers are stopped.
        with contextlib.suppress(ApiException):
            self.core.delete_namespaced_pod(pod["metadata"]["name"], pod["metadata"]["namespace"],
                                            grace_period_seconds=0)

    def _schedule(self, pod: dict[str, Any]) -> None:
        memory = cpu = 0.0
        for container in pod["spec"].get("containers") or []:
            requests = (container.get("resources") or {}).get("requests") or {}
            memory += _quantity(str(requests.get("memory", "0")))
            cpu += _quantity(str(requests.get("cpu", "0")))
        short = []
        if memory > _quantity(NODE_MEMORY):
            short.append("Insufficient memory")
        if cpu > _quantity(NODE_CPU):
            short.append("Insufficient cpu")
        meta = pod["metadata"]
        if short:
            self.unschedulable.add(meta["uid"])
            message = (f"0/1 nodes are available: {', '.join(f'1 {s}' for s in short)}. "
                       "preemption: 0/1 nodes are available: 1 No preemption victims found "
                       "for incoming pod.")
            self.scheduler_events.record(pod, "Pod", "FailedScheduling", message, "Warning")
            with contextlib.suppress(ApiException):
                self.core.patch_namespaced_pod_status(meta["name"], meta["namespace"], {
                    "status": {"phase": "Pending", "conditions": [{
                        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                        "message": message, "lastTransitionTime": now_rfc3339()}]}})
            return
        with contextlib.suppress(ApiException):
            self.core.create_namespaced_pod_binding(meta["name"], meta["namespace"], {
                "apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
                "target": {"apiVersion": "v1", "kind": "Node", "name": NODE_NAME}},
                _preload_content=False)
