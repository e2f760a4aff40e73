"""The predefined roles the local Google Cloud enforces: its own model of Google's table.

Kept apart from the published data that pytest_kfs.gcp.iam judges with, so the IAM suite run
on the embedded cluster checks this table against Google's rather than against itself. It
models only the permissions the stand-in has a use for; within those, each role must grant
exactly what Google publishes (tests/unit/test_local_roles.py compares the two).
"""

from __future__ import annotations

from collections.abc import Mapping

_GET = "storage.objects.get"
_LIST = "storage.objects.list"
_BUCKET_GET = "storage.buckets.get"
_PROJECT_READ = frozenset({"resourcemanager.projects.get", "resourcemanager.projects.list"})
_FOLDERS_LIST = frozenset({"storage.folders.list", "storage.managedFolders.list"})
_FOLDERS_READ = _FOLDERS_LIST | {"storage.folders.get", "storage.managedFolders.get"}
_OBJECTS_WRITE = frozenset(
    {"storage.objects.create", "storage.objects.delete", "storage.objects.restore"}
)
_OBJECTS_IAM = frozenset({"storage.objects.getIamPolicy", "storage.objects.setIamPolicy"})
_OBJECTS_USE = frozenset({_GET, _LIST, "storage.objects.update"}) | _OBJECTS_WRITE
_BUCKETS_IAM = frozenset({"storage.buckets.getIamPolicy", "storage.buckets.setIamPolicy"})
_BUCKETS_ALL = (
    frozenset(
        {
            "storage.buckets.create",
            "storage.buckets.delete",
            _BUCKET_GET,
            "storage.buckets.list",
            "storage.buckets.update",
        }
    )
    | _BUCKETS_IAM
)
_SA_READ = frozenset({"iam.serviceAccounts.get", "iam.serviceAccounts.list"})
_SA_TOKENS = frozenset({"iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.getOpenIdToken"})
# What every basic role holds at project level; storage.buckets.get is not among them (Google
# gives it to project members only through convenience values in bucket policies).
_BASIC = (
    frozenset(
        {
            "storage.buckets.list",
            "storage.folders.get",
            "storage.folders.list",
            "resourcemanager.projects.getIamPolicy",
            "iam.serviceAccounts.getIamPolicy",
        }
    )
    | _PROJECT_READ
    | _SA_READ
)

ROLE_PERMISSIONS: Mapping[str, frozenset[str]] = {
    "roles/storage.objectViewer": frozenset({_GET, _LIST}) | _FOLDERS_READ | _PROJECT_READ,
    "roles/storage.objectUser": _OBJECTS_USE | _FOLDERS_READ | _PROJECT_READ,
    "roles/storage.objectCreator": frozenset({"storage.objects.create"}) | _PROJECT_READ,
    "roles/storage.objectAdmin": _OBJECTS_USE | _OBJECTS_IAM | _FOLDERS_READ | _PROJECT_READ,
    "roles/storage.admin": _BUCKETS_ALL
    | _OBJECTS_USE
    | _OBJECTS_IAM
    | _FOLDERS_READ
    | _PROJECT_READ,
    "roles/storage.bucketViewer": frozenset({_BUCKET_GET, "storage.buckets.list"}),
    # Lists but cannot read: the object-read-denied scenario.
    "roles/storage.legacyBucketReader": frozenset({_BUCKET_GET, _LIST}) | _FOLDERS_READ,
    "roles/storage.legacyBucketWriter": frozenset({_BUCKET_GET, _LIST})
    | _OBJECTS_WRITE
    | _FOLDERS_READ,
    "roles/storage.legacyBucketOwner": frozenset({_BUCKET_GET, _LIST, "storage.buckets.update"})
    | _BUCKETS_IAM
    | _OBJECTS_WRITE
    | _FOLDERS_READ,
    "roles/storage.legacyObjectReader": frozenset({_GET}),
    "roles/storage.legacyObjectOwner": frozenset({_GET, "storage.objects.update"}) | _OBJECTS_IAM,
    "roles/viewer": _BASIC,
    "roles/editor": _BASIC | {"storage.buckets.create", "storage.buckets.delete"},
    "roles/owner": _BASIC
    | {"storage.buckets.create", "storage.buckets.delete", "iam.serviceAccounts.setIamPolicy"},
    "roles/iam.workloadIdentityUser": _SA_TOKENS | _SA_READ,
    "roles/iam.securityReviewer": frozenset(
        {
            "iam.serviceAccounts.getIamPolicy",
            "storage.buckets.getIamPolicy",
            "storage.objects.getIamPolicy",
            "resourcemanager.projects.getIamPolicy",
            "resourcemanager.projects.list",
            "storage.buckets.list",
            _LIST,
        }
    )
    | _FOLDERS_LIST
    | _SA_READ,
    "roles/iam.serviceAccountAdmin": frozenset(
        {"iam.serviceAccounts.getIamPolicy", "iam.serviceAccounts.setIamPolicy"}
    )
    | _SA_READ
    | _PROJECT_READ,
    "roles/iam.serviceAccountTokenCreator": frozenset(
        {"iam.serviceAccounts.signBlob", "iam.serviceAccounts.signJwt"}
    )
    | _SA_TOKENS
    | _SA_READ
    | _PROJECT_READ,
}

# Every permission this table speaks about: for these, a role must agree with Google.
MODELED_PERMISSIONS = frozenset[str]().union(*ROLE_PERMISSIONS.values())
BUCKET_ONLY_ROLES = frozenset(role for role in ROLE_PERMISSIONS if ".legacy" in role)


def permissions_of(role: str) -> frozenset[str]:
    """Permissions the local Google Cloud lets a role use (empty for roles it does not model)."""
    return ROLE_PERMISSIONS.get(role, frozenset())
