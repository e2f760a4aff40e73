"""The state of the local GCP: projects, buckets, objects, service accounts, keys, policies."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pytest_kfs.errors import KfsError
from pytest_kfs.gcp.iam import BASIC_ROLES, Binding, Principal
from pytest_kfs.local.gcp.roles import BUCKET_ONLY_ROLES, ROLE_PERMISSIONS

TOKEN_LIFETIME_SECONDS = 3600


class WorldError(KfsError, ValueError):
    """An arrangement Google itself would refuse (e.g. a legacy role on a project)."""


@dataclass
class StoredObject:
    """An object's bytes and the metadata the JSON API returns."""

    name: str
    data: bytes
    generation: int
    content_type: str = "application/octet-stream"

    @property
    def md5(self) -> str:
        """Base64 MD5, as in the JSON API."""
        return base64.b64encode(hashlib.md5(self.data).digest()).decode()


@dataclass
class Bucket:
    """A bucket with its IAM policy and the settings that change who can read it."""

    name: str
    project: str
    bindings: list[Binding] = field(default_factory=list)
    objects: dict[str, StoredObject] = field(default_factory=dict)
    uniform_access: bool = True
    requester_pays: bool = False
    etag_version: int = 1


@dataclass
class ServiceAccount:
    """A Google service account with its keys and its own IAM policy (for WI, impersonation)."""

    email: str
    project: str
    keys: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)
    disabled_keys: set[str] = field(default_factory=set)
    bindings: list[Binding] = field(default_factory=list)
    deleted: bool = False


@dataclass
class Project:
    """A project: its number (used in WI principals) and its IAM policy."""

    project_id: str
    number: str
    bindings: list[Binding] = field(default_factory=list)


