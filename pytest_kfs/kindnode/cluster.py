"""A kind cluster the run creates (`--kfs-cluster=kind:NAME --kfs-kind-create`): the engine kind
runs on, the node image, kind's config for it, and waiting until the node and cluster DNS are up.

Each way it cannot is one line (KfsError): no engine, not root, the image missing, the name in
use, a part that did not come up in time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_kfs.errors import ClusterError
from pytest_kfs.kindnode import base, engine
from pytest_kfs.kube import kind
from pytest_kfs.untrusted import shown

NODE_READY_SECONDS = 120.0
DNS_READY_SECONDS = 180.0
ENGINE_HINT = "as root, `python -m pytest_kfs.kindnode engine` sets podman up"


@dataclass(frozen=True)
class Plan:
    """How the cluster is created: the engine, the node image (None: kind's own) and kind's
    config (None: kind's defaults)."""

    provider: str
    image: str | None
    config: str | None


def plan(provider: str | None, image: str | None, local_image_present: bool) -> Plan:
    """The creation plan from what this machine has (pure). The locally built node image
    carries its own single-node pod network (no kindnetd), so kind deploys no CNI with it."""
    if provider is None:
        raise engine.EngineMissing(
            "--kfs-kind-create needs a container engine: Docker's daemon does not answer and "
            f"podman is not installed; {ENGINE_HINT}"
        )
    if image is None and provider == "podman" and local_image_present:
        image = base.IMAGE
    config = kind.NO_DEFAULT_CNI_CONFIG if image == base.IMAGE else None
    return Plan(provider, image, config)


def check_root(provider: str, euid: int) -> None:
    """kind on podman runs privileged node containers: root here (no rootless set-up)."""
    if provider == "podman" and euid != 0:
        raise ClusterError(
            "kind on podman needs root here (its nodes are privileged containers and rootless "
            "podman is not set up); run as root, or use --kfs-cluster=local"
        )


def prepare() -> None:
    """Set up the engine where Docker does not answer: podman and runc, only what is missing
    (root); EngineMissing in one line where that cannot be done."""
    provider = kind.provider()
    if provider == "docker":
        return
    if provider is None and os.geteuid() != 0:
        plan(None, None, False)  # raises, saying what is needed
    engine.ensure(("podman", "runc"))


def choose(image: str | None) -> Plan:
    """The plan on this machine; one line when there is no engine or root is missing."""
    chosen = plan(kind.provider(), image, base.image_present())
    check_root(chosen.provider, os.geteuid())
    return chosen


def check_image(chosen: Plan) -> None:
    """On podman, the node image must be there already (nothing is pulled here)."""
    if chosen.provider == "podman" and chosen.image and not base.image_present(chosen.image):
        built_here = chosen.image == base.IMAGE
        raise ClusterError(
            f"the kind node image {chosen.image} is not in podman"
            + (
                "; build it with `python -m pytest_kfs.kindnode image` (root)"
                if built_here
                else "; load it into podman, or leave out --kfs-kind-image"
            )
        )


def _node_state(core: Any) -> str | None:
    """None when every node is Ready, else what is not."""
    nodes = core.list_node().items
    if not nodes:
        return "no node registered"
    for node in nodes:
        ready = [c for c in node.status.conditions or () if c.type == "Ready"]
        if not ready or ready[0].status != "True":
            reason = (ready[0].reason or "") if ready else "no Ready condition"
            return f"node {shown(node.metadata.name, 253)} is not Ready ({shown(reason, 200)})"
    return None


def _dns_state(core: Any) -> str | None:
    """None when every CoreDNS pod is Running and ready, else what is not."""
    pods = core.list_namespaced_pod("kube-system", label_selector="k8s-app=kube-dns").items
    if not pods:
        return "no CoreDNS pod"
    for pod in pods:
        statuses = pod.status.container_statuses or ()
        if pod.status.phase != "Running" or not statuses or not all(s.ready for s in statuses):
            waiting = [s.state.waiting.reason for s in statuses if s.state and s.state.waiting]
            detail = ", ".join([pod.status.phase or "Pending", *waiting])
            return (
                f"CoreDNS pod {shown(pod.metadata.name, 253)} is not ready ({shown(detail, 200)})"
            )
    return None


def wait_until(
    what: str,
    state: Callable[[], str | None],
    seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll `state` until it says None; ClusterError naming what did not come up."""
    deadline = clock() + seconds
    last = "not checked"
    while True:
        try:
            found = state()
        except Exception as error:  # the API server still starting
            found = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        if found is None:
            return
        last = found
        if clock() >= deadline:
            raise ClusterError(f"{what} did not come up within {seconds:.0f} s: {last}")
        sleep(2)


def wait_ready(name: str, core: Any) -> None:
    """The node Ready, then CoreDNS Running (bounded)."""
    wait_until(f"kind cluster '{name}': the node", lambda: _node_state(core), NODE_READY_SECONDS)
    wait_until(f"kind cluster '{name}': CoreDNS", lambda: _dns_state(core), DNS_READY_SECONDS)
