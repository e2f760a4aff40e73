"""Collect what a diagnosis needs from the cluster: status, pods, logs, events, identity.

I/O only; `diagnose.py` reads the result. Secrets are summarised (key names, the key file's
client_email and key id), never copied: no private key or token leaves this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from kubernetes.client.rest import ApiException

from pytest_kfs.gcp.identity import SecretSummary, service_account_summary, summarize_secret
from pytest_kfs.kserve import api
from pytest_kfs.kserve.api import (
    COMPONENTS,
    GCS_KEY_FILE,
    ISVC_LABEL,
    LOG_CONTAINERS,
)
from pytest_kfs.kube.cluster import Cluster
from pytest_kfs.kube.kserve_config import read_kserve_config

# A log is read by lines and by bytes: 200 lines of a megabyte each are not a diagnosis.
LOG_BYTES = 256 * 1024
UNREAD_KINDS = ("status", "pods", "logs", "events", "service account", "runtimes")


@dataclass
class Evidence:
    """Everything known about one InferenceService, as plain data."""

    isvc: dict[str, Any]
    pods: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)  # "pod/container[/previous]" -> text
    events: list[dict[str, Any]] = field(default_factory=list)
    service_account: dict[str, Any] | None = None
    service_account_name: str = "default"
    secrets: dict[str, SecretSummary] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    runtimes: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)  # what could not be read, and why
    # Pasted text that is no object, by the input it came from: what kubectl or an SDK
    # printed, a controller's log, a lone error line (offline only).
    texts: dict[str, str] = field(default_factory=dict)
    # Kinds of evidence never read (UNREAD_KINDS): unknown, which is not the same as empty.
    unread: set[str] = field(default_factory=set)

    def known(self, kind: str) -> bool:
        """Whether this kind of evidence was read (an empty list read is known: none)."""
        return kind not in self.unread

    def log(self, pod: str, container: str, previous: bool = False) -> str:
        """A collected container log ('' when absent)."""
        return self.logs.get(f"{pod}/{container}" + ("/previous" if previous else ""), "")


def _sanitize(cluster: Cluster, obj: Any) -> Any:
    return cluster.api_client.sanitize_for_serialization(obj)


def _gap(gaps: list[str], what: str, error: ApiException) -> None:
    gaps.append(f"{what}: HTTP {error.status} {error.reason}")


def collect(
    cluster: Cluster,
    namespace: str,
    name: str,
    isvc_obj: dict[str, Any] | None = None,
    deadline: float | None = None,
) -> Evidence:
    """Read status, pods, logs, events, service account, secrets and KServe config; by
    `deadline` (time.monotonic()), what is not read yet stays unread, said in a gap."""
    gaps: list[str] = []
    unread: set[str] = set()
    if isvc_obj is None:
        try:
            isvc_obj = cluster.custom.get_namespaced_custom_object(
                api.GROUP, api.VERSION, namespace, api.PLURAL, name
            )
        except ApiException as error:
            _gap(gaps, f"InferenceService {namespace}/{name}", error)
            isvc_obj = {"metadata": {"name": name, "namespace": namespace}}
            unread.add("status")
    evidence = Evidence(isvc=isvc_obj, gaps=gaps, unread=unread)
    stages: tuple[tuple[str, tuple[str, ...], Callable[[], None]], ...] = (
        ("pods", ("pods", "logs"), partial(_collect_pods, cluster, namespace, name, evidence)),
        ("events", ("events",), partial(_collect_events, cluster, namespace, evidence)),
        ("KServe's config", (), partial(_collect_config, cluster, evidence)),
        (
            "the serving identity",
            ("service account",),
            partial(_collect_identity, cluster, namespace, evidence),
        ),
        (
            "serving runtimes",
            ("runtimes",),
            partial(_collect_runtimes, cluster, namespace, evidence),
        ),
    )
    for what, kinds, read in stages:
        if deadline is not None and time.monotonic() >= deadline:
            gaps.append(f"{what}: not read, the deadline ran out during the diagnosis")
            evidence.unread.update(kinds)
            continue
        read()
    return evidence


def _collect_events(cluster: Cluster, namespace: str, evidence: Evidence) -> None:
    try:
        events = cluster.core.list_namespaced_event(namespace, _request_timeout=15).items
        evidence.events = events_about(
            [_sanitize(cluster, event) for event in events],
            evidence.isvc["metadata"]["name"],
            evidence.pods,
        )
    except ApiException as error:
        _gap(evidence.gaps, "events", error)
        evidence.unread.add("events")


def _collect_runtimes(cluster: Cluster, namespace: str, evidence: Evidence) -> None:
    try:
        runtimes = cluster.custom.list_cluster_custom_object(
            api.GROUP, api.RUNTIME_VERSION, "clusterservingruntimes", _request_timeout=15
        )["items"]
        runtimes += cluster.custom.list_namespaced_custom_object(
            api.GROUP, api.RUNTIME_VERSION, namespace, "servingruntimes", _request_timeout=15
        )["items"]
        evidence.runtimes = sorted(r["metadata"]["name"] for r in runtimes)
    except ApiException as error:
        _gap(evidence.gaps, "serving runtimes", error)
        evidence.unread.add("runtimes")


def _collect_pods(cluster: Cluster, namespace: str, name: str, evidence: Evidence) -> None:
    try:
        pods = cluster.core.list_namespaced_pod(
            namespace, label_selector=f"{ISVC_LABEL}={name}"
        ).items
    except ApiException as error:
        _gap(evidence.gaps, "pods", error)
        evidence.unread.update(("pods", "logs"))
        return
    evidence.pods = newest_first([_sanitize(cluster, pod) for pod in pods])
    read_logs(cluster, namespace, evidence)


def newest_first(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pods as KServe's controller reads them: the newest first."""
    return sorted(
        pods, key=lambda pod: str(pod["metadata"].get("creationTimestamp") or ""), reverse=True
    )


