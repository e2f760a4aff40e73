"""The admin API of a Google Cloud the run serves itself (the embedded cluster's local one):
what `kfs_gcp` hands to tests to arrange buckets, objects, service accounts, keys and grants.
A protocol only; the local cloud implements it, in this process and over its admin endpoint."""

from __future__ import annotations

from typing import Any, Protocol


class CloudAdmin(Protocol):
    """Arrange a cloud's world: buckets and objects, service accounts and keys, IAM grants."""

    def ensure_bucket(
        self, name: str, project: str, uniform_access: bool = True, requester_pays: bool = False
    ) -> None:
        """Create a bucket unless it exists."""

    def delete_bucket(self, name: str) -> None:
        """Delete a bucket and its objects."""

    def put_object(self, bucket: str, name: str, data: bytes) -> None:
        """Write an object."""

    def has_object(self, bucket: str, name: str) -> bool:
        """Whether the object exists."""

    def has_objects_under(self, bucket: str, prefix: str) -> bool:
        """Whether any object's name starts with `prefix/`."""

    def copy_object(self, bucket: str, name: str, to_bucket: str, to_name: str) -> None:
        """Copy an object."""

    def ensure_service_account(self, email: str) -> None:
        """Create a Google service account unless it exists."""

    def create_key(self, email: str) -> dict[str, Any]:
        """A new key of the account, as `gcloud iam service-accounts keys create` writes it."""

    def disable_key(self, email: str, key_id: str) -> None:
        """Disable a key (its token exchange then fails with invalid_grant)."""

    def delete_key(self, email: str, key_id: str) -> None:
        """Delete a key."""

    def grant_bucket(
        self, bucket: str, role: str, member: str, condition: str | None = None
    ) -> None:
        """Add a bucket IAM binding."""

    def grant_project(self, project: str, role: str, member: str) -> None:
        """Add a project IAM binding."""

    def grant_service_account(self, email: str, role: str, member: str) -> None:
        """Add a binding on a service account (e.g. roles/iam.workloadIdentityUser)."""

    def revoke_service_account(self, email: str, role: str, member: str) -> None:
        """Remove a binding from a service account."""

    def enable_workload_identity(self, project: str, namespace: str | None = None) -> None:
        """Serve GKE's metadata server to pods (of `namespace`, or all)."""

    def access_log(self) -> list[dict[str, Any]]:
        """Every request the cloud answered: who, what, the status."""

    def endpoint(self) -> str:
        """Base URL of its storage API and token endpoint."""
