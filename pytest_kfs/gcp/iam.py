"""Google IAM for Cloud Storage (pure): roles -> permissions, members, conditions, evaluation.

Roles grant what Google publishes (published_roles.py, as `gcloud iam roles describe` lists
them), not what the local Google Cloud enforces
(pytest_kfs.local.gcp.roles), so on the embedded cluster the IAM suite does not judge the
stand-in by its own table. Legacy roles can be granted on buckets only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

LIST = "storage.objects.list"
GET = "storage.objects.get"
BUCKET_GET = "storage.buckets.get"


@dataclass(frozen=True)
class PublishedRoles:
    """Google's predefined roles as published, with where they were copied from."""

    permissions: Mapping[str, frozenset[str]]
    source: Mapping[str, Any]
    # Roles whose permission lists were cut to these prefixes/permissions when copied.
    trimmed: frozenset[str] = frozenset()
    kept_prefixes: tuple[str, ...] = ()
    kept_permissions: frozenset[str] = frozenset()

    def covers(self, role: str, permission: str) -> bool:
        """Whether the data can say if `role` grants `permission` (trimmed roles cannot for
        the permissions cut from them)."""
        if role not in self.permissions:
            return False
        return (
            role not in self.trimmed
            or permission in self.kept_permissions
            or permission.startswith(self.kept_prefixes)
        )


def load_published_roles() -> PublishedRoles:
    """Google's published roles (gcp/published_roles.py), every one cut to what matters here."""
    from pytest_kfs.gcp import published_roles

    return PublishedRoles(
        permissions={role: frozenset(kept) for role, kept in published_roles.ROLES.items()},
        source=published_roles.SOURCE,
        trimmed=frozenset(published_roles.ROLES),
        kept_prefixes=published_roles.KEPT_PREFIXES,
        kept_permissions=published_roles.KEPT_PERMISSIONS,
    )


PUBLISHED_ROLES = load_published_roles()
# Predefined role -> permissions, as Google publishes them (trimmed roles: see PublishedRoles).
ROLE_PERMISSIONS: Mapping[str, frozenset[str]] = PUBLISHED_ROLES.permissions

BUCKET_ONLY_ROLES = frozenset(role for role in ROLE_PERMISSIONS if ".legacy" in role)
BASIC_ROLES = frozenset({"roles/viewer", "roles/editor", "roles/owner"})
# Roles that read a model but grant more than serving needs.
OVERBROAD_READ_ROLES = frozenset(
    {"roles/storage.admin", "roles/storage.objectAdmin", "roles/storage.objectUser"}
)


def permissions_of(role: str) -> frozenset[str]:
    """Permissions a predefined role grants, as published (empty for unknown roles)."""
    return ROLE_PERMISSIONS.get(role, frozenset())


@dataclass(frozen=True)
class Principal:
    """Who a request is made as: members that match it, and how Google names it in errors."""

    display: str
    members: frozenset[str] = field(default_factory=frozenset)
    anonymous: bool = False

    @staticmethod
    def service_account(email: str) -> Principal:
        """A Google service account."""
        return Principal(email, frozenset({f"serviceAccount:{email}", "allAuthenticatedUsers"}))

    @staticmethod
    def kubernetes_service_account(
        project_id: str, project_number: str, namespace: str, name: str
    ) -> Principal:
        """A Workload Identity federated KSA principal (unannotated KSA on a WI node pool)."""
        pool = f"{project_id}.svc.id.goog"
        members = {
            f"serviceAccount:{pool}[{namespace}/{name}]",
            f"principal://iam.googleapis.com/projects/{project_number}/locations/global/"
            f"workloadIdentityPools/{pool}/subject/ns/{namespace}/sa/{name}",
            "allAuthenticatedUsers",
        }
        return Principal(f"{pool}[{namespace}/{name}]", frozenset(members))

    @staticmethod
    def nobody() -> Principal:
        """An anonymous caller."""
        return Principal("Anonymous caller", frozenset(), anonymous=True)

    def matches(self, member: str) -> bool:
        """Whether a binding member names this principal."""
        return member == "allUsers" or member in self.members


@dataclass(frozen=True)
class Binding:
    """One role granted to members, optionally under a condition expression."""

    role: str
    members: tuple[str, ...]
    condition: str | None = None
    condition_title: str | None = None

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Binding:
        """From a JSON policy binding."""
        condition = data.get("condition") or {}
        return Binding(
            role=data["role"],
            members=tuple(data.get("members", [])),
            condition=condition.get("expression"),
            condition_title=condition.get("title"),
        )

    def to_json(self) -> dict[str, Any]:
        """As a JSON policy binding."""
        data: dict[str, Any] = {"role": self.role, "members": list(self.members)}
        if self.condition:
            data["condition"] = {
                "expression": self.condition,
                "title": self.condition_title or "condition",
            }
        return data


