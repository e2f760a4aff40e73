"""Google service-account key files: is it one, and may its token_uri be called (pure).

Messages name the field that is wrong, never a value: a key's content must not reach a
terminal, a report or an exception, whatever shape a hostile or broken key file has.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

GOOGLE_TOKEN_URIS = (
    "https://oauth2.googleapis.com/token",
    "https://accounts.google.com/o/oauth2/token",
    "https://www.googleapis.com/oauth2/v4/token",
)
_TEXT_FIELDS = ("client_email", "private_key", "token_uri")
# The other kinds of Google credential file: a message may name these (our words, not the
# file's), and says nothing of any other type.
_OTHER_TYPES = (
    "authorized_user",
    "external_account",
    "external_account_authorized_user",
    "impersonated_service_account",
    "gdch_service_account",
)


def key_problem(info: object) -> str | None:
    """What makes `info` not a usable service-account key (a phrase: "it lacks ..."), or
    None."""
    if not isinstance(info, dict):
        return f"it is not a JSON object (it is a {type(info).__name__})"
    if info.get("type") != "service_account":
        known = next((kind for kind in _OTHER_TYPES if info.get("type") == kind), None)
        return (
            f"its type is {known!r}, not service_account"
            if known
            else "its type is not service_account"
        )
    wrong = [
        name for name in _TEXT_FIELDS if not isinstance(info.get(name), str) or not info.get(name)
    ]
    if wrong:
        return f"it lacks {', '.join(wrong)} (or they are not text)"
    key = str(info["private_key"])
    if not (key.startswith("-----BEGIN") and "PRIVATE KEY-----" in key):
        return "its private_key is not a PEM private key"
    if "@" not in str(info["client_email"]):
        return "its client_email is not an e-mail address"
    return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def token_uri_trusted(uri: str, private_endpoints: Iterable[str | None] = ()) -> bool:
    """Whether refreshing the key may send its signed assertion to `uri`: Google's token
    endpoints, or an endpoint the run was configured with (a private or local Google)."""
    if uri in GOOGLE_TOKEN_URIS:
        return True
    return any(endpoint and _origin(endpoint) == _origin(uri) for endpoint in private_endpoints)
