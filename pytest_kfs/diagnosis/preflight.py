"""Preflight: will this model load? Answered from the cluster's objects and Google's APIs,
before anything is deployed and without a single write to the cluster.

It resolves the runtime and the serving identity exactly as KServe would, then does KServe's
list-then-get as that identity: with the key file, by impersonating the Workload Identity
account (after checking the workloadIdentityUser binding), or anonymously off GCP. The
prediction is `loads`, `fails: <finding code>` or `unknown: <what could not be checked>`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

import requests
from google.auth import credentials as auth_credentials
from google.auth import exceptions as auth_exceptions
from google.auth import impersonated_credentials
from google.cloud import storage
from kubernetes.client.rest import ApiException

from pytest_kfs.diagnosis.codes import Code
from pytest_kfs.gcp.http import authorized_session, storage_client
from pytest_kfs.gcp.identity import ServingIdentity, read_identity
from pytest_kfs.gcp.storage import (
    AccessCheck,
    KeyCheck,
    check_access,
    check_key,
    client_for_key,
    retrying_within,
)
from pytest_kfs.gcp.uri import parse_gcs_uri
from pytest_kfs.kserve import api
from pytest_kfs.kserve.runtimes import select_runtime
from pytest_kfs.kserve.spec import ModelSpec
from pytest_kfs.kube.cluster import Cluster
from pytest_kfs.once import Once

GOOGLE_IAM = "https://iam.googleapis.com"
GOOGLE_IAM_CREDENTIALS = "https://iamcredentials.googleapis.com"
READ_SCOPE = "https://www.googleapis.com/auth/devstorage.read_only"
GKE_NODE_LABEL = "cloud.google.com/gke-nodepool"


@dataclass(frozen=True)
class Prediction:
    """What preflight expects a deploy to do."""

    outcome: str  # loads | fails | unknown
    code: Code | None = None
    reason: str = ""
    principal: str | None = None

    def describe(self) -> str:
        """`loads`, `fails: CODE (reason)` or `unknown: reason`."""
        if self.outcome == "loads":
            return f"loads ({self.reason})" if self.reason else "loads"
        if self.outcome == "fails":
            return f"fails: {self.code} ({self.reason})"
        return f"unknown: {self.reason}"


@dataclass
class GoogleAccess:
    """The operator's view of Google: credentials and where the APIs are."""

    credentials: auth_credentials.Credentials | None
    storage_endpoint: str | None = None
    iam_endpoint: str = GOOGLE_IAM
    iam_credentials_endpoint: str = GOOGLE_IAM_CREDENTIALS
    project: str | None = None

    def endpoints(self) -> tuple[str | None, ...]:
        """The Google endpoints this run was configured with (a key's token_uri may be one)."""
        return (self.storage_endpoint, self.iam_endpoint, self.iam_credentials_endpoint)

    def storage_client(self, credentials: auth_credentials.Credentials | None) -> storage.Client:
        """A storage client acting with `credentials` (anonymous when None)."""
        return storage_client(credentials, self.project or "-", self.storage_endpoint)


