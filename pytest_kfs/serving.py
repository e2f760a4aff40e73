"""A configured model's serving side (`kfs_serving`): its namespace, the identity KServe would
read its bucket as, and the checks the suites make as that identity (reads Kubernetes and
Google; writes only the in-cluster probe's Job, which it deletes)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pytest_kfs.diagnosis.codes import Code
from pytest_kfs.diagnosis.finding import Finding
from pytest_kfs.diagnosis.preflight import GoogleAccess
from pytest_kfs.diagnosis.rules import credentials_fix, explain_storage_error
from pytest_kfs.gcp import iam
from pytest_kfs.gcp.identity import ServingIdentity
from pytest_kfs.gcp.probe import ProbeResult, run_probe
from pytest_kfs.gcp.storage import AccessCheck, KeyCheck, check_access, check_key, client_for_key
from pytest_kfs.gcp.uri import parse_gcs_uri
from pytest_kfs.kserve.api import GCS_KEY_FILE
from pytest_kfs.kserve.spec import ModelSpec
from pytest_kfs.kube.cluster import Cluster


@dataclass
class Serving:
    """A model configuration in its namespace, and who KServe would read its bucket as."""

    config: ModelSpec
    namespace: str
    service_account: str
    identity: ServingIdentity
    # Key material: in memory only, never in a repr, a report or a traceback.
    secret_data: dict[str, str] | None = field(repr=False)
    cluster: Cluster = field(repr=False)
    google: GoogleAccess = field(repr=False)  # the operator's view of Google

    @property
    def gcs_endpoint(self) -> str | None:
        """The Cloud Storage endpoint (None: Google's own)."""
        return self.google.storage_endpoint

    @property
    def bucket(self) -> str:
        """The model's bucket ('' when it is not in Cloud Storage)."""
        return parse_gcs_uri(self.config.storage_uri)[0] or ""

    def explain(self, error: str, otherwise: Code, what: str) -> Finding:
        """The finding for an error a check of `what` got from Google, by the rules a model's
        diagnosis uses; `otherwise` names it when no rule knows the error (never silent)."""
        finding = explain_storage_error(
            error,
            self.config.storage_uri,
            self.namespace,
            self.service_account,
            source="storage client",
        )
        if finding.code in (Code.UNEXPLAINED, Code.NEEDS_EVIDENCE):
            return Finding(
                otherwise,
                f"{what}: {error}",
                finding.evidence,
                principal=self.identity.principal,
                bucket=self.bucket or None,
            )
        return finding

    def credentials_fix(self) -> str:
        """How to give the serving account Google credentials KServe reads."""
        return credentials_fix(self.namespace, self.service_account)

    def require_gcs(self) -> None:
        """Skip (with the reason) a check that applies to gs:// models only."""
        if not self.config.is_gcs:
            pytest.skip(f"{self.config.storage_uri} is not in Google Cloud Storage")

    def key_file(self) -> dict[str, str]:
        """The key secret's data, or skip when the identity is not a key file."""
        if self.identity.source != "key-secret" or not self.secret_data:
            pytest.skip(f"the serving identity is not a key file ({self.identity.describe()})")
        if GCS_KEY_FILE not in self.secret_data:
            pytest.skip(f"the key secret has no {GCS_KEY_FILE}")
        return self.secret_data

    def is_public(self) -> bool:
        """Whether anyone may list and read the model (KServe's sample bucket is so)."""
        return check_access(self.google.storage_client(None), self.config.storage_uri).ok

    def check_key(self) -> KeyCheck:
        """Whether the key secret is usable: its file name, its JSON, a token refresh."""
        return check_key(self.key_file(), private_endpoints=[self.gcs_endpoint])

    def check_access_as_key(self) -> AccessCheck:
        """KServe's two calls as the key's service account: list the prefix, read an object
        (skips when the key itself does not work: the key check says why)."""
        key = self.key_file()
        if not check_key(key, private_endpoints=[self.gcs_endpoint]).ok:
            pytest.skip("the key does not refresh (see test_the_key_secret_is_usable)")
        return check_access(client_for_key(key, self.gcs_endpoint), self.config.storage_uri)

    def probe(self) -> ProbeResult:
        """List then read from inside the cluster, as the storage-initializer would."""
        return run_probe(
            self.cluster,
            self.namespace,
            self.config.storage_uri,
            self.service_account,
            self.identity,
        )

    def bucket_policy(self) -> iam.Explanation:
        """Which bindings of the bucket's IAM policy give the serving principal what KServe
        needs, and which are broader than needed; read with the operator's credentials
        (skips without them, or without a single principal to check)."""
        from google.api_core import exceptions as api_exceptions

        if self.identity.principal is None:
            pytest.skip(f"no single principal to check ({self.identity.describe()})")
        if self.google.credentials is None:
            pytest.skip(
                "no operator Google credentials to read bucket IAM policies with: set "
                "GOOGLE_APPLICATION_CREDENTIALS to a key file, or run gcloud auth "
                "application-default login"
            )
        client = self.google.storage_client(self.google.credentials)
        _, path = parse_gcs_uri(self.config.storage_uri)
        try:
            policy = client.bucket(self.bucket).get_iam_policy(requested_policy_version=3)
        except api_exceptions.NotFound:
            pytest.fail(f"bucket gs://{self.bucket} does not exist", pytrace=False)
        except api_exceptions.Forbidden as error:
            pytest.skip(f"cannot read the policy of gs://{self.bucket}: {error.message}")
        bindings = [
            iam.Binding.from_json({**binding, "members": sorted(binding["members"])})
            for binding in policy.bindings
        ]
        return iam.explain(
            iam.Principal.service_account(self.identity.principal),
            self.bucket,
            f"{path}/model",
            [(f"bucket {self.bucket}", bindings)],
        )
