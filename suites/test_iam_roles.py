"""IAM roles: the bucket policy grants the serving principal what KServe needs, and no more.

The policy is read with the operator's Google credentials (`kfs_google`: on the embedded cluster
an operator account of its local GCP; elsewhere Application Default Credentials) and judged
against Google's published predefined roles, not against what any cloud enforces.
"""

from __future__ import annotations

from pytest_kfs import Serving


def test_the_bucket_policy_grants_the_serving_principal_read(kfs_serving: Serving) -> None:
    kfs_serving.require_gcs()
    explanation = kfs_serving.bucket_policy()
    bucket = kfs_serving.bucket
    assert not explanation.missing, (
        f"no binding on gs://{bucket} gives {kfs_serving.identity.principal} "
        f"{', '.join(explanation.missing)}; fix: gcloud storage buckets add-iam-policy-binding "
        f"gs://{bucket} --member=serviceAccount:{kfs_serving.identity.principal} "
        "--role=roles/storage.objectViewer (project-level grants are not inspected here)")


def test_the_serving_principal_holds_no_broader_role_than_needed(kfs_serving: Serving) -> None:
    kfs_serving.require_gcs()
    explanation = kfs_serving.bucket_policy()
    broad = sorted({binding.role for binding in explanation.overbroad})
    assert not broad, (f"{kfs_serving.identity.principal} holds {', '.join(broad)}; "
                       "roles/storage.objectViewer is enough to serve")