class GcpWorld:
    """Thread-safe state behind the local token, metadata and storage endpoints."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.projects: dict[str, Project] = {}
        self.buckets: dict[str, Bucket] = {}
        self.service_accounts: dict[str, ServiceAccount] = {}
        self.tokens: dict[str, tuple[Principal, float]] = {}
        self.issued_private_keys: list[str] = []  # kept only so leak tests know what to look for
        self.token_uri = "http://127.0.0.1:0/token"
        self._generation = 1_700_000_000_000_000

    # -- arranging a world -------------------------------------------------------------------
    def add_project(self, project_id: str, number: str | None = None) -> Project:
        """Create (or return) a project."""
        with self.lock:
            if project_id not in self.projects:
                number = number or str(100000000000 + len(self.projects) * 7919)
                self.projects[project_id] = Project(project_id, number)
            return self.projects[project_id]

    def add_bucket(
        self, name: str, project: str, *, uniform_access: bool = True, requester_pays: bool = False
    ) -> Bucket:
        """Create a bucket in a project."""
        with self.lock:
            self.add_project(project)
            bucket = Bucket(
                name, project, uniform_access=uniform_access, requester_pays=requester_pays
            )
            self.buckets[name] = bucket
            return bucket

    def delete_bucket(self, name: str) -> None:
        """Remove a bucket and its objects."""
        with self.lock:
            self.buckets.pop(name, None)

    def put_object(
        self, bucket: str, name: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        """Store an object (new generation each time)."""
        with self.lock:
            self._generation += 1
            stored = StoredObject(name, data, self._generation, content_type)
            self.buckets[bucket].objects[name] = stored
            return stored

    def add_service_account(self, email: str) -> ServiceAccount:
        """Create a Google service account (project taken from the email)."""
        with self.lock:
            project = email.split("@", 1)[1].split(".", 1)[0]
            self.add_project(project)
            account = ServiceAccount(email, project)
            self.service_accounts[email] = account
            return account

    def create_key(self, email: str) -> dict[str, Any]:
        """A fresh service-account key file (JSON) whose token_uri is the local endpoint."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_id = secrets.token_hex(20)
        with self.lock:
            account = self.service_accounts[email]
            account.keys[key_id] = private.public_key()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        with self.lock:
            self.issued_private_keys.append(pem)
        return {
            "type": "service_account",
            "project_id": account.project,
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": str(int(hashlib.sha256(email.encode()).hexdigest()[:15], 16)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        }

    def secret_values(self) -> list[str]:
        """Every private key and access token this world handed out (for leak scans)."""
        with self.lock:
            return [*self.issued_private_keys, *self.tokens]

    def disable_key(self, email: str, key_id: str) -> None:
        """Disable a key: token requests signed with it fail like Google's."""
        with self.lock:
            self.service_accounts[email].disabled_keys.add(key_id)

    def delete_key(self, email: str, key_id: str) -> None:
        """Delete a key."""
        with self.lock:
            self.service_accounts[email].keys.pop(key_id, None)

    def grant_bucket(
        self, bucket: str, role: str, member: str, condition: str | None = None
    ) -> None:
        """Add a binding to a bucket's policy."""
        self._check_role(role)
        with self.lock:
            target = self.buckets[bucket]
            target.bindings.append(Binding(role, (member,), condition))
            target.etag_version += 1

    def grant_project(self, project: str, role: str, member: str) -> None:
        """Add a binding to a project's policy (legacy bucket roles are refused, as by Google)."""
        self._check_role(role)
        if role in BUCKET_ONLY_ROLES:
            raise WorldError(f"{role} can only be granted on a bucket, not on project {project}")
        with self.lock:
            self.add_project(project).bindings.append(Binding(role, (member,)))

    def grant_service_account(self, email: str, role: str, member: str) -> None:
        """Add a binding to a service account's own policy (e.g. workloadIdentityUser)."""
        self._check_role(role)
        with self.lock:
            self.service_accounts[email].bindings.append(Binding(role, (member,)))

    def revoke_service_account(self, email: str, role: str, member: str) -> None:
        """Remove a member from a role on a service account's policy."""
        with self.lock:
            account = self.service_accounts[email]
            account.bindings = [
                b for b in account.bindings if not (b.role == role and member in b.members)
            ]

    @staticmethod
    def _check_role(role: str) -> None:
        if role not in ROLE_PERMISSIONS:
            raise WorldError(f"unknown role {role}")

    # -- what the endpoints need ------------------------------------------------------------
    def issue_token(self, principal: Principal) -> str:
        """An opaque access token for a principal."""
        token = "ya29.local-" + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = (principal, time.time() + TOKEN_LIFETIME_SECONDS)
        return token

    def principal_for_token(self, token: str) -> Principal | None:
        """Who a bearer token belongs to, or None when unknown or expired."""
        with self.lock:
            entry = self.tokens.get(token)
        if entry is None or entry[1] < time.time():
            return None
        return entry[0]

    def policies_for_bucket(self, bucket: Bucket) -> list[tuple[str, list[Binding]]]:
        """Allow policies that apply to a bucket and its objects, nearest first."""
        project = self.projects.get(bucket.project)
        levels = [(f"bucket {bucket.name}", bucket.bindings)]
        if project:
            # Basic roles reach object data only through bucket convenience values.
            project_bindings = [b for b in project.bindings if b.role not in BASIC_ROLES]
            project_bindings += [b for b in project.bindings if b.role in BASIC_ROLES]
            levels.append((f"project {project.project_id}", project_bindings))
        return levels

    def bucket_policy_json(self, bucket: Bucket) -> dict[str, Any]:
        """The bucket's IAM policy as the JSON API returns it (v3)."""
        return {
            "kind": "storage#policy",
            "resourceId": f"projects/_/buckets/{bucket.name}",
            "version": 3,
            "etag": base64.b64encode(str(bucket.etag_version).encode()).decode(),
            "bindings": [binding.to_json() for binding in bucket.bindings],
        }

    def set_bucket_policy_json(self, bucket: Bucket, policy: dict[str, Any]) -> None:
        """Replace a bucket's bindings from a JSON policy."""
        bindings = [Binding.from_json(entry) for entry in policy.get("bindings", [])]
        for binding in bindings:
            self._check_role(binding.role)
        with self.lock:
            bucket.bindings = bindings
            bucket.etag_version += 1
