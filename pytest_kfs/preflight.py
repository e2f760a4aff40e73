"""Preflight: will this model load? Answered from the cluster's objects and Google's APIs,
before anything is deployed and without a single write to the cluster.

It resolves the runtime and the serving identity exactly as KServe would, then does KServe's
list-then-get as that identity: with the key file, by impersonating the Workload Identity
account (after checking the workloadIdentityUser binding), or anonymously off GCP. The
prediction is `loads`, `fails: <finding code>` or `unknown: <what could not be checked>`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import requests
from google.api_core.client_options import ClientOptions
from google.auth import credentials as auth_credentials
from google.auth import exceptions as auth_exceptions
from google.auth import impersonated_credentials
from google.auth.transport.requests import AuthorizedSession
from google.cloud import storage
from kubernetes.client.rest import ApiException

from pytest_kfs.cluster import Cluster
from pytest_kfs.codes import Code
from pytest_kfs.gcs import (
    AccessCheck,
    ServingIdentity,
    check_access,
    check_key,
    client_for_key,
    read_identity,
)
from pytest_kfs.models import ModelConfig
from pytest_kfs.runtimes import select_runtime

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
        options = ClientOptions(api_endpoint=self.storage_endpoint) if self.storage_endpoint \
            else None
        if credentials is None:
            client = storage.Client.create_anonymous_client()
            if self.storage_endpoint:
                client._connection.API_BASE_URL = self.storage_endpoint
            return client
        return storage.Client(credentials=credentials, project=self.project or "-",
                              client_options=options)


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


def _runtime_prediction(cluster: Cluster, namespace: str, config: ModelConfig
                        ) -> Prediction | None:
    try:
        cluster_runtimes = cluster.custom.list_cluster_custom_object(
            "serving.kserve.io", "v1alpha1", "clusterservingruntimes")["items"]
        namespaced = cluster.custom.list_namespaced_custom_object(
            "serving.kserve.io", "v1alpha1", namespace, "servingruntimes")["items"]
    except ApiException as error:
        return Prediction("unknown", reason=f"cannot list serving runtimes: HTTP {error.status}")
    model = {"modelFormat": {"name": config.model_format}, "runtime": config.runtime,
             "protocolVersion": config.protocol}
    choice = select_runtime(model, {r["metadata"]["name"]: r["spec"] for r in namespaced},
                            {r["metadata"]["name"]: r["spec"] for r in cluster_runtimes})
    if choice.name is not None:
        return None
    code = Code.RUNTIME_MISSING if choice.failure_reason == "RuntimeNotRecognized" else \
        Code.RUNTIME_UNSUPPORTED
    return Prediction("fails", code, f"{choice.failure_reason}: {choice.failure_message}")


def _workload_identity(cluster_namespace: str, account: str, identity: ServingIdentity,
                       access: GoogleAccess, uri: str) -> Prediction:
    gsa = identity.gsa or ""
    if access.credentials is None:
        return Prediction("unknown", reason=f"no operator credentials to check {gsa}")
    project = gsa.split("@")[-1].split(".")[0]
    member = f"serviceAccount:{project}.svc.id.goog[{cluster_namespace}/{account}]"
    session = AuthorizedSession(access.credentials)
    try:
        response = session.post(f"{access.iam_endpoint}/v1/projects/-/serviceAccounts/"
                                f"{gsa}:getIamPolicy", data=b"{}", timeout=30)
    except (requests.exceptions.RequestException, auth_exceptions.TransportError) as error:
        return Prediction("unknown", reason=f"could not verify {gsa}: the IAM API did not "
                                            f"answer ({type(error).__name__})")
    if response.status_code == 404:
        return Prediction("fails", Code.WORKLOAD_IDENTITY_BINDING_MISSING,
                          f"Google service account {gsa} does not exist", gsa)
    if response.status_code != 200:
        return Prediction("unknown", reason=f"could not verify {gsa}: reading its IAM policy "
                                            f"answered HTTP {response.status_code}")
    bindings = json.loads(response.text or "{}").get("bindings") or []
    bound = any(binding.get("role") == "roles/iam.workloadIdentityUser" and
                member in binding.get("members", []) for binding in bindings)
    if not bound:
        return Prediction("fails", Code.WORKLOAD_IDENTITY_BINDING_MISSING,
                          f"{gsa} has no roles/iam.workloadIdentityUser for {member}", gsa)
    impersonated = impersonated_credentials.Credentials(
        source_credentials=access.credentials, target_principal=gsa,
        target_scopes=[READ_SCOPE],
        iam_endpoint_override=f"{access.iam_credentials_endpoint}/v1/projects/-/"
                              f"serviceAccounts/{gsa}:generateAccessToken")
    try:
        check = check_access(access.storage_client(impersonated), uri)
    except auth_exceptions.RefreshError as error:
        return Prediction("unknown", reason=f"cannot impersonate {gsa} to check the bucket "
                                            f"(needs roles/iam.serviceAccountTokenCreator): "
                                            f"{error.args[0]}")
    return _from_access(check, gsa, uri)


def operator_access(storage_endpoint: str | None = None) -> GoogleAccess:
    """Application Default Credentials of whoever runs the tests (None when there are none)."""
    import os

    import google.auth

    iam_endpoint = os.environ.get("KFS_IAM_ENDPOINT", GOOGLE_IAM)
    credentials_endpoint = os.environ.get("KFS_IAM_CREDENTIALS_ENDPOINT", GOOGLE_IAM_CREDENTIALS)
    try:
        credentials, project = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"])
    except auth_exceptions.DefaultCredentialsError:
        return GoogleAccess(None, storage_endpoint, iam_endpoint, credentials_endpoint)
    return GoogleAccess(credentials, storage_endpoint, iam_endpoint, credentials_endpoint,
                        project=project)


def predict(cluster: Cluster, namespace: str, config: ModelConfig,
            access: GoogleAccess) -> Prediction:
    """Predict the deploy's outcome; reads the cluster, never writes to it."""
    runtime = _runtime_prediction(cluster, namespace, config)
    if runtime is not None:
        return runtime
    account = config.service_account or "default"
    found = read_identity(cluster, namespace, account)
    if found is None:
        return Prediction("fails", Code.SERVICE_ACCOUNT_MISSING,
                          f"service account {account} does not exist in {namespace}")
    if not config.is_gcs:
        return Prediction("unknown", reason=f"{config.storage_uri} is not a gs:// URI")
    identity, key = found
    if identity.source == "key-secret" and key is not None:
        validity = check_key(key, private_endpoints=access.endpoints())
        if validity.unverified:
            return Prediction("unknown", reason=validity.unverified,
                              principal=validity.client_email)
        if not validity.ok:
            return Prediction("fails", Code.GCS_KEY_INVALID, validity.detail,
                              validity.client_email)
        return _from_access(check_access(client_for_key(key, access.storage_endpoint),
                                         config.storage_uri), identity.principal or "?",
                            config.storage_uri)
    if identity.source == "workload-identity":
        return _workload_identity(namespace, account, identity, access, config.storage_uri)
    nodes = cluster.core.list_node().items
    if any(GKE_NODE_LABEL in (node.metadata.labels or {}) for node in nodes):
        return Prediction("unknown", reason="no key and no Workload Identity annotation: the "
                                            "pods run as the GKE node's service account")
    check = check_access(access.storage_client(None), config.storage_uri)
    prediction = _from_access(check, "Anonymous caller", config.storage_uri)
    if prediction.outcome == "fails" and prediction.code == Code.GCS_LIST_DENIED:
        return Prediction("fails", Code.GCS_ANONYMOUS_FALLBACK, prediction.reason,
                          "Anonymous caller")
    return prediction

