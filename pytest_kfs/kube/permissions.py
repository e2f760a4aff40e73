"""What pytest-kfs may do on a live cluster, and a start-up check that the credentials can.

The tables are the plugin's whole RBAC footprint (examples/rbac-deploy.yaml and
examples/nightly-cronjob.yaml grant exactly these). The check asks the API server with
SelfSubjectAccessReview — it needs no extra rights — and fails the run at once, naming each
missing permission, instead of failing test by test with 403s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.rest import ApiException

from pytest_kfs.kserve import api

KSERVE = api.GROUP


@dataclass(frozen=True)
class Permission:
    """One verb on one resource; `needed_for` says what breaks without it."""

    verb: str
    resource: str
    group: str = ""
    needed_for: str = ""
    required: bool = True

    def describe(self) -> str:
        """kubectl's words: `create namespaces`, `get pods/log`, `watch inferenceservices.
        serving.kserve.io`."""
        resource = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{self.verb} {resource}"


def _each(
    verbs: str, resource: str, group: str = "", needed_for: str = "", required: bool = True
) -> list[Permission]:
    return [Permission(verb, resource, group, needed_for, required) for verb in verbs.split()]


# Reading a model's state and explaining it: both modes need these.
READ = [
    *_each("get list watch", "inferenceservices", KSERVE, "watching models"),
    *_each("list watch", "pods", needed_for="watching the predictor pods"),
    *_each("list watch", "events", needed_for="watching events"),
    *_each("get", "pods/log", needed_for="reading storage-initializer logs for a diagnosis"),
    *_each("get", "serviceaccounts", needed_for="finding the serving identity"),
    *_each("get", "secrets", needed_for="telling whose key a secret holds (never its value)"),
    *_each("list", "servingruntimes", KSERVE, "explaining runtime problems", required=False),
    *_each("list", "clusterservingruntimes", KSERVE, "explaining runtime problems", required=False),
    *_each(
        "get", "configmaps", needed_for="reading KServe's inferenceservice-config", required=False
    ),
    *_each(
        "get",
        "deployments",
        "apps",
        "telling when a Standard-mode rollout has finished",
        required=False,
    ),
    *_each("list", "nodes", needed_for="preflight on GKE node identities", required=False),
]

# Verifying what runs (--kfs-existing): reading a fleet, one request per kind.
VERIFY = [
    *READ,
    *_each(
        "list",
        "serviceaccounts",
        needed_for="reading every account in one request (else one per account)",
        required=False,
    ),
    *_each(
        "list",
        "secrets",
        needed_for="reading every key secret in one request (else one per secret)",
        required=False,
    ),
]

# Deploying into a namespace the user names (--kfs-namespace), and deleting what it created.
DEPLOY_INTO = [
    *READ,
    *_each("create delete get", "inferenceservices", KSERVE, "deploying models"),
    *_each("create delete", "secrets", needed_for="kfs_deploy(credentials=...)"),
    *_each("create patch delete", "serviceaccounts", needed_for="kfs_deploy(credentials=...)"),
    *_each(
        "patch",
        "inferenceservices",
        KSERVE,
        "ModelHandle.update (state transitions)",
        required=False,
    ),
    *_each("create delete", "jobs", "batch", "the in-cluster bucket probe", required=False),
    *_each(
        "create", "services/proxy", needed_for="inference through the API server", required=False
    ),
]

# Deploying into fresh namespaces of its own.
DEPLOY = [
    *READ,
    *_each("create delete get", "namespaces", needed_for="a fresh namespace per test"),
    *_each("create delete", "inferenceservices", KSERVE, "deploying models"),
    *_each("create", "secrets", needed_for="kfs_deploy(credentials=...)"),
    *_each("create patch", "serviceaccounts", needed_for="kfs_deploy(credentials=...)"),
    *_each("list", "namespaces", needed_for="sweeping stale namespaces", required=False),
    *_each(
        "patch", "namespaces", needed_for="marking namespaces kept (--kfs-keep)", required=False
    ),
    *_each(
        "patch",
        "inferenceservices",
        KSERVE,
        "ModelHandle.update (state transitions)",
        required=False,
    ),
    *_each("create delete", "jobs", "batch", "the in-cluster bucket probe", required=False),
    *_each(
        "create", "services/proxy", needed_for="inference through the API server", required=False
    ),
]

Reviewer = Callable[[Permission, str], bool | None]


def review_with(api_client: client.ApiClient) -> Reviewer:
    """Ask the API server (SelfSubjectAccessReview) whether the caller may; None: cannot ask."""
    api = client.AuthorizationV1Api(api_client)

    def allowed(permission: Permission, namespace: str) -> bool | None:
        resource, _, subresource = permission.resource.partition("/")
        body = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    verb=permission.verb,
                    group=permission.group,
                    resource=resource,
                    subresource=subresource or None,
                    namespace=namespace or None,
                )
            )
        )
        try:
            return bool(
                api.create_self_subject_access_review(body, _request_timeout=10).status.allowed
            )
        except ApiException:
            return None

    return allowed


@dataclass
class Missing:
    """What the check found lacking; `unknown` when the API server would not say."""

    required: list[Permission]
    optional: list[Permission]
    unknown: bool = False


def missing(permissions: Iterable[Permission], review: Reviewer, namespace: str = "") -> Missing:
    """Every permission `review` refuses (reviews run in parallel)."""
    wanted = list(permissions)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda permission: review(permission, namespace), wanted))
    if any(answer is None for answer in answers):
        return Missing([], [], unknown=True)
    lacking = [permission for permission, ok in zip(wanted, answers, strict=True) if not ok]
    return Missing([p for p in lacking if p.required], [p for p in lacking if not p.required])


def missing_in(
    permissions: Iterable[Permission], review: Reviewer, namespaces: Iterable[str]
) -> Missing:
    """What `review` refuses in any of `namespaces` ("" : cluster-wide)."""
    wanted = list(permissions)
    found = [missing(wanted, review, namespace) for namespace in namespaces]
    if any(one.unknown for one in found):
        return Missing([], [], unknown=True)
    required = {p: None for one in found for p in one.required}
    optional = {p: None for one in found for p in one.optional}
    return Missing(list(required), list(optional))


def refusal(found: Missing, who: str, scope: str, read_only: bool) -> str:
    """The one-line error for missing required permissions."""
    names = ", ".join(p.describe() for p in found.required)
    example = (
        "examples/nightly-cronjob.yaml (ClusterRole kfs-nightly-read-only)"
        if read_only
        else "examples/rbac-deploy.yaml (ClusterRole pytest-kfs-deploy)"
    )
    alternative = "" if read_only else "; or verify what runs, read-only, with --kfs-existing"
    return (
        f"the credentials of {who} lack what pytest-kfs needs {scope}: {names} "
        f"(asked the API server with SelfSubjectAccessReview); grant {example}"
        f"{alternative}"
    )


def degraded(found: Missing) -> str:
    """A header line for optional permissions that are missing (what will not work)."""
    parts = sorted({f"{p.describe()} ({p.needed_for})" for p in found.optional})
    return "kfs permissions: without " + "; ".join(parts) if parts else ""
