"""Bucket access as the serving principal: who KServe would be, and can it list then read.

`resolve_identity` is pure and follows KServe's webhook (annotation secret, else the service
account's secrets, S3 keys first; else Application Default Credentials: Workload Identity, the
node's account, or anonymous). `check_access` does what the storage-initializer does — list the
prefix, then get one object — never requiring storage.buckets.get, which KServe does not use.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import requests
from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.auth import exceptions as auth_exceptions
from google.cloud import storage
from google.oauth2 import service_account

from pytest_kfs.gcp.http import storage_client, token_request
from pytest_kfs.gcp.keyfile import key_problem, token_uri_trusted
from pytest_kfs.gcp.uri import parse_gcs_uri
from pytest_kfs.kserve.api import GCS_KEY_FILE
from pytest_kfs.untrusted import printable

# Google's clients retry for minutes by default; a check gives a transient fault this long.
RETRY_SECONDS = 10.0
_REQUEST_TIMEOUT = (5.0, 15.0)


def unverifiable(error: BaseException) -> bool:
    """Google could not answer (5xx, 429, no connection): says nothing about permissions."""
    if isinstance(
        error,
        api_exceptions.ServerError
        | api_exceptions.TooManyRequests
        | api_exceptions.RetryError
        | auth_exceptions.TransportError
        | requests.exceptions.ConnectionError
        | requests.exceptions.Timeout
        | ConnectionError
        | TimeoutError,
    ):
        return True
    return isinstance(error, auth_exceptions.RefreshError) and bool(
        getattr(error, "retryable", False)
    )


def _retrying() -> api_retry.Retry:
    return retrying_within(lambda: True)


def retrying_within(budget: Callable[[], bool]) -> api_retry.Retry:
    """Retry what Google did not answer for RETRY_SECONDS, while `budget()` allows another
    retry (a fleet run shares one budget, so an outage costs seconds, not hours)."""
    return api_retry.Retry(
        predicate=lambda error: unverifiable(error) and budget(),
        initial=0.2,
        maximum=2.0,
        multiplier=2.0,
        timeout=RETRY_SECONDS,
    )


@dataclass(frozen=True)
class KeyCheck:
    """Whether a key secret is usable: right file name, parseable, refreshes.

    `unverified` says why it could not be checked (Google unreachable): neither good nor bad."""

    ok: bool
    detail: str
    client_email: str | None = None
    unverified: str = ""


def check_key(
    secret_data: dict[str, str],
    gcs_file: str = GCS_KEY_FILE,
    private_endpoints: Iterable[str | None] = (),
) -> KeyCheck:
    """Parse and refresh the key (one token request, only to Google's token endpoint or one
    the run was configured with); never returns key material or more than a short reason."""
    __tracebackhide__ = True  # its locals hold key material: never shown (-l)
    if gcs_file not in secret_data:
        keys = ", ".join(sorted(secret_data)) or "none"
        return KeyCheck(
            False, f"no key named {gcs_file} (keys: {keys}); KServe only reads that file name"
        )
    try:
        info = json.loads(base64.b64decode(secret_data[gcs_file]))
    except (ValueError, TypeError):
        return KeyCheck(False, f"{gcs_file} is not valid JSON")
    problem = key_problem(info)
    if problem:
        return KeyCheck(False, f"{gcs_file} is not a service-account key: {problem}")
    email = str(info["client_email"])
    if not token_uri_trusted(str(info["token_uri"]), private_endpoints):
        reason = (
            "not checked: the key's token_uri is neither Google's token endpoint nor "
            "one this run was configured with, so no signed assertion was sent there"
        )
        return KeyCheck(False, reason, email, unverified=reason)
    try:
        credentials = service_account.Credentials.from_service_account_info(
            info, scopes=["https://www.googleapis.com/auth/devstorage.read_only"]
        )
        _retrying()(credentials.refresh)(token_request())
    except (ValueError, KeyError) as error:
        return KeyCheck(False, f"{gcs_file} is not a usable key ({type(error).__name__})", email)
    except (
        auth_exceptions.GoogleAuthError,
        api_exceptions.RetryError,
        requests.exceptions.RequestException,
    ) as error:
        if unverifiable(error):
            reason = (
                f"could not verify the key: Google's token endpoint did not answer "
                f"({_short(error)}) after retrying for {RETRY_SECONDS:g}s"
            )
            return KeyCheck(False, reason, email, unverified=reason)
        return KeyCheck(False, f"token request refused: {_short_reason(error)}", email)
    return KeyCheck(True, "the key refreshes", email)


# What an OAuth token endpoint says when it refuses: `invalid_grant: Invalid JWT Signature.`
_OAUTH_REASON = re.compile(r"^[a-z_]{3,40}(?:: [^<>{}\n]{0,160})?$")


def _short_reason(error: BaseException) -> str:
    """The token endpoint's reason when it is an OAuth error; never a copied page."""
    first = error.args[0] if error.args and isinstance(error.args[0], str) else ""
    if first and _OAUTH_REASON.match(first.strip()):
        return printable(first.strip())
    return "an answer that is not an OAuth error (not shown)"


