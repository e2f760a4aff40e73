"""Rehearsal scenarios: each arranges a world (GCP + Kubernetes objects), never the answer.

`--kfs-cluster=local --kfs-scenario=NAME`. A scenario sets up the local GCP once per run and
the Kubernetes side (service account, key secret) in each namespace a model is deployed into;
the outcome comes out of the real flow: the storage-initializer, IAM, KServe's status rules.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from pytest_kfs.gcp.cloud_admin import CloudAdmin
from pytest_kfs.kserve.spec import ModelSpec
from pytest_kfs.kube.cluster import create_unless_exists
from pytest_kfs.local.kserve.releases import Release
from pytest_kfs.local.kserve.releases import release as default_release
from pytest_kfs.local.samples import CORRUPT, iris_model_bytes

PROJECT = "kfs-demo"
# KServe's docs bucket: public (allUsers may read), as the real one is, so the samples load
# with no credentials at all.
SAMPLE_BUCKET = "kfserving-examples"
SAMPLE_PREFIX = "models/sklearn/1.0/model"
SAMPLE_URI = f"gs://{SAMPLE_BUCKET}/{SAMPLE_PREFIX}"
# A team's private bucket holding the same models: where the scenarios and test keys point,
# since a denial needs a bucket that is not public (the seed issue's bucket is a private one).
PRIVATE_BUCKET = "kfs-demo-models"
PRIVATE_URI = f"gs://{PRIVATE_BUCKET}/{SAMPLE_PREFIX}"
SERVING_KSA = "kserve-serving"
KEY_SECRET = "kserve-gcs-key"
KEY_FILE = "gcloud-application-credentials.json"
WI_ANNOTATION = "iam.gke.io/gcp-service-account"


def _plan(**changes: Any) -> ModelSpec:
    """What a scenario deploys: by default a copy of the sklearn-iris sample in the team's
    private bucket, served as the scenario's service account."""
    return ModelSpec(
        storage_uri=PRIVATE_URI,
        model_format="sklearn",
        service_account=SERVING_KSA,
        sample="sklearn-iris",
    ).but(**changes)


@dataclass(frozen=True)
class Scenario:
    """A named arrangement and the outcome a user should see.

    Each scenario serves as a Google service account of its own, so scenarios arranged in one
    embedded cluster never see each other's grants.
    """

    name: str
    summary: str
    expect_loaded: bool
    bucket_role: str | None = "roles/storage.objectViewer"
    key_secret: bool = True
    disabled_key: bool = False
    workload_identity: bool = False
    bind_workload_identity: bool = False
    # Preflight checks access to the model, not its content: a corrupt file reads fine.
    preflight_sees: bool = True
    plan: ModelSpec = field(default_factory=_plan)

    @property
    def gsa(self) -> str:
        """The Google service account this scenario's model is served as."""
        return f"{self.name[:28]}@{PROJECT}.iam.gserviceaccount.com"

    def arrange_world(self, gcp: CloudAdmin) -> None:
        """The cloud side: the buckets and models, the GSA and its grant on the private bucket
        (idempotent)."""
        seed_samples(gcp)
        gcp.ensure_service_account(self.gsa)
        if self.bucket_role:
            gcp.grant_bucket(PRIVATE_BUCKET, self.bucket_role, f"serviceAccount:{self.gsa}")

    def arrange_namespace(
        self, core: client.CoreV1Api, namespace: str, gcp: CloudAdmin
    ) -> ModelSpec:
        """The cluster side: the service account (and key secret) the plan deploys with."""
        self.arrange_world(gcp)
        secrets = []
        if self.key_secret:
            key = gcp.create_key(self.gsa)
            if self.disabled_key:
                gcp.disable_key(self.gsa, key["private_key_id"])
            encoded = base64.b64encode(json.dumps(key).encode()).decode()
            create_unless_exists(
                core.create_namespaced_secret,
                namespace,
                {"metadata": {"name": KEY_SECRET}, "type": "Opaque", "data": {KEY_FILE: encoded}},
            )
            secrets = [{"name": KEY_SECRET}]
        annotations = {}
        if self.workload_identity:
            # This namespace's pods land on a Workload Identity node pool.
            gcp.enable_workload_identity(PROJECT, namespace)
            annotations[WI_ANNOTATION] = self.gsa
        if self.bind_workload_identity:
            gcp.grant_service_account(
                self.gsa,
                "roles/iam.workloadIdentityUser",
                f"serviceAccount:{PROJECT}.svc.id.goog[{namespace}/{SERVING_KSA}]",
            )
        create_unless_exists(
            core.create_namespaced_service_account,
            namespace,
            {"metadata": {"name": SERVING_KSA, "annotations": annotations}, "secrets": secrets},
        )
        return self.plan


