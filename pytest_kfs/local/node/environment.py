"""A container's environment as the kubelet builds it: the node's variables, the GKE metadata
server (or none, off a Workload Identity pool), its env, and values from secrets and config
maps (valueFrom)."""

from __future__ import annotations

import base64
import contextlib
import os
import threading
from typing import Any

from kubernetes.client.rest import ApiException

from pytest_kfs.gcp.uri import WI_ANNOTATION
from pytest_kfs.local.gcp.state import PodIdentity
from pytest_kfs.local.node.apicalls import REQUEST_TIMEOUT
from pytest_kfs.local.node.context import NodeContext
from pytest_kfs.local.node.volumes import PodVolumes


class ConfigMissing(Exception):
    """A secret or config map (or a key of one) an env var refers to does not exist."""


class ContainerEnvironment:
    """Environments for the containers of one pod."""

    def __init__(
        self, node: NodeContext, pod: dict[str, Any], volumes: PodVolumes, stop: threading.Event
    ) -> None:
        self._node = node
        self._pod = pod
        self._namespace, self._uid = pod["metadata"]["namespace"], pod["metadata"]["uid"]
        self._volumes = volumes
        self._stop = stop

    def build(self, spec: dict[str, Any]) -> dict[str, str]:
        """The environment the container `spec` starts with."""
        gcp = self._node.gcp
        root = self._volumes.root
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(root),
            "CLOUDSDK_CONFIG": str(root / "gcloud"),
            "PYTHONUNBUFFERED": "1",
            "API_ENDPOINT_OVERRIDE": gcp.endpoint,
            "DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA": "true",
            "GCE_METADATA_TIMEOUT": "1",
            "GCE_METADATA_DETECT_RETRIES": "1",
        }
        if gcp.serves_metadata(self._namespace):
            account = self._pod["spec"].get("serviceAccountName") or "default"
            gcp.pods[self._uid] = PodIdentity(
                self._namespace, account, self._service_account_annotation(account)
            )
            env["GCE_METADATA_HOST"] = env["GCE_METADATA_IP"] = gcp.metadata_host(self._uid)
        else:
            # Off GCP there is no metadata server: ADC finds nothing and KServe goes anonymous.
            closed = f"127.0.0.1:{self._node.closed_port}"
            env["GCE_METADATA_HOST"] = env["GCE_METADATA_IP"] = closed
        for item in spec.get("env") or []:
            if "value" in item:
                env[item["name"]] = self._volumes.host_path(item["value"], spec)
        with contextlib.suppress(ConfigMissing):  # checked before the container starts
            env.update(self.references(spec))
        return env

    def references(self, spec: dict[str, Any]) -> dict[str, str]:
        """Env values from secrets and config maps (valueFrom), as the kubelet resolves them;
        ConfigMissing names what is missing in the kubelet's words."""
        values = {}
        for item in spec.get("env") or []:
            source = item.get("valueFrom") or {}
            ref = source.get("secretKeyRef") or source.get("configMapKeyRef")
            if not ref:
                continue
            kind = "secret" if "secretKeyRef" in source else "configmap"
            try:
                data = self._read(kind, ref["name"])
            except ApiException as error:
                if error.status != 404:
                    raise
                if ref.get("optional"):
                    continue
                raise ConfigMissing(f'{kind} "{ref["name"]}" not found') from None
            if ref["key"] in data:
                values[item["name"]] = data[ref["key"]]
            elif not ref.get("optional"):
                raise ConfigMissing(
                    f"couldn't find key {ref['key']} in "
                    f"{'Secret' if kind == 'secret' else 'ConfigMap'} "
                    f"{self._namespace}/{ref['name']}"
                )
        return values

    def _read(self, kind: str, name: str) -> dict[str, str]:
        core, calls = self._node.core, self._node.calls
        if kind == "secret":
            secret = calls.call(
                lambda: core.read_namespaced_secret(
                    name, self._namespace, _request_timeout=REQUEST_TIMEOUT
                ),
                self._stop,
            )
            return {
                k: base64.b64decode(v).decode(errors="replace")
                for k, v in (secret.data or {}).items()
            }
        config_map = calls.call(
            lambda: core.read_namespaced_config_map(
                name, self._namespace, _request_timeout=REQUEST_TIMEOUT
            ),
            self._stop,
        )
        return dict(config_map.data or {})

    def _service_account_annotation(self, account: str) -> str | None:
        core = self._node.core
        try:
            sa = self._node.calls.call(
                lambda: core.read_namespaced_service_account(
                    account, self._namespace, _request_timeout=REQUEST_TIMEOUT
                ),
                self._stop,
            )
        except ApiException:
            return None
        annotation: str | None = (sa.metadata.annotations or {}).get(WI_ANNOTATION)
        return annotation
