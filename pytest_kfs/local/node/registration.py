"""The Node object: the kubelet registers it and posts its status (capacity, addresses, the
log endpoint's port, Ready), retrying while the API server does not answer."""

from __future__ import annotations

from kubernetes import client
from kubernetes.client.rest import ApiException

from pytest_kfs.local.node.apicalls import REQUEST_TIMEOUT, ApiCalls
from pytest_kfs.local.node.events import now_rfc3339
from pytest_kfs.local.node.settings import NODE_CPU, NODE_MEMORY, NODE_NAME


def register_node(core: client.CoreV1Api, calls: ApiCalls, kubelet_port: int) -> None:
    """Create the Node unless it exists, then post its status."""
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "labels": {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux"},
        },
    }
    try:
        calls.call(lambda: core.create_node(node, _request_timeout=REQUEST_TIMEOUT))
    except ApiException as error:
        if error.status != 409:
            raise
    calls.call(
        lambda: core.patch_node_status(
            NODE_NAME, _node_status(kubelet_port), _request_timeout=REQUEST_TIMEOUT
        )
    )


def _node_status(kubelet_port: int) -> dict[str, object]:
    capacity = {"cpu": NODE_CPU, "memory": NODE_MEMORY, "pods": "110"}
    stamp = now_rfc3339()
    return {
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": NODE_NAME},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                }
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.34.4",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "containerRuntimeVersion": "pytest-kfs://1",
                "kernelVersion": "",
                "osImage": "pytest-kfs embedded node",
                "kubeProxyVersion": "",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        }
    }
