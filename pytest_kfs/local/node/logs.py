"""Container logs on the node, and the kubelet's HTTPS endpoint that serves them to the API
server's `pods/log` (`/containerLogs/<namespace>/<pod>/<container>`)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from pytest_kfs.local.gcp.httpserver import QuietHTTPServer
from pytest_kfs.local.node.podstatus import ContainerRun

# (namespace, pod, container, previous, tailLines) -> the log, or None for no such container
LogReader = Callable[[str, str, str, bool, int | None], bytes | None]


class ContainerLogs:
    """One file per attempt of a container: `<root>/<pod uid>/<container>/<attempt>.log`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, uid: str, container: str, attempt: int) -> Path:
        """Where one attempt of a container writes its log."""
        folder = self.root / uid / container
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{attempt}.log"

    def read(self, uid: str, container: ContainerRun, previous: bool, tail: int | None) -> bytes:
        """The current (or previous) attempt's log, its last `tail` lines if given."""
        attempt = container.restart_count - 1 if previous else container.restart_count
        if previous and not container.last_state:
            attempt = -1
        path = self.root / uid / container.name / f"{attempt}.log"
        if not previous and not path.exists() and attempt > 0:
            # Waiting to restart: like the kubelet, show the last container that ran.
            path = path.with_name(f"{attempt - 1}.log")
        data = path.read_bytes() if attempt >= 0 and path.exists() else b""
        if tail is not None:
            data = b"".join(data.splitlines(keepends=True)[-tail:]) if tail > 0 else b""
        return data


def serve_logs(read: LogReader, cert: Path, key: Path, client_ca: Path | None) -> QuietHTTPServer:
    """The kubelet's log endpoint on a free loopback port, over TLS."""

    class LogHandler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            url = urlparse(self.path)
            parts = url.path.strip("/").split("/")
            if len(parts) != 4 or parts[0] != "containerLogs":
                self.send_error(404)
                return
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            body = read(
                parts[1],
                parts[2],
                parts[3],
                query.get("previous") == "true",
                int(query["tailLines"]) if "tailLines" in query else None,
            )
            if body is None:
                self.send_error(404, "container not found")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = QuietHTTPServer(("127.0.0.1", 0), LogHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    if client_ca is not None:
        # Like a real kubelet: only the API server (its client certificate) reads logs.
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(str(client_ca))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server.serve_in_background("kfs-kubelet-logs")