CORRUPT_PREFIX = "models/sklearn/corrupt/model"


def seed_samples(gcp: CloudAdmin, release: Release | None = None) -> None:
    """The bucket and model KServe's docs use (a real iris model), public like the real one;
    the same model in a private bucket; and a corrupt one in each.

    The embedded cluster seeds them at start with the model its release's server loads;
    later calls only add what is missing.
    """

    def sample() -> bytes:
        return iris_model_bytes(release or default_release())

    def corrupt() -> bytes:
        return CORRUPT

    for bucket in (SAMPLE_BUCKET, PRIVATE_BUCKET):
        gcp.ensure_bucket(bucket, PROJECT)
        for name, data in (
            (f"{SAMPLE_PREFIX}/model.joblib", sample),
            (f"{CORRUPT_PREFIX}/model.joblib", corrupt),
        ):
            if release is not None or not gcp.has_object(bucket, name):
                gcp.put_object(bucket, name, data())
    gcp.grant_bucket(SAMPLE_BUCKET, "roles/storage.objectViewer", "allUsers")


def arrange_model(gcp: CloudAdmin, storage_uri: str, sample: str | None) -> str | None:
    """Make a configured model exist in the local Google Cloud (--kfs-models on the embedded
    cluster). A copy of the sklearn-iris sample is made at its URI, readable by anyone: the
    local cloud cannot know the real bucket's IAM, which the suites check on the live cluster.
    Returns None when the model is there, else one line saying why it cannot be."""
    bucket, _, path = storage_uri.removeprefix("gs://").partition("/")
    path = path.rstrip("/")
    if gcp.has_objects_under(bucket, path):
        return None
    if bucket in (SAMPLE_BUCKET, PRIVATE_BUCKET):
        return (
            f"{storage_uri}: nothing there in the embedded cluster's local Google Cloud "
            f"(gs://{bucket} holds its rehearsal models, {SAMPLE_PREFIX} among them)"
        )
    from pytest_kfs.kserve.samples import SAMPLES

    known = SAMPLES.get(sample or "")
    if known is None or known.storage_uri.rstrip("/") != SAMPLE_URI:
        what = (
            f"sample {sample} is not one the embedded cluster serves"
            if sample
            else "no `sample:` says which catalogue model it copies"
        )
        return (
            f"{storage_uri} is not in the embedded cluster's local Google Cloud, and "
            f"pytest-kfs cannot make it ({what}): run against your cluster "
            "(--kfs-cluster=<context>), or give the model `sample: sklearn-iris`"
        )
    seed_samples(gcp)
    gcp.ensure_bucket(bucket, PROJECT)
    gcp.copy_object(
        SAMPLE_BUCKET,
        f"{SAMPLE_PREFIX}/model.joblib",
        bucket,
        f"{path}/model.joblib" if path else "model.joblib",
    )
    gcp.grant_bucket(bucket, "roles/storage.objectViewer", "allUsers")
    return None


OPERATOR = "kfs-operator@kfs-demo.iam.gserviceaccount.com"
OPERATOR_ROLES = (
    "roles/storage.admin",
    "roles/iam.securityReviewer",
    "roles/iam.serviceAccountTokenCreator",
)