def concerns(event: dict[str, Any], name: str, pod_names: frozenset[str] = frozenset()) -> bool:
    """The event is about InferenceService `name`: on it, on one of its pods, or on an object
    KServe names after it (`<name>-predictor...` Deployments, ReplicaSets, revisions) — not on a
    sibling such as `<name>-v2`. An event without its object (pasted) counts."""
    involved = (event.get("involvedObject") or {}).get("name")
    return (
        involved is None
        or involved == name
        or involved in pod_names
        or str(involved).startswith(tuple(f"{name}-{component}" for component in COMPONENTS))
    )


def events_about(
    events: list[dict[str, Any]], name: str, pods: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The namespace's events that concern InferenceService `name`: another model's events in
    the same namespace are not this model's evidence."""
    pod_names = frozenset(pod["metadata"]["name"] for pod in pods)
    return [event for event in events if concerns(event, name, pod_names)]


def read_logs(cluster: Cluster, namespace: str, evidence: Evidence) -> None:
    """The storage-initializer's and model server's logs of the two newest pods."""
    evidence.unread.discard("logs")
    for pod in evidence.pods[:2]:
        pod_name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        for container in (status.get("initContainerStatuses") or []) + (
            status.get("containerStatuses") or []
        ):
            if container["name"] not in LOG_CONTAINERS:
                continue
            ran = (
                "running" in (container.get("state") or {})
                or "terminated" in (container.get("state") or {})
                or container.get("lastState")
            )
            if not ran:
                continue
            _read_log(cluster, namespace, pod_name, container["name"], False, evidence)
            if (container.get("lastState") or {}).get("terminated"):
                _read_log(cluster, namespace, pod_name, container["name"], True, evidence)


def _read_log(
    cluster: Cluster, namespace: str, pod: str, container: str, previous: bool, evidence: Evidence
) -> None:
    try:
        text = cluster.core.read_namespaced_pod_log(
            pod,
            namespace,
            container=container,
            previous=previous,
            tail_lines=200,
            limit_bytes=LOG_BYTES,
        )
    except ApiException as error:
        if error.status != 400:  # 400: the container has not started (yet)
            _gap(evidence.gaps, f"log of {pod}/{container}", error)
        return
    key = f"{pod}/{container}" + ("/previous" if previous else "")
    evidence.logs[key] = text or ""


def _collect_config(cluster: Cluster, evidence: Evidence) -> None:
    found = read_kserve_config(cluster, evidence.gaps)
    if found:
        evidence.config = found


def serving_account_name(isvc_obj: dict[str, Any]) -> str:
    """The service account the predictor runs as."""
    predictor = (isvc_obj.get("spec") or {}).get("predictor") or {}
    return str(predictor.get("serviceAccountName") or "default")


def credential_secret_names(evidence: Evidence) -> list[str]:
    """Secrets KServe may take credentials from: the account's, and any the InferenceService
    names in an annotation."""
    names = set((evidence.service_account or {}).get("secrets") or [])
    annotations = (evidence.isvc.get("metadata") or {}).get("annotations") or {}
    names.update(value for key, value in annotations.items() if "secret" in key.lower())
    return sorted(names)


def gcs_key_file(config: dict[str, Any]) -> str:
    """The key name KServe reads a GCS key file from (inferenceservice-config)."""
    return str(
        (config.get("credentials") or {}).get("gcs", {}).get("gcsCredentialFileName", GCS_KEY_FILE)
    )


def _collect_identity(cluster: Cluster, namespace: str, evidence: Evidence) -> None:
    evidence.service_account_name = serving_account_name(evidence.isvc)
    try:
        account = cluster.core.read_namespaced_service_account(
            evidence.service_account_name, namespace
        )
        evidence.service_account = service_account_summary(_sanitize(cluster, account))
    except ApiException as error:
        if error.status != 404:
            _gap(evidence.gaps, f"service account {evidence.service_account_name}", error)
            evidence.unread.add("service account")
    for secret_name in credential_secret_names(evidence):
        try:
            secret = cluster.core.read_namespaced_secret(secret_name, namespace)
        except ApiException as error:
            if error.status == 404:
                missing_secret(evidence, secret_name)
            else:
                _gap(evidence.gaps, f"secret {secret_name}", error)
            continue
        evidence.secrets[secret_name] = summarize_secret(
            secret_name, secret.data, gcs_key_file(evidence.config)
        )


def missing_secret(evidence: Evidence, name: str) -> None:
    """A named secret that does not exist: evidence too (KServe's webhook refuses the pod)."""
    evidence.secrets[name] = SecretSummary(name, ())
    evidence.gaps.append(f"secret {name}: not found")