class ClusterView(Protocol):
    """What preflight reads from a cluster: live (one request per question) or a fleet
    snapshot (each kind read once for the run)."""

    def runtimes(self, namespace: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(namespace's ServingRuntime specs, ClusterServingRuntime specs) by name; raises
        ApiException when they cannot be listed."""

    def identity(
        self, namespace: str, account: str
    ) -> tuple[ServingIdentity, dict[str, str] | None] | None:
        """The identity KServe gives pods of `account`, and its key secret's data; None when
        the account does not exist."""

    def on_gke(self) -> bool | None:
        """Whether nodes are GKE's (pods without a key then act as the node's account);
        None when the nodes cannot be listed."""


@dataclass
class LiveView:
    """A cluster asked directly, question by question."""

    cluster: Cluster

    def runtimes(self, namespace: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Both kinds of runtime, listed now."""
        custom = self.cluster.custom
        cluster_runtimes = custom.list_cluster_custom_object(
            api.GROUP, api.RUNTIME_VERSION, "clusterservingruntimes"
        )["items"]
        namespaced = custom.list_namespaced_custom_object(
            api.GROUP, api.RUNTIME_VERSION, namespace, "servingruntimes"
        )["items"]
        return (
            {r["metadata"]["name"]: r["spec"] for r in namespaced},
            {r["metadata"]["name"]: r["spec"] for r in cluster_runtimes},
        )

    def identity(
        self, namespace: str, account: str
    ) -> tuple[ServingIdentity, dict[str, str] | None] | None:
        """The account and its secrets, read now."""
        return read_identity(self.cluster, namespace, account)

    def on_gke(self) -> bool | None:
        """Nodes listed now."""
        try:
            nodes = self.cluster.core.list_node().items
        except ApiException:
            return None
        return any(GKE_NODE_LABEL in (node.metadata.labels or {}) for node in nodes)


T = TypeVar("T")


@dataclass(repr=False)
class GoogleChecks:
    """Google's answers within one prediction, or shared by a whole fleet run: each
    (principal, bucket, prefix) is checked once, a principal's credentials (and so its token)
    are made once, and retries of unanswered requests come from one budget."""

    retry_budget: int = 100
    _answers: Once[Any] = field(default_factory=Once)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def __repr__(self) -> str:
        return f"GoogleChecks({len(self._answers)} answers, {self.retry_budget} retries left)"

    def once(self, key: Hashable, compute: Callable[[], T]) -> T:
        """compute() the first time `key` is asked (other threads asking wait for it)."""
        answer: T = self._answers.get(key, compute)
        return answer

    def spend_retry(self) -> bool:
        """Take one retry from the budget; False once it is spent (then errors stand)."""
        with self._guard:
            if self.retry_budget <= 0:
                return False
            self.retry_budget -= 1
            return True

    def key_check(self, key: dict[str, str], access: GoogleAccess) -> KeyCheck:
        """check_key, once per key."""
        return self.once(
            ("key", _key_id(key)), lambda: check_key(key, private_endpoints=access.endpoints())
        )

    def access(
        self, principal: Hashable, uri: str, client: Callable[[], storage.Client]
    ) -> AccessCheck:
        """KServe's list-then-get of `uri` as `principal`, once; the principal's client once."""

        def run() -> AccessCheck:
            made = self.once(("client", principal), client)
            return check_access(made, uri, retrying_within(self.spend_retry))

        return self.once(("access", principal, *_bucket_and_prefix(uri)), run)


def _key_id(key: dict[str, str]) -> str:
    """A key secret's identity for caching: its data, hashed (never kept in the clear)."""
    import hashlib

    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _bucket_and_prefix(uri: str) -> tuple[str, str]:
    bucket, path = parse_gcs_uri(uri)
    return bucket or "", path


def _from_access(check: AccessCheck, who: str, uri: str) -> Prediction:
    if check.unverified:
        return Prediction("unknown", reason=check.unverified, principal=who)
    if check.listed is False:
        detail = check.listed_detail
        if check.requester_pays:
            return Prediction("fails", Code.GCS_REQUESTER_PAYS, detail, who)
        if "does not exist" in detail:
            return Prediction("fails", Code.GCS_BUCKET_MISSING, detail, who)
        if "Anonymous" in detail or "anonymous" in detail.lower():
            return Prediction("fails", Code.GCS_ANONYMOUS_FALLBACK, detail, who)
        return Prediction("fails", Code.GCS_LIST_DENIED, detail, who)
    if check.read is False:
        detail = check.read_detail
        if "No such object" in detail or "empty" in detail:
            return Prediction("fails", Code.GCS_PATH_EMPTY, detail, who)
        return Prediction("fails", Code.GCS_GET_DENIED, detail, who)
    if check.listed and check.read:
        return Prediction("loads", reason=f"{who} listed and read {uri}", principal=who)
    return Prediction("unknown", reason="; ".join(check.notes) or "bucket not checked")


def _runtime_prediction(view: ClusterView, namespace: str, config: ModelSpec) -> Prediction | None:
    try:
        namespaced, cluster_wide = view.runtimes(namespace)
    except ApiException as error:
        return Prediction("unknown", reason=f"cannot list serving runtimes: HTTP {error.status}")
    model = {
        "modelFormat": {"name": config.model_format},
        "runtime": config.runtime,
        "protocolVersion": config.protocol,
    }
    choice = select_runtime(model, namespaced, cluster_wide)
    if choice.name is not None:
        return None
    code = (
        Code.RUNTIME_MISSING
        if choice.failure_reason == "RuntimeNotRecognized"
        else Code.RUNTIME_UNSUPPORTED
    )
    return Prediction("fails", code, f"{choice.failure_reason}: {choice.failure_message}")


def _service_account_policy(
    access: GoogleAccess, gsa: str
) -> tuple[list[dict[str, Any]] | None, Prediction | None]:
    """The Google service account's IAM bindings, or the prediction when they cannot be read."""
    assert access.credentials is not None
    session = authorized_session(access.credentials)
    try:
        response = session.post(
            f"{access.iam_endpoint}/v1/projects/-/serviceAccounts/{gsa}:getIamPolicy",
            data=b"{}",
            timeout=30,
        )
    except (requests.exceptions.RequestException, auth_exceptions.TransportError) as error:
        return None, Prediction(
            "unknown",
            reason=f"could not verify {gsa}: the IAM API did not answer ({type(error).__name__})",
        )
    if response.status_code == 404:
        return None, Prediction(
            "fails",
            Code.WORKLOAD_IDENTITY_BINDING_MISSING,
            f"Google service account {gsa} does not exist",
            gsa,
        )
    if response.status_code != 200:
        return None, Prediction(
            "unknown",
            reason=f"could not verify {gsa}: reading its IAM "
            f"policy answered HTTP {response.status_code}",
        )
    return list(json.loads(response.text or "{}").get("bindings") or []), None


def _workload_identity(
    cluster_namespace: str,
    account: str,
    identity: ServingIdentity,
    access: GoogleAccess,
    uri: str,
    checks: GoogleChecks,
) -> Prediction:
    gsa = identity.gsa or ""
    if access.credentials is None:
        return Prediction("unknown", reason=f"no operator credentials to check {gsa}")
    project = gsa.split("@")[-1].split(".")[0]
    member = f"serviceAccount:{project}.svc.id.goog[{cluster_namespace}/{account}]"
    bindings, unreadable = checks.once(
        ("policy", gsa), lambda: _service_account_policy(access, gsa)
    )
    if unreadable is not None:
        return unreadable
    assert bindings is not None
    bound = any(
        binding.get("role") == "roles/iam.workloadIdentityUser"
        and member in binding.get("members", [])
        for binding in bindings
    )
    if not bound:
        return Prediction(
            "fails",
            Code.WORKLOAD_IDENTITY_BINDING_MISSING,
            f"{gsa} has no roles/iam.workloadIdentityUser for {member}",
            gsa,
        )

    def impersonating() -> storage.Client:
        return access.storage_client(
            impersonated_credentials.Credentials(
                source_credentials=access.credentials,
                target_principal=gsa,
                target_scopes=[READ_SCOPE],
                iam_endpoint_override=f"{access.iam_credentials_endpoint}/v1/projects/-/"
                f"serviceAccounts/{gsa}:generateAccessToken",
            )
        )

    try:
        check = checks.access(("impersonated", gsa), uri, impersonating)
    except auth_exceptions.RefreshError as error:
        return Prediction(
            "unknown",
            reason=f"cannot impersonate {gsa} to check the bucket "
            f"(needs roles/iam.serviceAccountTokenCreator): "
            f"{error.args[0]}",
        )
    return _from_access(check, gsa, uri)


def operator_access(storage_endpoint: str | None = None) -> GoogleAccess:
    """Application Default Credentials of whoever runs the tests (None when there are none)."""
    import os

    import google.auth

    iam_endpoint = os.environ.get("KFS_IAM_ENDPOINT", GOOGLE_IAM)
    credentials_endpoint = os.environ.get("KFS_IAM_CREDENTIALS_ENDPOINT", GOOGLE_IAM_CREDENTIALS)
    try:
        credentials, project = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
    except auth_exceptions.DefaultCredentialsError:
        return GoogleAccess(None, storage_endpoint, iam_endpoint, credentials_endpoint)
    return GoogleAccess(
        credentials, storage_endpoint, iam_endpoint, credentials_endpoint, project=project
    )


def predict(
    cluster: Cluster, namespace: str, config: ModelSpec, access: GoogleAccess
) -> Prediction:
    """Predict the deploy's outcome; reads the cluster, never writes to it."""
    return predict_in(LiveView(cluster), namespace, config, access, GoogleChecks())


def predict_in(
    view: ClusterView, namespace: str, config: ModelSpec, access: GoogleAccess, checks: GoogleChecks
) -> Prediction:
    """Predict from what `view` reads, asking Google through `checks` (shared by a fleet).
    Runtimes that cannot be listed (a namespaced Role cannot list ClusterServingRuntimes)
    leave the rest to check: the answer then says the runtime was not."""
    runtime = _runtime_prediction(view, namespace, config)
    if runtime is not None and runtime.outcome != "unknown":
        return runtime
    prediction = _identity_prediction(view, namespace, config, access, checks)
    if runtime is not None and prediction.outcome == "loads":
        return replace(
            prediction, reason=f"{prediction.reason}; runtime not checked: {runtime.reason}"
        )
    return prediction


def _identity_prediction(
    view: ClusterView, namespace: str, config: ModelSpec, access: GoogleAccess, checks: GoogleChecks
) -> Prediction:
    account = config.service_account or "default"
    try:
        found = view.identity(namespace, account)
    except ApiException as error:
        return Prediction(
            "unknown",
            reason=f"cannot read service account {account}: HTTP {error.status} {error.reason}",
        )
    if found is None:
        return Prediction(
            "fails",
            Code.SERVICE_ACCOUNT_MISSING,
            f"service account {account} does not exist in {namespace}",
        )
    if not config.is_gcs:
        return Prediction("unknown", reason=f"{config.storage_uri} is not a gs:// URI")
    identity, key = found
    uri = config.storage_uri
    if identity.source == "key-secret" and key is not None:
        validity = checks.key_check(key, access)
        if validity.unverified:
            return Prediction(
                "unknown", reason=validity.unverified, principal=validity.client_email
            )
        if not validity.ok:
            return Prediction("fails", Code.GCS_KEY_INVALID, validity.detail, validity.client_email)
        check = checks.access(
            ("key", _key_id(key)), uri, lambda: client_for_key(key, access.storage_endpoint)
        )
        return _from_access(check, identity.principal or "?", uri)
    if identity.source == "workload-identity":
        return _workload_identity(namespace, account, identity, access, uri, checks)
    on_gke = view.on_gke()
    if on_gke is None:
        return Prediction(
            "unknown",
            reason="no key and no Workload Identity annotation, and the "
            "nodes cannot be listed to tell whether the pods "
            "run as a GKE node's service account",
        )
    if on_gke:
        return Prediction(
            "unknown",
            reason="no key and no Workload Identity annotation: the "
            "pods run as the GKE node's service account",
        )
    check = checks.access(("anonymous",), uri, lambda: access.storage_client(None))
    prediction = _from_access(check, "Anonymous caller", uri)
    if prediction.outcome == "fails" and prediction.code == Code.GCS_LIST_DENIED:
        return Prediction(
            "fails", Code.GCS_ANONYMOUS_FALLBACK, prediction.reason, "Anonymous caller"
        )
    return prediction
