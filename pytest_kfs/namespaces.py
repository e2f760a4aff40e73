"""Namespaces the plugin owns: labelled with the run id, deleted unless asked to keep them."""

from __future__ import annotations

import hashlib
import re
import time

from kubernetes.client.rest import ApiException

from pytest_kfs.cluster import Cluster

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "pytest-kfs"
RUN_ID_LABEL = "pytest-kfs/run-id"
TEST_ANNOTATION = "pytest-kfs/test"
_MAX = 63


def namespace_name(run_id: str, test_id: str) -> str:
    """A DNS-1123 name from the run id and the test, unique and readable: kfs-<run>-<test>-<h>."""
    digest = hashlib.sha256(test_id.encode()).hexdigest()[:6]
    slug = re.sub(r"[^a-z0-9]+", "-", test_id.split("::")[-1].lower()).strip("-")
    prefix = f"kfs-{run_id[:6]}-"
    room = _MAX - len(prefix) - len(digest) - 1
    return f"{prefix}{slug[:room].rstrip('-')}-{digest}"


def create(cluster: Cluster, name: str, run_id: str, test_id: str) -> str:
    """Create a namespace labelled as ours; ApiException 409 if someone else has it."""
    cluster.core.create_namespace({"metadata": {
        "name": name, "labels": {MANAGED_BY: MANAGER, RUN_ID_LABEL: run_id},
        "annotations": {TEST_ANNOTATION: test_id[:250],
                        "pytest-kfs/created": str(int(time.time()))},
    }})
    return name


def delete(cluster: Cluster, name: str) -> None:
    """Delete a namespace, but only one that carries our label."""
    try:
        namespace = cluster.core.read_namespace(name)
    except ApiException as error:
        if error.status == 404:
            return
        raise
    if (namespace.metadata.labels or {}).get(MANAGED_BY) != MANAGER:
        return  # never touch what we did not create
    try:
        cluster.core.delete_namespace(name)
    except ApiException as error:
        if error.status != 404:
            raise
