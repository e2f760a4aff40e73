"""A one-node scheduler + kubelet for the embedded cluster.

It binds pending pods to its Node (or reports them Unschedulable), mounts secret volumes, "pulls"
images, runs the storage-initializer as a real process with the credentials the pod spec gives
it, restarts failed init containers with back-off (CrashLoopBackOff), loads the model in the
kserve-container step, writes Pod status and Events, and serves container logs to the API
server's `pods/log` through the Node's kubelet endpoint.

This module is the orchestration: it watches pods, hands each to the scheduler or to a PodRun
(pod.py) of its own, and resyncs. The parts: settings.py (the node, its images and delays),
apicalls.py (calls retried until the API server answers), podstatus.py, events.py, pod.py,
process.py, volumes.py, environment.py, logs.py, registration.py, scheduler.py.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from pytest_kfs.local.gcp.httpserver import QuietHTTPServer
from pytest_kfs.local.gcp.state import GcpState
from pytest_kfs.local.node.apicalls import FIRST_BACKOFF, MAX_BACKOFF, REQUEST_TIMEOUT, ApiCalls
from pytest_kfs.local.node.context import NodeContext
from pytest_kfs.local.node.events import EventRecorder
from pytest_kfs.local.node.logs import ContainerLogs, serve_logs
from pytest_kfs.local.node.pod import PodRun
from pytest_kfs.local.node.registration import register_node
from pytest_kfs.local.node.scheduler import Scheduler
from pytest_kfs.local.node.settings import NODE_NAME, Images, Timing
from pytest_kfs.local.processes import free_port

# Images, Timing and NODE_NAME live in settings.py; importers of this module still find them.
__all__ = ["NODE_NAME", "Images", "Kubelet", "Timing"]


class Kubelet:
    """Scheduler and kubelet of the single embedded Node."""

    def __init__(
        self,
        api_client: client.ApiClient,
        gcp: GcpState,
        workdir: Path,
        serving_cert: Path,
        serving_key: Path,
        images: Images,
        timing: Timing | None = None,
        client_ca: Path | None = None,
    ) -> None:
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.gcp = gcp
        self.timing = timing or Timing()
        self.pods_dir = workdir / "pods"
        self.logs = ContainerLogs(workdir / "logs")
        self.images = images
        self._stop = threading.Event()
        self._resync_now = threading.Event()
        self.calls = ApiCalls(self._stop)
        self.events = EventRecorder(self.core, self.calls, "kubelet", NODE_NAME)
        self.scheduler = Scheduler(self.core, self.calls)
        self.closed_port = free_port()
        self.node = NodeContext(
            self.core,
            self.calls,
            self.events,
            gcp,
            images,
            self.timing,
            self.pods_dir,
            self.logs,
            self.closed_port,
        )
        self.runs: dict[str, PodRun] = {}
        self._serving = (serving_cert, serving_key)
        self._client_ca = client_ca
        self._server: QuietHTTPServer | None = None
        self._lock = threading.Lock()

    def endpoint_of(self, namespace: str, labels: dict[str, str]) -> str | None:
        """The model server address of the newest ready pod with these labels."""
        with self._lock:
            runs = [
                run
                for run in self.runs.values()
                if run.namespace == namespace
                and run.endpoint
                and not run.stop.is_set()
                and all(
                    (run.pod["metadata"].get("labels") or {}).get(key) == value
                    for key, value in labels.items()
                )
            ]
        return max(runs, key=lambda run: run.started).endpoint if runs else None

    def log_path(self, uid: str, container: str, attempt: int) -> Path:
        """Where one attempt of a container writes its log."""
        return self.logs.path(uid, container, attempt)

    def container_log(
        self, namespace: str, pod: str, container: str, previous: bool, tail: int | None
    ) -> bytes | None:
        """A container's current (or previous) log, as the kubelet's /containerLogs serves."""
        with self._lock:
            run = next(
                (r for r in self.runs.values() if r.namespace == namespace and r.name == pod), None
            )
        state = run.status.container(container) if run else None
        if run is None or state is None:
            return None
        return self.logs.read(run.uid, state, previous, tail)

    # -- start and stop ---------------------------------------------------------------------
    def start(self) -> Kubelet:
        """Serve logs, register the Node, and start watching pods."""
        self._server = serve_logs(self.container_log, *self._serving, self._client_ca)
        register_node(self.core, self.calls, self._server.server_address[1])
        threading.Thread(target=self._watch_pods, name="kfs-kubelet", daemon=True).start()
        threading.Thread(target=self._resync, name="kfs-kubelet-resync", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop every pod process and the log endpoint; calls waiting for the API give up."""
        self._stop.set()
        self._resync_now.set()
        with self._lock:
            runs = list(self.runs.values())
        for run in runs:
            run.terminate()
        if self._server:
            self._server.stop()
        shutil.rmtree(self.pods_dir, ignore_errors=True)

    # -- watching and resyncing pods ----------------------------------------------------------
    def _watch_pods(self) -> None:
        resource_version = ""
        delay = FIRST_BACKOFF
        while not self._stop.is_set():
            try:
                stream = watch.Watch()
                for event in stream.stream(
                    self.core.list_pod_for_all_namespaces,
                    resource_version=resource_version,
                    timeout_seconds=30,
                    _request_timeout=60,
                ):
                    if self._stop.is_set():
                        stream.stop()
                        break
                    delay = FIRST_BACKOFF
                    pod = self.api_client.sanitize_for_serialization(event["object"])
                    resource_version = pod["metadata"].get("resourceVersion", resource_version)
                    self._handle(event["type"], pod)
                continue
            except ApiException as error:
                if error.status == 410:
                    resource_version = ""
            except Exception:  # connection drops while the API server stops or restarts
                pass
            # The watch resumes where it was (so deletions meanwhile are seen); a resync
            # lists every pod as soon as the API server answers again.
            self._resync_now.set()
            self._stop.wait(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    def _resync(self) -> None:
        """Look at every pod now and then, and after the watch broke: a pod whose event was
        missed still runs, and one deleted meanwhile stops."""
        while not self._stop.is_set():
            self._resync_now.wait(self.timing.resync)
            self._resync_now.clear()
            try:
                self._resync_once()
            except Exception:  # stopping, or a refusal: try again next period
                continue

    def _resync_once(self) -> None:
        listed_at = time.time()
        pods = self.calls.call(
            lambda: self.core.list_pod_for_all_namespaces(_request_timeout=REQUEST_TIMEOUT).items
        )
        seen = set()
        for pod in pods:
            document = self.api_client.sanitize_for_serialization(pod)
            seen.add(document["metadata"]["uid"])
            self._handle("MODIFIED", document)
        with self._lock:
            # Only runs older than the list: a newer one's pod may not be in it yet.
            gone = [
                uid for uid, run in self.runs.items() if uid not in seen and run.started < listed_at
            ]
        for uid in gone:
            self._forget(uid)

    def _handle(self, kind: str, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        if kind == "DELETED" or pod["metadata"].get("deletionTimestamp"):
            self._forget(uid)
            if kind != "DELETED":
                self._finish_deletion(pod)
            return
        node = pod["spec"].get("nodeName")
        if not node:
            self.scheduler.schedule(pod)
            return
        if node != NODE_NAME or self._stop.is_set():
            return
        with self._lock:
            if uid in self.runs:
                return
            run = PodRun(self.node, pod)
            self.runs[uid] = run
        run.thread.start()

    def _forget(self, uid: str) -> None:
        """Stop a pod's run (it is deleted, or being deleted) and its metadata identity."""
        with self._lock:
            run = self.runs.pop(uid, None)
        if run:
            run.terminate()
            self.gcp.pods.pop(uid, None)

    def _finish_deletion(self, pod: dict[str, Any]) -> None:
        # The kubelet confirms a graceful deletion once its containers are stopped.
        # The uid precondition: a retry after an API restart must not delete a namesake.
        meta = pod["metadata"]
        options = client.V1DeleteOptions(
            grace_period_seconds=0, preconditions=client.V1Preconditions(uid=meta["uid"])
        )
        with contextlib.suppress(ApiException):
            self.calls.call(
                lambda: self.core.delete_namespaced_pod(
                    meta["name"], meta["namespace"], body=options, _request_timeout=REQUEST_TIMEOUT
                )
            )