@dataclass(frozen=True)
class Request:
    """What a permission is checked on: the resource name and, for lists, the prefix."""

    permission: str
    resource_name: str
    list_prefix: str = ""


_ATOM = re.compile(
    r"""^\s*(?P<lhs>resource\.name|resource\.type|
        api\.getAttribute\(\s*["']storage\.googleapis\.com/objectListPrefix["']\s*,\s*["']["']\s*\))
        \s*(?:\.(?P<method>startsWith|endsWith)\(\s*["'](?P<arg>[^"']*)["']\s*\)
        |\s*(?P<op>==|!=)\s*["'](?P<value>[^"']*)["'])\s*$""",
    re.VERBOSE,
)


def _evaluate_atom(atom: str, request: Request) -> bool:
    atom = atom.strip()
    while atom.startswith("(") and atom.endswith(")"):
        atom = atom[1:-1].strip()
    if atom == "true":
        return True
    if atom == "false":
        return False
    match = _ATOM.match(atom)
    if not match:
        return False  # an expression we do not understand never grants
    lhs = match["lhs"]
    if lhs == "resource.name":
        subject = request.resource_name
    elif lhs == "resource.type":
        subject = (
            "storage.googleapis.com/Object"
            if "/objects/" in request.resource_name
            else "storage.googleapis.com/Bucket"
        )
    else:
        subject = request.list_prefix if request.permission == LIST else ""
    if match["method"] == "startsWith":
        return subject.startswith(match["arg"])
    if match["method"] == "endsWith":
        return subject.endswith(match["arg"])
    equal = subject == match["value"]
    return equal if match["op"] == "==" else not equal


def condition_holds(expression: str | None, request: Request) -> bool:
    """Evaluate the CEL subset used for storage conditions (`||` of `&&` of atoms)."""
    if not expression:
        return True
    return any(
        all(_evaluate_atom(atom, request) for atom in disjunct.split("&&"))
        for disjunct in expression.split("||")
    )


@dataclass(frozen=True)
class Decision:
    """The answer to 'may principal P do permission X on R', with the binding that grants it."""

    allowed: bool
    granted_by: Binding | None = None
    level: str | None = None


def evaluate(
    principal: Principal,
    request: Request,
    policies: Iterable[tuple[str, Iterable[Binding]]],
    permissions: Callable[[str], frozenset[str]] = permissions_of,
) -> Decision:
    """Allow policies are additive: the first matching binding at any level grants.

    `permissions` maps a role to what it grants: Google's published roles unless an enforcer
    (the local Google Cloud) passes its own table."""
    for level, bindings in policies:
        for binding in bindings:
            if request.permission not in permissions(binding.role):
                continue
            if not any(principal.matches(member) for member in binding.members):
                continue
            if condition_holds(binding.condition, request):
                return Decision(True, binding, level)
    return Decision(False)


def bucket_resource(bucket: str) -> str:
    """IAM resource name of a bucket."""
    return f"projects/_/buckets/{bucket}"


def object_resource(bucket: str, name: str) -> str:
    """IAM resource name of an object."""
    return f"projects/_/buckets/{bucket}/objects/{name}"


@dataclass(frozen=True)
class Explanation:
    """Which bindings give a principal the serving permissions, and what is missing."""

    granting: dict[str, list[Binding]]
    missing: tuple[str, ...]
    overbroad: tuple[Binding, ...]


def explain(
    principal: Principal,
    bucket: str,
    sample_object: str,
    policies: Iterable[tuple[str, Iterable[Binding]]],
    needed: Iterable[str] = (LIST, GET),
) -> Explanation:
    """For each needed permission, the bindings that grant it; flag roles broader than needed."""
    levels = [(level, list(bindings)) for level, bindings in policies]
    granting: dict[str, list[Binding]] = {}
    for permission in needed:
        resource = (
            bucket_resource(bucket)
            if permission == LIST
            else object_resource(bucket, sample_object)
        )
        request = Request(
            permission,
            resource,
            list_prefix=sample_object.rsplit("/", 1)[0] + "/" if "/" in sample_object else "",
        )
        granting[permission] = [
            binding
            for _, bindings in levels
            for binding in bindings
            if permission in permissions_of(binding.role)
            and any(principal.matches(member) for member in binding.members)
            and condition_holds(binding.condition, request)
        ]
    overbroad = tuple(
        binding
        for _, bindings in levels
        for binding in bindings
        if (binding.role in OVERBROAD_READ_ROLES or binding.role in BASIC_ROLES)
        and any(principal.matches(member) for member in binding.members)
    )
    missing = tuple(permission for permission, found in granting.items() if not found)
    return Explanation(granting, missing, overbroad)
