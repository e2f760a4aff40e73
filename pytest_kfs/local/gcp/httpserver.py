"""The loopback HTTP server the local GCP, the node's log endpoint and its ingress run on."""

from __future__ import annotations

import sys
import threading
from http.server import ThreadingHTTPServer


class QuietHTTPServer(ThreadingHTTPServer):
    """A threading server that does not print a traceback when a client hangs up."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def serve_in_background(self, name: str) -> QuietHTTPServer:
        """Serve from a daemon thread called `name`; returns self."""
        threading.Thread(target=self.serve_forever, name=name, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()
