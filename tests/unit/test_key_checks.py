"""A key secret is another team's data: checking it never sends its signed assertion to a
token_uri that is not Google's or configured, and never copies key material or a reply."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pytest_kfs.gcp.storage import check_key


class _Internal(BaseHTTPRequestHandler):
    calls: ClassVar[list[str]] = []

    def do_POST(self):
        self.calls.append(self.path)
        body = b"<html>db_password=hunter2</html>"
        self.send_response(400)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def internal_page():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Internal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Internal.calls = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _secret(**fields):
    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    key = {
        "type": "service_account",
        "client_email": "reader@p.iam.gserviceaccount.com",
        "private_key": pem,
        "private_key_id": "0123abcd",
        "token_uri": "https://oauth2.googleapis.com/token",
        **fields,
    }
    return {
        "gcloud-application-credentials.json": base64.b64encode(json.dumps(key).encode()).decode()
    }, pem


def test_a_token_uri_elsewhere_is_not_called(internal_page):
    secret, _ = _secret(token_uri=f"{internal_page}/admin/token")
    check = check_key(secret)
    assert _Internal.calls == []
    assert not check.ok and check.unverified and "not checked" in check.unverified
    assert "hunter2" not in check.detail


def test_a_configured_endpoint_is_called_and_its_reply_is_not_copied(internal_page):
    secret, _ = _secret(token_uri=f"{internal_page}/token")
    check = check_key(secret, private_endpoints=[internal_page])
    assert _Internal.calls, "the configured endpoint was called"
    assert not check.ok and "hunter2" not in check.detail and "<html>" not in check.detail


@pytest.mark.parametrize("shape", [list, dict, lambda pem: pem.replace("\n", "")[40:200]])
def test_a_malformed_private_key_never_appears_in_the_detail(shape):
    secret, pem = _secret()
    key = json.loads(base64.b64decode(secret["gcloud-application-credentials.json"]))
    key["private_key"] = (
        shape(pem) if not isinstance(shape, type) else ([pem] if shape is list else {"pem": pem})
    )
    secret = {
        "gcloud-application-credentials.json": base64.b64encode(json.dumps(key).encode()).decode()
    }
    detail = check_key(secret).detail
    body = "".join(pem.splitlines()[1:-1])
    assert body[:40] not in detail and "PRIVATE KEY" not in detail
