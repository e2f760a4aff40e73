"""Namespaces the plugin owns: labelled with the run id, deleted unless asked to keep them.

Only namespaces labelled `app.kubernetes.io/managed-by=pytest-kfs` are ever deleted. A run
deletes its own at the end (also those of an xdist worker that was killed), and sweeps those
of earlier runs older than a TTL (a run that was SIGKILLed); kept ones are left alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubernetes.client.rest import ApiException

from pytest_kfs.errors import NamespaceBusy, NamespaceTaken
from pytest_kfs.kserve import api
from pytest_kfs.kserve import manifests as isvc
from pytest_kfs.kube.cluster import Cluster

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "pytest-kfs"
RUN_ID_LABEL = "pytest-kfs/run-id"
TEST_ANNOTATION = "pytest-kfs/test"
CREATED_ANNOTATION = "pytest-kfs/created"
KEPT_ANNOTATION = "pytest-kfs/kept"
# One run of pytest (its xdist workers included): runs sharing a KFS_RUN_ID are still apart.
INSTANCE_LABEL = "pytest-kfs/instance"
# Renewed while the run that owns the namespace lives: a sweep leaves it alone until it stops.
HEARTBEAT_ANNOTATION = "pytest-kfs/heartbeat"
HEARTBEAT_SECONDS = 30.0
_ALIVE_SECONDS = 4 * HEARTBEAT_SECONDS
# KServe derives host names such as `<model>-predictor-<namespace>` (one DNS label, at most 63
# characters) under its default domainTemplate; a 36-character namespace leaves room for model
# names of up to 16 characters. A cluster's own template may leave less (namespace_room).
_MAX = 36
MODEL_ROOM = 16
_SHORTEST = 16  # kfs-<run>-<h> and a few characters of the test: below this, names say nothing


def namespace_room(template: str | None = None, domain: str | None = None) -> int:
    """How long a namespace may be so that a model name of MODEL_ROOM characters still gives
    host names KServe accepts under this domainTemplate (each label at most 63 characters);
    KServe's defaults for what is not given."""
    template = template or api.DEFAULT_DOMAIN_TEMPLATE
    domain = domain or api.DEFAULT_INGRESS_DOMAIN
    model = "m" * MODEL_ROOM
    bare = isvc.host_names(model, "", template, domain)
    grown = isvc.host_names(model, "n", template, domain)
    room = _MAX
    for without, with_one in zip(bare, grown, strict=True):
        for label, longer in zip(without.split("."), with_one.split("."), strict=False):
            if len(longer) > len(label):  # this label holds the namespace
                room = min(room, 63 - len(label))
    return room


def namespace_name(run_id: str, test_id: str, max_length: int = _MAX) -> str:
    """A DNS-1123 name from the run id and the test, unique and readable: kfs-<run>-<test>-<h>
    (the run part hashes the whole run id: ids that share a prefix do not collide), at most
    `max_length` characters (never below a floor that keeps it unique)."""
    digest = hashlib.sha256(test_id.encode()).hexdigest()[:6]
    slug = re.sub(r"[^a-z0-9]+", "-", test_id.split("::")[-1].lower()).strip("-")
    prefix = f"kfs-{hashlib.sha256(run_id.encode()).hexdigest()[:5]}-"
    room = max(max_length, _SHORTEST) - len(prefix) - len(digest) - 1
    name = f"{prefix}{slug[:room].rstrip('-')}-{digest}" if room > 0 else f"{prefix}{digest}"
    return name.replace("--", "-")


def create(cluster: Cluster, name: str, run_id: str, test_id: str, instance: str = "") -> str:
    """Create a namespace labelled as ours (and as this run instance's); NamespaceTaken if it
    already exists."""
    now = str(int(time.time()))
    try:
        cluster.core.create_namespace(
            {
                "metadata": {
                    "name": name,
                    "labels": {
                        MANAGED_BY: MANAGER,
                        RUN_ID_LABEL: run_id,
                        **({INSTANCE_LABEL: instance} if instance else {}),
                    },
                    "annotations": {
                        TEST_ANNOTATION: test_id[:250],
                        CREATED_ANNOTATION: now,
                        HEARTBEAT_ANNOTATION: now,
                    },
                }
            }
        )
    except ApiException as error:
        if error.status != 409:
            raise
        labels = cluster.core.read_namespace(name).metadata.labels or {}
        if labels.get(MANAGED_BY) == MANAGER and labels.get(RUN_ID_LABEL) == run_id:
            raise NamespaceBusy(
                f"namespace {name} is held by another run with run id {run_id}"
            ) from None
        if labels.get(MANAGED_BY) != MANAGER:
            raise NamespaceTaken(
                f"namespace {name} already exists and is not pytest-kfs's (no label "
                f"{MANAGED_BY}={MANAGER}); it was left untouched: delete or rename it, or set "
                "KFS_RUN_ID to another value"
            ) from None
        raise NamespaceTaken(
            f"namespace {name} is left over from an earlier run with run id "
            f"{labels.get(RUN_ID_LABEL)}; set KFS_RUN_ID to a new value, or let it be swept "
            "(--kfs-sweep-ttl)"
        ) from None
    return name


