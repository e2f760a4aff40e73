"""The HTTP plumbing every face of the local GCP shares: answers, bodies, the access log and who
is calling. Each face (token endpoint, metadata server, IAM, storage) extends this handler."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlparse

from pytest_kfs.gcp.iam import Principal
from pytest_kfs.local.gcp.state import AccessRecord, GcpState


class GcpHandler(BaseHTTPRequestHandler):
    """One request to the local GCP; `gcp` is set on the class the server serves with."""

    gcp: GcpState
    protocol_version = "HTTP/1.1"
    scheme = "http"  # how clients reached it: links in answers point back the same way

    def log_message(self, format: str, *args: object) -> None:
        return  # requests are recorded in the access log instead

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers=headers)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _record(self, principal: str, status: int) -> None:
        path = urlparse(self.path).path
        self.gcp.access_log.append(AccessRecord(principal, self.command, path, status))

    def _caller(self) -> Principal | None:
        """The bearer token's principal; nobody without a token, None for a bad one."""
        header = self.headers.get("Authorization", "")
        if not header:
            return Principal.nobody()
        if not header.startswith("Bearer "):
            return None
        return self.gcp.world.principal_for_token(header.removeprefix("Bearer ").strip())
