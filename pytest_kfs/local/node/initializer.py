"""The storage-initializer container's entry point: `initializer.py SRC_URI DEST_DIR`.

Runs as its own process (the container), usually with the interpreter of a venv holding the real
`kserve-storage` package, whose `Storage.download` then does the work exactly as in KServe's
image. Without it, a faithful copy of its GCS path runs instead: same client construction and
anonymous fallback, list the prefix then get each object, same error translation. Stdlib and
google-cloud-storage only: this file is executed by path, outside the pytest-kfs package.
"""

from __future__ import annotations

import logging
import os
import sys

logging.basicConfig(
    level=logging.INFO,
    format="%(asctime)s.%(msecs)03d %(process)s storage.initializer %(levelname)s "
    "[%(filename)s:%(funcName)s():%(lineno)s] %(message)s",
    datefmt="%Y-%m-%d %H:%M:%S",
)
logger = logging.getLogger("storage.initializer")


def _download_gcs(uri: str, out_dir: str) -> str:
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions
    from google.cloud import storage

    try:
        client = storage.Client()
    except auth_exceptions.DefaultCredentialsError:
        client = storage.Client.create_anonymous_client()
    bucket_name, _, path = uri.removeprefix("gs://").partition("/")
    count = 0
    try:
        bucket = client.bucket(bucket_name)
        prefix = path if path.endswith("/") else path + "/"
        blobs = list(bucket.list_blobs(prefix=prefix))
        if not blobs and path:
            single = bucket.blob(path)
            destination = os.path.join(out_dir, os.path.basename(path))
            logger.info("Downloading single file to: %s", destination)
            single.download_to_filename(destination)
            count = 1
        for blob in blobs:
            relative = blob.name.replace(path, "", 1).lstrip("/")
            if not relative.strip() or relative.endswith("/"):
                continue
            destination = os.path.join(out_dir, relative)
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            logger.info("Downloading: %s", destination)
            blob.download_to_filename(destination)
            count += 1
    except (
        api_exceptions.Forbidden,
        api_exceptions.NotFound,
        auth_exceptions.GoogleAuthError,
    ) as error:
        logger.error("GCS error for %s: %s", uri, error)
        kind = type(error).__name__
        text = str(error).lower()
        if (
            kind in ("DefaultCredentialsError", "GoogleAuthError")
            or "credential" in text
            or "auth" in text
        ):
            message = (
                "GCS authentication failed. Verify GOOGLE_APPLICATION_CREDENTIALS or "
                "use anonymous access."
            )
        elif kind == "NotFound" or "not found" in text or "does not exist" in text:
            message = f"GCS resource '{bucket_name}' not found."
        else:
            message = f"Access denied to GCS resource '{bucket_name}'. Verify permissions."
        raise RuntimeError(message) from error
    if count == 0:
        raise RuntimeError(f"Failed to fetch model. No model found in {uri}.")
    return out_dir


def main(argv: list[str]) -> int:
    """Download `argv[0]` into `argv[1]` the way KServe's storage-initializer does."""
    source, destination = argv[0], argv[1]
    logger.info("Initializing, args: src_uri [%s] dest_path[ [%s]", source, destination)
    try:
        from kserve_storage import Storage  # the initializer image since KServe 0.15
    except ImportError:
        try:
            from kserve.storage import Storage  # type: ignore[no-redef]  # before: the SDK's
        except ImportError:
            Storage = None  # type: ignore[assignment,misc]
    if Storage is None:
        if not source.startswith("gs://"):
            raise SystemExit(
                f"only gs:// URIs are supported without kserve-storage: {source}"
            ) from None
        _download_gcs(source, destination)
    else:
        Storage.download(source, destination)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
