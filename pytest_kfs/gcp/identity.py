"""Who KServe reads a bucket as: the serving identity of a service account (pure, but for
`read_identity`, which reads the account and its secrets from the cluster).

KServe's webhook gives the storage-initializer a key secret's file when the service account
lists one (S3 keys win over a GCS key), else Workload Identity's Google service account
(GKE's annotation), else nothing: the node's account on GKE, anonymous elsewhere.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from pytest_kfs.gcp.uri import WI_ANNOTATION
from pytest_kfs.kserve.api import GCS_KEY_FILE
from pytest_kfs.kserve.api import STORAGE_SECRET_ANNOTATION as DEFAULT_SECRET_ANNOTATION

S3_KEYS = ("AWS_ACCESS_KEY_ID", "awsAccessKeyID")


@dataclass(frozen=True)
class SecretSummary:
    """What a secret holds, without its values."""

    name: str
    keys: tuple[str, ...]
    key_type: str | None = None
    client_email: str | None = None
    private_key_id: str | None = None
    unparseable_key: bool = False


def summarize_secret(
    name: str, data: dict[str, str] | None, gcs_file: str = GCS_KEY_FILE
) -> SecretSummary:
    """Key names and, for a GCS key file, who it is for: never the values."""
    data = data or {}
    summary = SecretSummary(name=name, keys=tuple(sorted(data)))
    if gcs_file not in data:
        return summary
    try:
        key = json.loads(base64.b64decode(data[gcs_file]))
        return SecretSummary(
            name=name,
            keys=summary.keys,
            key_type=key.get("type"),
            client_email=key.get("client_email"),
            private_key_id=key.get("private_key_id"),
        )
    except (ValueError, TypeError, AttributeError):
        return SecretSummary(name=name, keys=summary.keys, unparseable_key=True)


def service_account_summary(account: dict[str, Any]) -> dict[str, Any]:
    """A ServiceAccount (as the API returns it) as the evidence keeps it."""
    metadata = account.get("metadata") or {}
    return {
        "name": metadata.get("name"),
        "annotations": dict(metadata.get("annotations") or {}),
        "secrets": [ref.get("name") for ref in account.get("secrets") or []],
    }


@dataclass(frozen=True)
class ServingIdentity:
    """Which credentials the storage-initializer gets, and the principal they stand for."""

    source: str  # key-secret | workload-identity | ambient (node account or anonymous)
    principal: str | None
    secret: str | None = None
    gsa: str | None = None
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for reports."""
        if self.source == "key-secret":
            return f"key file in secret {self.secret} -> {self.principal}"
        if self.source == "workload-identity":
            return f"Workload Identity -> {self.gsa}"
        return (
            "no key and no Workload Identity annotation: the node's service account on "
            "GKE, or an anonymous client off GCP"
        )


def resolve_identity(
    isvc_annotations: dict[str, str],
    service_account: dict[str, Any] | None,
    secrets: dict[str, SecretSummary],
    annotation_key: str = DEFAULT_SECRET_ANNOTATION,
    gcs_file: str = GCS_KEY_FILE,
) -> ServingIdentity:
    """The identity KServe's webhook gives the storage-initializer."""
    notes = []
    named = isvc_annotations.get(annotation_key)
    candidates = [named] if named else list((service_account or {}).get("secrets") or [])
    for name in candidates:
        summary = secrets.get(name)
        if summary is None:
            notes.append(f"secret {name} is listed but could not be read")
            continue
        if any(key in summary.keys for key in S3_KEYS):
            notes.append(f"secret {name} holds S3 keys, which KServe uses before a GCS key")
            continue
        if gcs_file in summary.keys:
            return ServingIdentity("key-secret", summary.client_email, name, notes=tuple(notes))
        notes.append(f"secret {name} has no {gcs_file} key (keys: {', '.join(summary.keys)})")
    gsa = ((service_account or {}).get("annotations") or {}).get(WI_ANNOTATION)
    if gsa:
        return ServingIdentity("workload-identity", gsa, gsa=gsa, notes=tuple(notes))
    return ServingIdentity("ambient", None, notes=tuple(notes))


def read_identity(
    cluster: Any, namespace: str, account: str
) -> tuple[ServingIdentity, dict[str, str] | None] | None:
    """Read a service account and its secrets, and resolve the identity KServe would give it;
    also the chosen key secret's data (in memory only). None when the account is missing."""
    from kubernetes.client.rest import ApiException

    try:
        sa = cluster.core.read_namespaced_service_account(account, namespace)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    summary = service_account_summary(cluster.api_client.sanitize_for_serialization(sa))
    raw: dict[str, dict[str, str]] = {}
    for name in summary["secrets"]:
        try:
            raw[name] = cluster.core.read_namespaced_secret(name, namespace).data or {}
        except ApiException:
            continue
    return identity_of_account(summary, raw)


def identity_of_account(
    account: dict[str, Any], secret_data: dict[str, dict[str, str]]
) -> tuple[ServingIdentity, dict[str, str] | None]:
    """The identity KServe gives pods of `account` (a service_account_summary), from the data
    of the secrets that could be read; and the chosen key secret's data."""
    summaries = {name: summarize_secret(name, data) for name, data in secret_data.items()}
    identity = resolve_identity({}, account, summaries)
    return identity, secret_data.get(identity.secret or "")
