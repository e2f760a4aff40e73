"""KServe's settings as the cluster has them: the inferenceservice-config ConfigMap (reads it)."""

from __future__ import annotations

import json
from typing import Any

from kubernetes.client.rest import ApiException

from pytest_kfs.kserve.api import CONFIG_MAP, KSERVE_NAMESPACES
from pytest_kfs.kube.cluster import Cluster


def read_kserve_config(cluster: Cluster, gaps: list[str] | None = None) -> dict[str, Any]:
    """KServe's `credentials`, `storageInitializer` and `ingress` settings from
    inferenceservice-config (and the namespace it was found in); {} when it cannot be read (a
    403 goes into `gaps`)."""
    for namespace in KSERVE_NAMESPACES:
        try:
            data = cluster.core.read_namespaced_config_map(CONFIG_MAP, namespace).data or {}
        except ApiException as error:
            if error.status == 403 and gaps is not None:
                gaps.append(f"{namespace}/{CONFIG_MAP}: HTTP {error.status} {error.reason}")
            continue
        parsed: dict[str, Any] = {}
        for key in ("credentials", "storageInitializer", "ingress"):
            try:
                parsed[key] = json.loads(data.get(key) or "{}")
            except ValueError:
                parsed[key] = {}
        parsed["namespace"] = namespace
        return parsed
    return {}
