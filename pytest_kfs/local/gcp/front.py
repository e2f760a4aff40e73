"""The local GCP under Google's own host names, for real pods (kind): what a pod's unchanged
google-auth and google-cloud-storage reach when cluster DNS points Google's names at it.

- HTTPS (443) for `storage.googleapis.com`, `oauth2.googleapis.com` and
  `iamcredentials.googleapis.com`, with a certificate of the machine's own CA (`pki.machine_ca`),
  which the images built here trust; Google's paths are the local GCP's paths.
- The GKE metadata server (80) for `metadata.google.internal`: as GKE's, it tells pods apart by
  their IP (a pod's requests reach the host with the pod's own address), and answers only
  requests with `Metadata-Flavor: Google`.
"""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from pytest_kfs.local import pki
from pytest_kfs.local.gcp.httpserver import QuietHTTPServer
from pytest_kfs.local.gcp.server import GcpRequestHandler, LocalGcp
from pytest_kfs.local.gcp.state import PodIdentity

GOOGLE_HOSTS = (
    "storage.googleapis.com",
    "oauth2.googleapis.com",
    "iamcredentials.googleapis.com",
)
METADATA_HOST = "metadata.google.internal"
TOKEN_URI = "https://oauth2.googleapis.com/token"
# Google's ports: clients name none (https://storage.googleapis.com, http://metadata...).
HTTPS_PORT, METADATA_PORT = 443, 80
# Who a pod is, by its IP: None for an address no pod has.
Identify = Callable[[str], PodIdentity | None]


def _host(handler: GcpRequestHandler) -> str:
    return (handler.headers.get("Host") or "").rsplit(":", 1)[0].lower()


class _GoogleApis(GcpRequestHandler):
    """Google's API hosts over TLS; any other host name is not Google's: 404."""

    scheme = "https"

    def _route(self) -> None:
        if _host(self) not in GOOGLE_HOSTS:
            self._json(404, {"error": {"code": 404, "message": "unknown host"}})
            return
        super()._route()


class _Metadata(GcpRequestHandler):
    """metadata.google.internal: the calling pod found by its address."""

    identify: Identify

    def _route(self) -> None:
        url = urlparse(self.path)
        flavor = {"Metadata-Flavor": "Google"}
        if self.headers.get("Metadata-Flavor") != "Google":
            # GKE's metadata server refuses requests without the header (SSRF guard).
            self._send(403, b"Missing Metadata-Flavor:Google header.\n", "text/plain", flavor)
            return
        address = self.client_address[0]
        identity = self.identify(address)
        key = f"ip-{address}"
        if identity is None:
            self.gcp.pods.pop(key, None)
        else:
            self.gcp.pods[key] = identity  # looked up each time: pod IPs are reused
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self._metadata(f"/pods/{key}{url.path}", query)


class _TlsServer(QuietHTTPServer):
    """TLS per connection, in the connection's own thread (a slow handshake stalls no one)."""

    context: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            connection = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that does not trust the CA, or hung up: its own problem
        super().finish_request(connection, client_address)


class GoogleFront:
    """The local GCP's HTTPS and metadata faces on `address` (the host as pods reach it)."""

    def __init__(
        self,
        gcp: LocalGcp,
        address: str,
        ca: pki.MachineCa,
        identify: Identify,
    ) -> None:
        self._gcp = gcp
        self._address = address
        self._ca = ca
        self._identify = identify
        self._servers: list[QuietHTTPServer] = []

    def start(self) -> GoogleFront:
        """Serve both faces from daemon threads; key files given out name Google's token URI."""
        self._gcp.world.token_uri = TOKEN_URI
        apis = _TlsServer(
            (self._address, HTTPS_PORT), type("Apis", (_GoogleApis,), {"gcp": self._gcp})
        )
        apis.context = self._tls()
        metadata = QuietHTTPServer(
            (self._address, METADATA_PORT),
            type(
                "Metadata",
                (_Metadata,),
                {"gcp": self._gcp, "identify": staticmethod(self._identify)},
            ),
        )
        self._servers = [apis.serve_in_background("kfs-google-apis")]
        self._servers.append(metadata.serve_in_background("kfs-google-metadata"))
        return self

    def stop(self) -> None:
        """Stop both faces."""
        for server in self._servers:
            server.stop()
        self._servers = []

    def _tls(self) -> ssl.SSLContext:
        cert, key = pki.signed_by(self._ca, GOOGLE_HOSTS)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory(prefix="kfs-front-") as folder:
            cert_path, key_path = Path(folder) / "tls.crt", Path(folder) / "tls.key"
            cert_path.write_bytes(cert)
            key_path.write_bytes(key)
            key_path.chmod(0o600)
            context.load_cert_chain(cert_path, key_path)
        return context
