"""`gs://` URIs and Google's names that Kubernetes objects carry (pure)."""

from __future__ import annotations

import re

SCHEME = "gs://"
# GKE's Workload Identity: the Google service account a Kubernetes service account acts as.
WI_ANNOTATION = "iam.gke.io/gcp-service-account"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")


def is_gcs(uri: str) -> bool:
    """Whether the URI names Google Cloud Storage."""
    return uri.startswith(SCHEME)


def parse_gcs_uri(uri: str) -> tuple[str | None, str]:
    """('bucket', 'path') of a gs:// URI, the path without a trailing '/'; (None, '') for
    anything else."""
    if not is_gcs(uri):
        return None, ""
    bucket, _, path = uri.removeprefix(SCHEME).partition("/")
    return bucket or None, path.rstrip("/")


def bucket_problem(bucket: str) -> str | None:
    """Why `bucket` cannot be a Cloud Storage bucket name, or None."""
    if not _BUCKET.match(bucket) or ".." in bucket:
        return (
            f"{bucket!r} is not a valid bucket name (3-63 lower-case letters, digits, "
            "'-', '_' or '.')"
        )
    return None
