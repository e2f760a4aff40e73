"""The OAuth2 token endpoint: a service-account key's signed JWT for an access token."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from pytest_kfs.gcp.iam import Principal
from pytest_kfs.local.gcp.handler import GcpHandler

_JWT_SKEW_SECONDS = 300


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class TokenEndpoint(GcpHandler):
    """`POST /token` with the jwt-bearer grant, answered as Google's token endpoint does."""

    def _token(self) -> None:
        form = {key: values[-1] for key, values in parse_qs(self._body().decode()).items()}
        status, payload = self._grant(form)
        self._json(status, payload)
        self._record(payload.get("_who", "-") if status == 200 else "-", status)
        payload.pop("_who", None)

    def _grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        def invalid(description: str) -> tuple[int, dict[str, Any]]:
            return 400, {"error": "invalid_grant", "error_description": description}

        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "Invalid grant_type",
            }
        try:
            header_b64, payload_b64, signature_b64 = form["assertion"].split(".")
            header = json.loads(_b64url_decode(header_b64))
            claims = json.loads(_b64url_decode(payload_b64))
        except (KeyError, ValueError):
            return invalid("Invalid JWT: could not parse the assertion.")
        world = self.gcp.world
        with world.lock:
            account = world.service_accounts.get(claims.get("iss", ""))
            if account is None or account.deleted:
                return invalid("Invalid grant: account not found")
            key = account.keys.get(header.get("kid", ""))
            disabled = header.get("kid") in account.disabled_keys
        if key is None or disabled:
            return invalid("Invalid JWT Signature.")
        try:
            key.verify(
                _b64url_decode(signature_b64),
                f"{header_b64}.{payload_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return invalid("Invalid JWT Signature.")
        now = time.time()
        if abs(claims.get("iat", 0) - now) > _JWT_SKEW_SECONDS or claims.get("exp", 0) < now:
            return invalid(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT "
                "claim."
            )
        token = world.issue_token(Principal.service_account(account.email))
        return 200, {
            "access_token": token,
            "expires_in": 3599,
            "token_type": "Bearer",
            "_who": account.email,
        }
