"""Install CustomResourceDefinitions and wait until the API serves them."""

from __future__ import annotations

import json
import time
from typing import Any

from kubernetes import client

from pytest_kfs.kube.cluster import create_unless_exists


def install(
    api_client: client.ApiClient, crds: list[dict[str, Any]], timeout_seconds: float = 30.0
) -> None:
    """Create (or keep) each CRD, then wait until each is Established."""
    extensions = client.ApiextensionsV1Api(api_client)
    # Raw JSON both ways: the client's model classes take seconds to build KServe's 2 MB
    # InferenceService CRD, and only its conditions matter here.
    for crd in crds:
        create_unless_exists(
            extensions.create_custom_resource_definition, crd, _preload_content=False
        )
    deadline = time.monotonic() + timeout_seconds
    pending = {crd["metadata"]["name"] for crd in crds}
    while pending:
        for name in sorted(pending):
            stored = json.loads(
                extensions.read_custom_resource_definition(name, _preload_content=False).data
            )
            conditions = {
                c["type"]: c["status"] for c in (stored.get("status") or {}).get("conditions") or []
            }
            if conditions.get("Established") == "True":
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"CRDs not established after {timeout_seconds:.0f}s: {pending}")
        if pending:
            time.sleep(0.05)