def _short(error: BaseException) -> str:
    if isinstance(error, api_exceptions.RetryError) and error.cause is not None:
        error = error.cause
    text = str(error).split("\n")[0]
    return f"{type(error).__name__}: {text[:160]}"


def client_for_key(
    secret_data: dict[str, str], endpoint: str | None, gcs_file: str = GCS_KEY_FILE
) -> storage.Client:
    """A storage client that acts as the key's service account."""
    __tracebackhide__ = True  # its locals hold key material: never shown (-l)
    info = json.loads(base64.b64decode(secret_data[gcs_file]))
    credentials = service_account.Credentials.from_service_account_info(info)
    return storage_client(credentials, info.get("project_id"), endpoint)


@dataclass
class AccessCheck:
    """KServe's two calls as the principal: list the prefix, read an object."""

    listed: bool | None = None
    listed_detail: str = ""
    object_name: str | None = None
    read: bool | None = None
    read_detail: str = ""
    requester_pays: bool = False
    notes: list[str] = field(default_factory=list)
    unverified: str = ""  # Google did not answer: why nothing could be concluded

    @property
    def ok(self) -> bool:
        """Both calls succeeded."""
        return bool(self.listed and self.read)


def _error_text(error: Exception) -> str:
    response = getattr(error, "response", None)
    if response is not None:
        try:
            return str(json.loads(response.text)["error"]["message"])
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
    return str(error).split("\n")[0]


def check_access(
    client: storage.Client, storage_uri: str, retry: api_retry.Retry | None = None
) -> AccessCheck:
    """List the prefix (max one object), then read one byte of an object, as `client`."""
    bucket_name, path = parse_gcs_uri(storage_uri)
    check = AccessCheck()
    if bucket_name is None:
        check.notes.append(f"{storage_uri} is not a gs:// URI")
        return check
    bucket = client.bucket(bucket_name)
    prefix = path + "/" if path else ""
    retry, timeout = retry or _retrying(), _REQUEST_TIMEOUT
    try:
        blobs = list(bucket.list_blobs(prefix=prefix, max_results=1, retry=retry, timeout=timeout))
        check.listed, check.listed_detail = True, f"{len(blobs)} object(s) under {prefix or '/'}"
    except api_exceptions.BadRequest as error:
        check.listed, check.listed_detail = False, _error_text(error)
        check.requester_pays = "requester pays" in check.listed_detail
        return check
    except _GOOGLE_ERRORS as error:
        if unverifiable(error):
            return _unverified(check, "listing the prefix", error)
        check.listed, check.listed_detail = False, _error_text(error)
        return check
    if not blobs:
        # KServe then tries the path as one object.
        blobs = [bucket.blob(path)] if path else []
    if not blobs:
        check.read, check.read_detail = False, "the bucket is empty"
        return check
    check.object_name = blobs[0].name
    try:
        blobs[0].download_as_bytes(start=0, end=0, retry=retry, timeout=timeout)
        check.read, check.read_detail = True, f"read gs://{bucket_name}/{blobs[0].name}"
    except _GOOGLE_ERRORS as error:
        if unverifiable(error):
            return _unverified(check, "reading an object", error)
        check.read, check.read_detail = False, _error_text(error)
    return check


_GOOGLE_ERRORS = (
    api_exceptions.GoogleAPIError,
    auth_exceptions.GoogleAuthError,
    requests.exceptions.RequestException,
)


def _unverified(check: AccessCheck, step: str, error: BaseException) -> AccessCheck:
    check.unverified = (
        f"could not verify bucket access: Cloud Storage did not answer "
        f"{step} ({_short(error)}) after retrying for {RETRY_SECONDS:g}s; "
        "this says nothing about permissions — rerun when it is reachable"
    )
    return check
