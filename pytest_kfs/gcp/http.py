"""HTTP for Google's clients that reads the process environment once, never from a thread.

`requests` reads the proxy variables on every request by iterating `os.environ`; pytest
rewrites PYTEST_CURRENT_TEST in the main thread meanwhile, so a check on a worker thread (the
fleet's, preflight's) could fail with `KeyError: 'PYTEST_CURRENT_TEST'` (CI, 2026-12-07). The
proxy and CA-bundle settings are read here, when the module is imported (the main thread, at
plugin load), and every session this module makes uses that snapshot, no_proxy included.
"""

from __future__ import annotations

import os
import urllib.parse
import urllib.request
from typing import Any

import requests
from google.api_core.client_options import ClientOptions
from google.auth import credentials as auth_credentials
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import AuthorizedSession, Request
from google.cloud import storage

# getproxies_environment: {"https": ..., "no": "host,.domain"}; read once, here.
_PROXIES = urllib.request.getproxies_environment()
_CA_BUNDLE = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")


class _Snapshot(requests.Session):  # type: ignore[misc]  # requests is untyped here
    """A session that takes proxies and the CA bundle from the snapshot, not os.environ."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trust_env = False  # requests would read os.environ on every request

    def merge_environment_settings(
        self,
        url: str,
        proxies: dict[str, str] | None,
        stream: bool | None,
        verify: Any,
        cert: Any,
    ) -> dict[str, Any]:
        proxies = dict(proxies or {})
        host = urllib.parse.urlsplit(url).hostname or ""
        # Undocumented but in CPython for decades: no_proxy matching on a given mapping.
        if not urllib.request.proxy_bypass_environment(host, _PROXIES):  # type: ignore[attr-defined]
            for scheme, proxy in _PROXIES.items():
                if scheme != "no":
                    proxies.setdefault(scheme, proxy)
        if (verify is True or verify is None) and _CA_BUNDLE:
            verify = _CA_BUNDLE
        merged: dict[str, Any] = super().merge_environment_settings(
            url, proxies, stream, verify, cert
        )
        return merged


class _AuthorizedSnapshot(_Snapshot, AuthorizedSession):  # type: ignore[misc]
    """google-auth's AuthorizedSession on the snapshot."""


def token_request() -> Request:
    """What google-auth refreshes a token with."""
    return Request(session=_Snapshot())


def authorized_session(credentials: auth_credentials.Credentials) -> AuthorizedSession:
    """A session that sends `credentials`' token (refreshed on the snapshot too)."""
    return _AuthorizedSnapshot(credentials, auth_request=token_request())


def storage_client(
    credentials: auth_credentials.Credentials | None,
    project: str | None,
    endpoint: str | None = None,
) -> storage.Client:
    """A Cloud Storage client acting with `credentials` (anonymous when None, as
    `storage.Client.create_anonymous_client` makes it), at `endpoint` when given."""
    options = ClientOptions(api_endpoint=endpoint) if endpoint else None
    if credentials is None:
        anonymous = AnonymousCredentials()
        client = storage.Client(
            credentials=anonymous,
            project="<none>",
            client_options=options,
            _http=authorized_session(anonymous),
        )
        client.project = None
        return client
    return storage.Client(
        credentials=credentials,
        project=project,
        client_options=options,
        _http=authorized_session(credentials),
    )
