"""What every pod on the node shares with the kubelet that runs it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubernetes import client

from pytest_kfs.local.gcp.state import GcpState
from pytest_kfs.local.node.apicalls import ApiCalls
from pytest_kfs.local.node.events import EventRecorder
from pytest_kfs.local.node.logs import ContainerLogs
from pytest_kfs.local.node.settings import Images, Timing


@dataclass(frozen=True)
class NodeContext:
    """The API (and how to call it), the local GCP, the release's images, delays and folders."""

    core: client.CoreV1Api
    calls: ApiCalls
    events: EventRecorder
    gcp: GcpState
    images: Images
    timing: Timing
    pods_dir: Path
    logs: ContainerLogs
    # A port nothing listens on: the metadata server of pods off a Workload Identity pool.
    closed_port: int
