"""IAM roles: the bucket policy grants the serving principal what KServe needs, and no more.

The policy is read with the operator's Google credentials (`kfs_google`: on the embedded cluster
an operator account of its local GCP; elsewhere Application Default Credentials) and judged
against Google's published predefined roles, not against what any cloud enforces.
"""

from __future__ import annotations

from pytest_kfs import Code, Finding, Serving, fail_with


def test_the_bucket_policy_grants_the_serving_principal_read(kfs_serving: Serving) -> None:
    kfs_serving.require_gcs()
    explanation = kfs_serving.bucket_policy()
    bucket, who = kfs_serving.bucket, kfs_serving.identity.principal
    if explanation.missing:
        fail_with(
            Finding(
                Code.GCS_PERMISSION_DENIED,
                f"no binding on gs://{bucket} gives {who} {', '.join(explanation.missing)} "
                "(project-level grants are not inspected here)",
                (),
                f"gcloud storage buckets add-iam-policy-binding gs://{bucket} "
                f"--member=serviceAccount:{who} --role=roles/storage.objectViewer",
                who,
                bucket,
            )
        )


def test_the_serving_principal_holds_no_broader_role_than_needed(kfs_serving: Serving) -> None:
    kfs_serving.require_gcs()
    explanation = kfs_serving.bucket_policy()
    broad = sorted({binding.role for binding in explanation.overbroad})
    if broad:
        bucket, who = kfs_serving.bucket, kfs_serving.identity.principal
        fail_with(
            Finding(
                Code.GCS_ROLE_TOO_BROAD,
                f"{who} holds {', '.join(broad)} on gs://{bucket}; roles/storage.objectViewer is "
                "enough to serve",
                (),
                f"gcloud storage buckets remove-iam-policy-binding gs://{bucket} "
                f"--member=serviceAccount:{who} --role={broad[0]}",
                who,
                bucket,
            )
        )