def wait_default_account(cluster: Cluster, name: str, timeout: float = 10.0) -> bool:
    """Wait until the namespace's `default` service account exists: kube-controller-manager
    creates it just after the namespace, and a model served as it, or a check reading it,
    must not race it. False when it did not come (or cannot be read) in time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cluster.core.read_namespaced_service_account("default", name, _request_timeout=5)
            return True
        except ApiException as error:
            if error.status != 404 or time.monotonic() >= deadline:
                return False
        time.sleep(0.05)


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


def mark_kept(cluster: Cluster, name: str, why: str) -> None:
    """Annotate a namespace kept on request: sweeps leave it alone."""
    cluster.core.patch_namespace(name, {"metadata": {"annotations": {KEPT_ANNOTATION: why}}})


@dataclass(frozen=True)
class OwnedNamespace:
    """One namespace with our label, as the sweep sees it."""

    name: str
    run_id: str
    created: float  # epoch seconds
    kept: bool
    terminating: bool
    instance: str = ""
    heartbeat: float = 0.0  # epoch seconds; 0: never renewed


def list_owned(cluster: Cluster) -> list[OwnedNamespace]:
    """Every namespace labelled as ours (needs list on namespaces)."""
    items = cluster.core.list_namespace(
        label_selector=f"{MANAGED_BY}={MANAGER}", _request_timeout=30
    ).items
    owned = []
    for item in items:
        annotations = item.metadata.annotations or {}
        labels = item.metadata.labels or {}
        created = _created_at(cluster.api_client.sanitize_for_serialization(item.metadata))
        try:
            heartbeat = float(annotations.get(HEARTBEAT_ANNOTATION) or 0)
        except ValueError:
            heartbeat = 0.0
        owned.append(
            OwnedNamespace(
                item.metadata.name,
                labels.get(RUN_ID_LABEL, ""),
                created,
                KEPT_ANNOTATION in annotations,
                item.metadata.deletion_timestamp is not None,
                labels.get(INSTANCE_LABEL, ""),
                heartbeat,
            )
        )
    return owned


def stale(
    owned: Iterable[OwnedNamespace], now: float, ttl_seconds: float, current_run: str
) -> list[str]:
    """Names to sweep: ours, of another run, older than the TTL, not kept, not going already,
    and not renewed lately by a run that still lives (whatever the TTL)."""
    return sorted(
        ns.name
        for ns in owned
        if ns.run_id != current_run
        and now - ns.created > ttl_seconds
        and now - ns.heartbeat > _ALIVE_SECONDS
        and not ns.kept
        and not ns.terminating
    )


def of_run(owned: Iterable[OwnedNamespace], run_id: str, instance: str = "") -> list[str]:
    """This run's namespaces still standing (an xdist worker died before deleting them): of
    this run instance only, so another run with the same KFS_RUN_ID keeps its own."""
    return sorted(
        ns.name
        for ns in owned
        if ns.run_id == run_id
        and (not instance or ns.instance == instance)
        and not ns.kept
        and not ns.terminating
    )


def renew(cluster: Cluster, names: Iterable[str], now: float) -> None:
    """Renew the heartbeat of namespaces this process holds (gone ones are skipped)."""
    for name in list(names):
        with contextlib.suppress(ApiException):
            cluster.core.patch_namespace(
                name,
                {"metadata": {"annotations": {HEARTBEAT_ANNOTATION: str(int(now))}}},
                _request_timeout=10,
            )


def delete_all(cluster: Cluster, names: Iterable[str]) -> list[str]:
    """Delete each (label re-checked); return those deleted."""
    deleted = []
    for name in names:
        try:
            delete(cluster, name)
        except ApiException:
            continue  # one refusal must not stop the rest; the next sweep retries
        deleted.append(name)
    return deleted


_LABELLED_KINDS = ("InferenceService", "ServiceAccount", "Secret")


def sweep_objects(
    cluster: Cluster, namespace: str, now: float, *, run_id: str, older_than: float | None = None
) -> list[str]:
    """In a namespace that is not pytest-kfs's (--kfs-namespace): delete the InferenceServices,
    service accounts and secrets carrying pytest-kfs's label — those of run `run_id`, or, with
    `older_than`, those of other runs older than that many seconds. Nothing unlabelled is
    touched. Returns what was deleted, as `Kind/name`."""
    selector = f"{MANAGED_BY}={MANAGER}"
    found: list[tuple[str, dict[str, Any]]] = [
        ("InferenceService", item)
        for item in cluster.custom.list_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.PLURAL, label_selector=selector
        )["items"]
    ]
    for kind, lister in (
        ("ServiceAccount", cluster.core.list_namespaced_service_account),
        ("Secret", cluster.core.list_namespaced_secret),
    ):
        found += [
            (kind, cluster.api_client.sanitize_for_serialization(item))
            for item in lister(namespace, label_selector=selector).items
        ]
    deleted = []
    for kind, item in sorted(found, key=lambda pair: _LABELLED_KINDS.index(pair[0])):
        meta = item.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get(MANAGED_BY) != MANAGER:
            continue
        if labels.get(RUN_ID_LABEL) == run_id:
            pass  # this run's own
        elif older_than is None or now - _created_at(meta) <= older_than:
            continue
        delete_object(cluster, namespace, kind, meta["name"])
        deleted.append(f"{kind}/{meta['name']}")
    return deleted


def delete_object(cluster: Cluster, namespace: str, kind: str, name: str) -> None:
    """Delete one object of a kind the run labels (_LABELLED_KINDS); one already gone is
    fine, any other refusal is raised."""
    try:
        if kind == "InferenceService":
            cluster.custom.delete_namespaced_custom_object(
                api.GROUP, api.VERSION, namespace, api.PLURAL, name
            )
        elif kind == "ServiceAccount":
            cluster.core.delete_namespaced_service_account(name, namespace)
        else:
            cluster.core.delete_namespaced_secret(name, namespace)
    except ApiException as error:
        if error.status != 404:
            raise


def _created_at(meta: dict[str, Any]) -> float:
    with contextlib.suppress(KeyError, ValueError):  # as for namespaces: ours, when set
        return float((meta.get("annotations") or {})[CREATED_ANNOTATION])
    stamp = str(meta.get("creationTimestamp") or "")
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0  # unknown age: old enough