def operator_key(gcp: CloudAdmin) -> dict[str, str]:
    """A key of the operator who runs the suites and preflight: on the project, what a
    platform engineer has (read buckets and their policies, make tokens as other accounts)."""
    gcp.ensure_service_account(OPERATOR)
    for role in OPERATOR_ROLES:
        gcp.grant_project(PROJECT, role, f"serviceAccount:{OPERATOR}")
    return dict(gcp.create_key(OPERATOR))


def sample_key(
    gcp: CloudAdmin, name: str, can_read: bool = True, project: str = PROJECT
) -> dict[str, Any]:
    """A key for Google service account `name@project`, with objectViewer on the private bucket
    (PRIVATE_URI) when `can_read` (the samples seeded first)."""
    seed_samples(gcp)
    email = f"{name}@{project}.iam.gserviceaccount.com"
    gcp.ensure_service_account(email)
    if can_read:
        gcp.grant_bucket(PRIVATE_BUCKET, "roles/storage.objectViewer", f"serviceAccount:{email}")
    return gcp.create_key(email)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("healthy", "key secret on the serving account, objectViewer on the bucket", True),
        Scenario(
            "gcs-permission-denied",
            "key secret on the serving account, no grant on the bucket: the list is denied "
            "(kserve/kserve#3798)",
            False,
            bucket_role=None,
        ),
        Scenario(
            "object-read-denied",
            "legacyBucketReader only: the prefix lists, the download is denied",
            False,
            bucket_role="roles/storage.legacyBucketReader",
        ),
        Scenario(
            "wrong-path",
            "readable bucket, but nothing under the storage URI's prefix",
            False,
            plan=_plan(storage_uri=f"gs://{PRIVATE_BUCKET}/models/sklearn/9.9/model", sample=None),
        ),
        Scenario(
            "bucket-missing",
            "the storage URI names a bucket that does not exist",
            False,
            plan=_plan(storage_uri="gs://kfs-no-such-bucket/models/sklearn/1.0/model", sample=None),
        ),
        Scenario(
            "anonymous-fallback",
            "no key secret and no metadata server (off GCP): KServe silently goes anonymous "
            "and the private bucket refuses it",
            False,
            key_secret=False,
        ),
        Scenario(
            "bad-key",
            "the key secret holds a disabled key: the token exchange fails with invalid_grant",
            False,
            disabled_key=True,
        ),
        Scenario(
            "broken-workload-identity",
            "the service account is annotated for Workload Identity but the GSA lacks the "
            "roles/iam.workloadIdentityUser binding",
            False,
            key_secret=False,
            workload_identity=True,
        ),
        Scenario(
            "workload-identity",
            "Workload Identity wired end to end: annotation plus workloadIdentityUser",
            True,
            key_secret=False,
            workload_identity=True,
            bind_workload_identity=True,
        ),
        Scenario(
            "runtime-missing",
            "the model names a ServingRuntime that is not installed",
            False,
            plan=_plan(runtime="sklearn-custom-runtime"),
        ),
        Scenario(
            "corrupt-model",
            "the model file downloads but is not a model: the server fails to load it",
            False,
            preflight_sees=False,
            plan=_plan(storage_uri=f"gs://{PRIVATE_BUCKET}/{CORRUPT_PREFIX}", sample=None),
        ),
        # Scale-to-zero is Knative's (Serverless mode), which does not run here: in Standard mode
        # KServe serves minReplicas 0 with one pod. The status of a scaled-to-zero service
        # (kserve/kserve#6079) is tested as a verbatim snapshot in the unit tests.
        Scenario(
            "scale-to-zero",
            "healthy, with minReplicas 0. Serverless only: in the embedded cluster's Standard "
            "mode KServe keeps one pod and reads Loaded (no Knative here)",
            True,
            plan=_plan(min_replicas=0),
        ),
    )
}


def scenario(name: str) -> Scenario:
    """A scenario by name; KeyError lists the known ones."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario '{name}'; known: {', '.join(SCENARIOS)}") from None
