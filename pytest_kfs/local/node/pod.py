"""One pod on the node, run in a thread of its own: volumes, image pulls (ImagePullBackOff for an
image the release does not ship), init containers restarted with back-off (CrashLoopBackOff),
then the main containers: the model server, or commands run to completion (Job-style pods).
Every step is written to the pod's status and Events as the kubelet writes them.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from kubernetes.client.rest import ApiException

from pytest_kfs.local.node import process
from pytest_kfs.local.node.apicalls import REQUEST_TIMEOUT, KubeletStopped
from pytest_kfs.local.node.context import NodeContext
from pytest_kfs.local.node.environment import ConfigMissing, ContainerEnvironment
from pytest_kfs.local.node.events import now_rfc3339
from pytest_kfs.local.node.podstatus import ContainerRun, PodStatus, PodStatusWriter
from pytest_kfs.local.node.settings import NODE_NAME, SKLEARN
from pytest_kfs.local.node.volumes import PodVolumes
from pytest_kfs.local.processes import free_port


class PodRun:
    """One pod on the node: its containers' lifecycle in a thread of its own."""

    def __init__(self, node: NodeContext, pod: dict[str, Any]) -> None:
        self.node = node
        self.pod = pod
        meta = pod["metadata"]
        self.namespace, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.volumes = PodVolumes(node.pods_dir / self.uid)
        self.root = self.volumes.root
        self.stop = threading.Event()
        self.environment = ContainerEnvironment(node, pod, self.volumes, self.stop)
        self.process: subprocess.Popen[bytes] | None = None
        self.server: subprocess.Popen[bytes] | None = None
        self.endpoint: str | None = None
        spec = pod["spec"]
        self.started = time.time()
        self.status = PodStatus(
            inits=[
                ContainerRun(c["name"], c.get("image", ""))
                for c in spec.get("initContainers") or []
            ],
            mains=[
                ContainerRun(c["name"], c.get("image", "")) for c in spec.get("containers") or []
            ],
            started=self.started,
        )
        self._writer = PodStatusWriter(
            node.core, node.calls, self.namespace, self.name, self.uid, self.stop
        )
        self.thread = threading.Thread(target=self._run, name=f"pod-{self.name}", daemon=True)

    # -- status ---------------------------------------------------------------------------------
    def _write_status(self) -> None:
        if not self._writer.write(self.status.document()):
            self.stop.set()  # the pod is gone

    def _event(
        self, reason: str, message: str, type_: str = "Normal", container: str | None = None
    ) -> None:
        field_path = None
        if container:
            kind = (
                "initContainers"
                if any(r.name == container for r in self.status.inits)
                else "containers"
            )
            field_path = f"spec.{kind}{{{container}}}"
        self.node.events.record(
            self.pod, "Pod", reason, message, type_, field_path, cancel=self.stop
        )

    # -- lifecycle ------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._lifecycle()
        except KubeletStopped:
            return  # stopped while the API server was away: nothing is left to write
        except Exception as error:  # a kubelet bug must not take the test run down
            print(f"embedded kubelet: pod {self.namespace}/{self.name}: {error!r}", file=sys.stderr)

    def _lifecycle(self) -> None:
        self._event(
            "Scheduled", f"Successfully assigned {self.namespace}/{self.name} to {NODE_NAME}"
        )
        if not self._mount_volumes():
            return
        for run, spec in zip(
            self.status.inits, self.pod["spec"].get("initContainers") or [], strict=True
        ):
            if not self._run_init(run, spec):
                return
        self.status.conditions["Initialized"] = "True"
        specs = self.pod["spec"].get("containers") or []
        if all(spec.get("command") for spec in specs):
            self._run_to_completion(specs)
            return
        for run, spec in zip(self.status.mains, specs, strict=True):
            if not self._start_main(run, spec):
                return
        self.status.phase = "Running"
        self.status.conditions.update(ContainersReady="True", Ready="True")
        self._write_status()

    def _mount_volumes(self) -> bool:
        """Each volume is a folder of the pod's: emptyDir as is, secrets with their keys."""
        self.volumes.create()
        self._write_status()
        for volume in self.pod["spec"].get("volumes") or []:
            self.volumes.folder(volume["name"])
            secret_name = (volume.get("secret") or {}).get("secretName")
            if not secret_name:
                continue
            data = self._await_secret(volume["name"], secret_name)
            if data is None:
                return False
            self.volumes.fill_secret(volume["name"], data)
        return True

    def _await_secret(self, volume: str, secret_name: str) -> dict[str, str] | None:
        """The secret's data once it exists (FailedMount until then); None if the pod goes."""
        core = self.node.core
        while not self.stop.is_set():
            try:
                secret = self.node.calls.call(
                    lambda: core.read_namespaced_secret(
                        secret_name, self.namespace, _request_timeout=REQUEST_TIMEOUT
                    ),
                    self.stop,
                )
                return dict(secret.data or {})
            except ApiException as error:
                if error.status != 404:
                    raise
                self._event(
                    "FailedMount",
                    f"MountVolume.SetUp failed for volume "
                    f'"{volume}" : secret "{secret_name}" not found',
                    "Warning",
                )
                self.stop.wait(self.node.timing.backoff_max)
        return None

    def _pull(self, run: ContainerRun) -> bool:
        """Pull an image; an unknown one backs off as ImagePullBackOff until the pod goes."""
        if self.node.images.step(run.image):  # the release's images; others are not found
            time.sleep(self.node.timing.pull)
            self._event(
                "Pulled",
                f'Container image "{run.image}" already present on machine',
                container=run.name,
            )
            return True
        failure = (
            f'failed to pull and unpack image "{run.image}": failed to resolve '
            f'reference "{run.image}": {run.image}: not found'
        )
        delay = self.node.timing.backoff_base
        while not self.stop.is_set():
            self._event(
                "Failed", f'Failed to pull image "{run.image}": {failure}', "Warning", run.name
            )
            run.state = {"waiting": {"reason": "ErrImagePull", "message": failure}}
            self._write_status()
            self.stop.wait(delay / 2)
            run.state = {
                "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": f'Back-off pulling image "{run.image}"',
                }
            }
            self._event("BackOff", f'Back-off pulling image "{run.image}"', "Normal", run.name)
            self._write_status()
            self.stop.wait(delay)
            delay = min(delay * 2, self.node.timing.backoff_max)
        return False

    def _run_init(self, run: ContainerRun, spec: dict[str, Any]) -> bool:
        if not self._pull(run):
            return False
        delay = self.node.timing.backoff_base
        while not self.stop.is_set():
            try:
                self.environment.references(spec)
            except ConfigMissing as missing:
                run.state = {
                    "waiting": {"reason": "CreateContainerConfigError", "message": str(missing)}
                }
                self._event("Failed", f"Error: {missing}", "Warning", run.name)
                self._write_status()
                self.stop.wait(delay)
                delay = min(delay * 2, self.node.timing.backoff_max)
                continue
            started = self._start_attempt(run)
            code, tail = self._execute(run, spec)
            if self.stop.is_set():
                return False
            if code == 0:
                run.state = {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": started,
                        "finishedAt": now_rfc3339(),
                    }
                }
                run.ready = True
                self._write_status()
                return True
            delay = self._crash(run, started, code, tail, delay)
        return False

    def _start_attempt(self, run: ContainerRun) -> str:
        """Events and Running state for one attempt of a container; returns its start time."""
        self._event("Created", f"Created container: {run.name}", container=run.name)
        self._event("Started", f"Started container {run.name}", container=run.name)
        started = now_rfc3339()
        run.state = {"running": {"startedAt": started}}
        self._write_status()
        return started

    def _crash(self, run: ContainerRun, started: str, code: int, tail: str, delay: float) -> float:
        """Terminated(Error), then CrashLoopBackOff for `delay`; returns the next delay."""
        run.state = {
            "terminated": {
                "exitCode": code,
                "reason": "Error",
                "message": tail,
                "startedAt": started,
                "finishedAt": now_rfc3339(),
            }
        }
        self._write_status()
        self.stop.wait(min(0.1, delay))
        run.last_state = {"terminated": run.state["terminated"]}
        run.restart_count += 1
        message = (
            f"back-off {delay:g}s restarting failed container={run.name} "
            f"pod={self.name}_{self.namespace}({self.uid})"
        )
        run.state = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
        self._event(
            "BackOff",
            f"Back-off restarting failed container {run.name} in pod "
            f"{self.name}_{self.namespace}({self.uid})",
            "Warning",
            run.name,
        )
        self._write_status()
        self.stop.wait(delay)
        return min(delay * 2, self.node.timing.backoff_max)

    def _run_to_completion(self, specs: list[dict[str, Any]]) -> None:
        """Job-style pods: run each command once; the pod ends Succeeded or Failed."""
        codes = []
        for run, spec in zip(self.status.mains, specs, strict=True):
            if not self._pull(run):
                return
            self._event("Started", f"Started container {run.name}", container=run.name)
            started = now_rfc3339()
            run.state = {"running": {"startedAt": started}}
            self.status.phase = "Running"
            self._write_status()
            code, tail = self._execute(run, spec)
            codes.append(code)
            run.state = {
                "terminated": {
                    "exitCode": code,
                    "reason": "Completed" if code == 0 else "Error",
                    "startedAt": started,
                    "finishedAt": now_rfc3339(),
                    **({"message": tail} if code else {}),
                }
            }
        self.status.phase = "Succeeded" if not any(codes) else "Failed"
        self.status.conditions.update(ContainersReady="False", Ready="False")
        self._write_status()

    def _start_main(self, run: ContainerRun, spec: dict[str, Any]) -> bool:
        if not self._pull(run):
            return False
        if self.node.images.step(run.image) == SKLEARN:
            return self._serve_model(run, spec)
        self._event("Created", f"Created container: {run.name}", container=run.name)
        self._event("Started", f"Started container {run.name}", container=run.name)
        run.state = {"running": {"startedAt": now_rfc3339()}}
        run.ready = True
        return True

    def _serve_model(self, run: ContainerRun, spec: dict[str, Any]) -> bool:
        """The model server: load the downloaded model and serve it; crash-loop if it cannot."""
        python = self.node.images.model_server_python
        # The sklearnserver image's entry point: `--model_name=N --model_dir=D --http_port=P`.
        flags = dict(
            arg.removeprefix("--").split("=", 1)
            for arg in spec.get("args") or []
            if arg.startswith("--") and "=" in arg
        )
        name = flags.get("model_name", "model")
        model_dir = Path(self.volumes.host_path(flags.get("model_dir", "/mnt/models"), spec))
        delay = self.node.timing.backoff_base
        while not self.stop.is_set():
            started = self._start_attempt(run)
            log = self.node.logs.path(self.uid, run.name, run.restart_count)
            if python is None:
                return self._models_present(run, log, model_dir)
            # Every pod has the node's address: the container's port becomes a free one.
            port = free_port()
            self.server = process.start_model_server(python, name, model_dir, port, log, self.root)
            if process.await_ready(port, self.server, self.stop):
                run.ready = True
                self.endpoint = f"http://127.0.0.1:{port}"
                return True
            if self.stop.is_set():
                return False
            code = self.server.wait()
            delay = self._crash(run, started, code or 1, process.termination_message(log), delay)
        return False

    def _models_present(self, run: ContainerRun, log: Path, models: Path) -> bool:
        """Without a model-server venv: the model must at least be where it is expected."""
        files = sorted(p.relative_to(models).as_posix() for p in models.rglob("*") if p.is_file())
        if files:
            log.write_text(
                f"model files under /mnt/models: {files}; no model server is "
                "installed, so requests are not answered\n"
            )
            run.ready = True
            return True
        message = "RuntimeError: Failed to locate model file under dir /mnt/models\n"
        log.write_text(message)
        run.state = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "message": message,
                "startedAt": now_rfc3339(),
                "finishedAt": now_rfc3339(),
            }
        }
        self._write_status()
        return False

    def _execute(self, run: ContainerRun, spec: dict[str, Any]) -> tuple[int, str]:
        """Run a container to its exit: its exit code and termination message."""
        log = self.node.logs.path(self.uid, run.name, run.restart_count)
        args = [self.volumes.host_path(arg, spec) for arg in spec.get("args") or []]
        command = process.command(self.node.images, run.image, spec, args)
        if command is None:
            log.write_text("")
            return 0, ""
        self.process = process.start(command, log, self.root, self.environment.build(spec))
        code = process.wait(self.process, self.stop)
        if code is None:
            return 137, ""  # killed (SIGKILL): the pod went
        return code, process.termination_message(log)

    def terminate(self) -> None:
        """Stop the pod's thread and kill its processes."""
        self.stop.set()
        for running in (self.process, self.server):
            process.kill(running)
