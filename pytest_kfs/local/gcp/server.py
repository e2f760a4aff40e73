"""The local GCP on loopback: OAuth2 token endpoint, GKE metadata server, GCS JSON API with IAM.

One HTTP server, several faces (paths), each a module of its own: `/token` (oauth.py);
`/pods/<uid>/...` (metadata.py); `/v1/projects/-/serviceAccounts/...` (iam_api.py);
`/storage/v1`, `/download/storage/v1` (storage.py); and `/_kfs/admin`, which arranges the world
from other processes (admin.py). This module routes between them and runs the server.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

from pytest_kfs.local.gcp.admin import ADMIN_HEADER, ADMIN_PATH, GcpAdmin, dispatch
from pytest_kfs.local.gcp.httpserver import QuietHTTPServer
from pytest_kfs.local.gcp.iam_api import IamApi
from pytest_kfs.local.gcp.metadata import MetadataServer
from pytest_kfs.local.gcp.oauth import TokenEndpoint
from pytest_kfs.local.gcp.state import GcpState
from pytest_kfs.local.gcp.storage import StorageApi, gcs_error

_IAM_PREFIX = "/v1/projects/-/serviceAccounts/"


@dataclass
class LocalGcp(GcpState):
    """The running local GCP: its world, its address, the pods the metadata server serves."""

    _server: QuietHTTPServer | None = None

    def start(self) -> LocalGcp:
        """Serve on a free loopback port in a daemon thread."""
        handler = type("Handler", (GcpRequestHandler,), {"gcp": self})
        self._server = QuietHTTPServer(("127.0.0.1", 0), handler)
        self.port = self._server.server_address[1]
        self.world.token_uri = f"http://127.0.0.1:{self.port}/token"
        self._server.serve_in_background("kfs-local-gcp")
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.stop()
            self._server = None


class GcpRequestHandler(TokenEndpoint, MetadataServer, IamApi, StorageApi):
    """Every face of the local GCP, routed by path."""

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def do_PUT(self) -> None:
        self._route()

    def _route(self) -> None:
        url = urlparse(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        path = url.path
        if path == "/token" and self.command == "POST":
            self._token()
        elif path == ADMIN_PATH and self.command == "POST":
            self._admin()
        elif path.startswith("/pods/"):
            self._metadata(path, query)
        elif path.startswith(_IAM_PREFIX) and self.command == "POST":
            self._iam_api(unquote(path.removeprefix(_IAM_PREFIX)))
        elif path.startswith(("/storage/v1/b/", "/download/storage/v1/b/")):
            self._storage(path, query)
        else:
            self._json(404, gcs_error(404, "Not Found", "notFound"))
            self._record("-", 404)

    def _admin(self) -> None:
        body = self._body()
        if not secrets.compare_digest(self.headers.get(ADMIN_HEADER, ""), self.gcp.admin_token):
            self._json(403, {"error": "admin token required"})
            return
        try:
            result = dispatch(GcpAdmin(self.gcp), json.loads(body))
        except (KeyError, ValueError, TypeError) as error:
            self._json(400, {"error": f"{type(error).__name__}: {error}"})
            return
        self._json(200, result)
