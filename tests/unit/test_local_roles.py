"""The local Google Cloud's role table against Google's published roles, which the suites judge
with: drift in the stand-in fails here, naming the role and permission."""

from __future__ import annotations

from pytest_kfs.gcp import iam
from pytest_kfs.local.gcp import roles as local_roles

# What a KServe storage initializer needs to download a model from a bucket.
DOWNLOAD = frozenset({iam.GET, iam.LIST, iam.BUCKET_GET})


def test_published_roles_load_and_name_their_source():
    published = iam.load_published_roles()
    assert published.source["reference"].startswith("https://cloud.google.com/iam/")
    assert iam.GET in published.permissions["roles/storage.objectViewer"]
    # Only what matters here is kept: a permission of another service is not answered for.
    assert not published.covers("roles/owner", "compute.instances.create")


def test_published_data_names_every_role_the_code_names():
    named = (
        set(local_roles.ROLE_PERMISSIONS)
        | iam.BASIC_ROLES
        | iam.OVERBROAD_READ_ROLES
        | iam.BUCKET_ONLY_ROLES
        | local_roles.BUCKET_ONLY_ROLES
    )
    assert not named - set(iam.ROLE_PERMISSIONS)
    # The roles flagged as broader than serving needs read a model and can also change it.
    for role in iam.OVERBROAD_READ_ROLES:
        assert iam.permissions_of(role) >= {iam.GET, iam.LIST, "storage.objects.delete"}, role


def _disagreements() -> list[str]:
    published = iam.PUBLISHED_ROLES
    checked = local_roles.MODELED_PERMISSIONS | DOWNLOAD
    found = []
    for role, granted in sorted(local_roles.ROLE_PERMISSIONS.items()):
        if role not in published.permissions:
            found.append(f"{role}: not in Google's published roles")
            continue
        for permission in sorted(checked):
            if not published.covers(role, permission):
                found.append(f"{role} {permission}: the published data cannot say (trimmed)")
            elif (permission in granted) != (permission in published.permissions[role]):
                found.append(
                    f"{role} {permission}: "
                    + (
                        "the local Google Cloud grants it, Google does not"
                        if permission in granted
                        else "Google grants it, the local Google Cloud does not"
                    )
                )
    return found


def test_the_local_google_cloud_enforces_google_s_roles():
    # For every role the stand-in models and every permission it speaks about (at least the
    # download's), it grants exactly what Google publishes.
    assert DOWNLOAD <= local_roles.MODELED_PERMISSIONS
    disagreements = _disagreements()
    assert not disagreements, (
        "local/gcp/roles.py disagrees with Google's published roles:\n" + "\n".join(disagreements)
    )


def test_a_drifted_stand_in_is_named(monkeypatch):
    drifted = dict(local_roles.ROLE_PERMISSIONS)
    drifted["roles/viewer"] = drifted["roles/viewer"] | {iam.BUCKET_GET}
    drifted["roles/storage.legacyBucketReader"] = drifted["roles/storage.legacyBucketReader"] - {
        iam.LIST
    }
    monkeypatch.setattr(local_roles, "ROLE_PERMISSIONS", drifted)
    assert _disagreements() == [
        "roles/storage.legacyBucketReader storage.objects.list: Google grants it, the local "
        "Google Cloud does not",
        "roles/viewer storage.buckets.get: the local Google Cloud grants it, Google does not",
    ]


def test_evaluate_can_enforce_another_table():
    reader = iam.Principal.service_account("r@p.iam.gserviceaccount.com")
    binding = iam.Binding("roles/custom.reader", ("serviceAccount:r@p.iam.gserviceaccount.com",))
    request = iam.Request(iam.GET, iam.object_resource("models", "m"))
    levels = [("bucket models", [binding])]
    assert not iam.evaluate(reader, request, levels).allowed
    assert iam.evaluate(
        reader, request, levels, permissions=lambda role: frozenset({iam.GET})
    ).allowed
