"""The embedded cluster's ingress gateway: routes by Host header, as a cluster's gateway does.

KServe writes `status.url` as `http://<name>-<namespace>.<ingress domain>`; on a real cluster a
client sends the request to the ingress gateway's address with that Host header (KServe's docs:
`curl -H "Host: ${SERVICE_HOSTNAME}" http://${INGRESS_HOST}:${INGRESS_PORT}/...`). Here the
gateway is a loopback server that finds the InferenceService whose URL has that host and
forwards to a ready predictor pod of it on the node. It stands in for Istio / Gateway API,
which do not run here.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from kubernetes import client

from pytest_kfs.local.gcp.httpserver import QuietHTTPServer
from pytest_kfs.local.loopback import open_url

if TYPE_CHECKING:
    from pytest_kfs.local.node.kubelet import Kubelet

_ISVC_LABEL = "serving.kserve.io/inferenceservice"
_MAX_BODY = 16 * 2**20


class Ingress:
    """A Host-header router in front of the node's model servers."""

    def __init__(self, api_client: client.ApiClient, kubelet: Kubelet) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.kubelet = kubelet
        self._server: QuietHTTPServer | None = None

    @property
    def address(self) -> str:
        """http://127.0.0.1:PORT, where clients send requests with the model's Host header."""
        assert self._server is not None, "the ingress is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def backend(self, host: str) -> str | None:
        """The address of a ready model server for the InferenceService at `host`."""
        services = self.custom.list_cluster_custom_object(
            "serving.kserve.io", "v1beta1", "inferenceservices"
        )["items"]
        for service in services:
            if urlparse((service.get("status") or {}).get("url") or "").hostname != host:
                continue
            meta = service["metadata"]
            return self.kubelet.endpoint_of(meta["namespace"], {_ISVC_LABEL: meta["name"]})
        return None

    def start(self) -> Ingress:
        """Listen on a free loopback port."""
        ingress = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def _forward(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                backend = ingress.backend(host)
                if backend is None:
                    self._answer(
                        404,
                        f"no InferenceService with a ready pod answers for host "
                        f"'{host}'\n".encode(),
                    )
                    return
                length = min(int(self.headers.get("Content-Length") or 0), _MAX_BODY)
                request = urllib.request.Request(
                    backend + self.path,
                    data=self.rfile.read(length) if length else None,
                    method=self.command,
                    headers={
                        "Content-Type": self.headers.get("Content-Type") or "application/json"
                    },
                )
                try:
                    with open_url(request, timeout=60) as response:
                        self._answer(response.status, response.read())
                except urllib.error.HTTPError as error:
                    self._answer(error.code, error.read())
                except OSError:
                    self._answer(503, b"upstream connect error\n")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _forward

        self._server = QuietHTTPServer(("127.0.0.1", 0), Handler).serve_in_background(
            "kfs-kubelet-ingress"
        )
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.stop()
