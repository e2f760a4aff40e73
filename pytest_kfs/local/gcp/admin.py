"""Arrange the local GCP from any process: in-process, or over its loopback admin endpoint.

xdist workers do not share memory with the process running the embedded cluster, so tests and
fixtures arrange worlds through this small API; both implementations behave the same.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

from pytest_kfs.local.gcp.state import GcpState
from pytest_kfs.local.gcp.world import WorldError

# The state, not the server: the server imports this module to serve the admin endpoint.
from pytest_kfs.local.loopback import open_url

ADMIN_PATH = "/_kfs/admin"
ADMIN_HEADER = "X-Kfs-Admin-Token"


class GcpAdmin:
    """Operations on the local GCP's world, applied to a LocalGcp in this process."""

    def __init__(self, gcp: GcpState) -> None:
        self._gcp = gcp

    def ensure_bucket(
        self, name: str, project: str, uniform_access: bool = True, requester_pays: bool = False
    ) -> None:
        """Create a bucket unless it exists."""
        world = self._gcp.world
        with world.lock:
            if name not in world.buckets:
                world.add_bucket(
                    name, project, uniform_access=uniform_access, requester_pays=requester_pays
                )

    def delete_bucket(self, name: str) -> None:
        """Delete a bucket and its objects."""
        self._gcp.world.delete_bucket(name)

    def put_object(self, bucket: str, name: str, data: bytes) -> None:
        """Store an object."""
        self._gcp.world.put_object(bucket, name, data)

    def has_object(self, bucket: str, name: str) -> bool:
        """Whether the bucket holds an object of that name."""
        world = self._gcp.world
        with world.lock:
            return bucket in world.buckets and name in world.buckets[bucket].objects

    def has_objects_under(self, bucket: str, prefix: str) -> bool:
        """Whether the bucket exists and holds an object under `prefix`."""
        world = self._gcp.world
        with world.lock:
            return bucket in world.buckets and any(
                name.startswith(prefix) for name in world.buckets[bucket].objects
            )

    def copy_object(self, bucket: str, name: str, to_bucket: str, to_name: str) -> None:
        """Copy an object (the target bucket must exist)."""
        world = self._gcp.world
        with world.lock:
            data = world.buckets[bucket].objects[name].data
        world.put_object(to_bucket, to_name, data)

    def ensure_service_account(self, email: str) -> None:
        """Create a Google service account unless it exists."""
        world = self._gcp.world
        with world.lock:
            if email not in world.service_accounts:
                world.add_service_account(email)

    def create_key(self, email: str) -> dict[str, Any]:
        """A new key file (JSON) for a service account."""
        return self._gcp.world.create_key(email)

    def disable_key(self, email: str, key_id: str) -> None:
        """Disable a key."""
        self._gcp.world.disable_key(email, key_id)

    def delete_key(self, email: str, key_id: str) -> None:
        """Delete a key."""
        self._gcp.world.delete_key(email, key_id)

    def grant_bucket(
        self, bucket: str, role: str, member: str, condition: str | None = None
    ) -> None:
        """Add a bucket IAM binding (no duplicate if it exists)."""
        world = self._gcp.world
        with world.lock:
            held = world.buckets[bucket].bindings
            if not any(
                b.role == role and member in b.members and b.condition == condition for b in held
            ):
                world.grant_bucket(bucket, role, member, condition)

    def grant_project(self, project: str, role: str, member: str) -> None:
        """Add a project IAM binding."""
        self._gcp.world.grant_project(project, role, member)

    def grant_service_account(self, email: str, role: str, member: str) -> None:
        """Add a binding on a service account's own policy."""
        self._gcp.world.grant_service_account(email, role, member)

    def revoke_service_account(self, email: str, role: str, member: str) -> None:
        """Remove a member from a role on a service account's policy."""
        self._gcp.world.revoke_service_account(email, role, member)

    def enable_workload_identity(self, project: str, namespace: str | None = None) -> None:
        """Put a namespace (or, with None, every namespace) on a Workload Identity node pool."""
        self._gcp.workload_identity_project = project
        if namespace is None:
            self._gcp.metadata_everywhere = True
        else:
            self._gcp.metadata_namespaces.add(namespace)

    def access_log(self) -> list[dict[str, Any]]:
        """Every request the local GCP answered: principal, method, path, status."""
        return [vars(record).copy() for record in list(self._gcp.access_log)]

    def endpoint(self) -> str:
        """Base URL of the local storage API and token endpoint."""
        return self._gcp.endpoint


ADMIN_METHODS = frozenset(name for name in vars(GcpAdmin) if not name.startswith("_"))


def dispatch(admin: GcpAdmin, request: dict[str, Any]) -> Any:
    """Run one admin request (method name, args, kwargs) received over HTTP."""
    method = request["method"]
    if method not in ADMIN_METHODS:
        raise ValueError(f"unknown admin method {method}")
    kwargs = dict(request.get("kwargs") or {})
    if "data_b64" in kwargs:
        kwargs["data"] = base64.b64decode(kwargs.pop("data_b64"))
    return getattr(admin, method)(*request.get("args") or [], **kwargs)


class RemoteGcpAdmin:
    """The same operations, sent to the local GCP of another process (an xdist controller)."""

    def __init__(self, endpoint: str, token: str) -> None:
        self._endpoint = endpoint
        self._token = token

    def __getattr__(self, method: str) -> Any:
        if method not in ADMIN_METHODS:
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> Any:
            if method == "put_object" and len(args) == 3:
                kwargs = {**kwargs, "data": args[2]}
                args = args[:2]
            if "data" in kwargs:
                kwargs["data_b64"] = base64.b64encode(kwargs.pop("data")).decode()
            body = json.dumps({"method": method, "args": list(args), "kwargs": kwargs})
            request = urllib.request.Request(
                self._endpoint + ADMIN_PATH,
                data=body.encode(),
                method="POST",
                headers={ADMIN_HEADER: self._token, "Content-Type": "application/json"},
            )
            try:
                with open_url(request, timeout=30) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as error:
                detail = json.loads(error.read() or b"{}").get("error", error.reason)
                raise WorldError(f"local GCP refused {method}: {detail}") from None

        return call
