"""An HTTP reverse proxy that injects faults and counts requests.

Put it in front of kube-apiserver or the local GCP to rehearse what real networks do: error
bursts (429 with Retry-After, 500/503), slow answers, dropped watch streams, 410 Gone on a
watch (etcd compaction), a server that is down. Clients speak plain HTTP to the proxy; the
proxy speaks HTTP or HTTPS upstream (with a client certificate when given an SSL context).
Every request is recorded, so benchmarks can count API calls per wait.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "content-length",
}
_EXPIRED = (
    b'{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},'
    b'"status":"Failure","message":"too old resource version","reason":"Expired",'
    b'"code":410}}\n'
)


@dataclass(frozen=True)
class Recorded:
    """One request the proxy saw: what, when (monotonic), and what it answered."""

    at: float
    method: str
    path: str
    watch: bool
    status: int


@dataclass
class _Rule:
    kind: str  # status | gone | down
    times: int | None
    status: int = 503
    retry_after: float | None = None
    watch_only: bool = False
    path_contains: str = ""

    def matches(self, path: str, watch: bool) -> bool:
        return (watch or not self.watch_only) and self.path_contains in path


@dataclass
class _State:
    rules: list[_Rule] = field(default_factory=list)
    delay: float = 0.0
    recorded: list[Recorded] = field(default_factory=list)
    streams: set[Any] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_rule(self, path: str, watch: bool) -> _Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.matches(path, watch):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self.rules.remove(rule)
                    return rule
        return None


def _is_watch(path: str) -> bool:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    return query.get("watch", ["false"])[0] in ("true", "1")


class FaultProxy:
    """`start()` returns the proxy's URL; the methods below arm faults while it runs."""

    def __init__(self, upstream: str, ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urllib.parse.urlsplit(upstream)
        self._scheme, self._host, self._port = parts.scheme, parts.hostname or "", parts.port
        self._ssl_context = ssl_context
        self._state = _State()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # Arming faults -----------------------------------------------------------------------

    def fail(
        self,
        status: int = 503,
        times: int | None = None,
        retry_after: float | None = None,
        watch_only: bool = False,
        path_contains: str = "",
    ) -> None:
        """Answer matching requests with `status` (the next `times`, or until `heal()`)."""
        self._arm(_Rule("status", times, status, retry_after, watch_only, path_contains))

    def expire_watches(self, times: int = 1) -> None:
        """Answer the next watch requests with a 410 Gone ERROR event, as after compaction."""
        self._arm(_Rule("gone", times, watch_only=True))

    def go_down(self, times: int | None = None, path_contains: str = "") -> None:
        """Reset matching connections without an answer, like a server that is down."""
        self._arm(_Rule("down", times, path_contains=path_contains))

    def _arm(self, rule: _Rule) -> None:
        with self._state.lock:  # handler threads take rules under the same lock
            self._state.rules.append(rule)

    def slow(self, seconds: float) -> None:
        """Hold every answer back by `seconds` (0 to stop)."""
        self._state.delay = seconds

    def drop_streams(self) -> int:
        """Cut every open streaming response (watches) mid-flight; return how many."""
        with self._state.lock:
            streams = list(self._state.streams)
        for stream in streams:
            stream.cut()
        return len(streams)

    def heal(self) -> None:
        """Stop injecting faults."""
        with self._state.lock:
            self._state.rules.clear()
        self._state.delay = 0.0

    # Observing ----------------------------------------------------------------------------

    @property
    def recorded(self) -> list[Recorded]:
        """Every request so far, oldest first."""
        with self._state.lock:
            return list(self._state.recorded)

    def reset_counts(self) -> None:
        """Forget the requests recorded so far."""
        with self._state.lock:
            self._state.recorded.clear()

    # Life cycle ---------------------------------------------------------------------------

    def start(self) -> str:
        """Listen on a free loopback port; return http://127.0.0.1:PORT."""
        handler = type("Handler", (_Handler,), {"proxy": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, daemon=True, name="kfs-fault-proxy"
        ).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        """Stop listening and cut open streams."""
        self.drop_streams()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def write_kubeconfig(self, path: Path, context: str = "proxied") -> Path:
        """A kubeconfig for a client behind this proxy: plain HTTP, no credentials (the proxy
        presents its own upstream)."""
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": context,
                    "clusters": [{"name": context, "cluster": {"server": self.url}}],
                    "users": [{"name": context, "user": {}}],
                    "contexts": [
                        {"name": context, "context": {"cluster": context, "user": context}}
                    ],
                }
            )
        )
        return path

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._scheme == "https":
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._ssl_context
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the proxy records requests itself

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _record(self, watch: bool, status: int) -> None:
        state = self.proxy._state
        with state.lock:
            state.recorded.append(
                Recorded(time.monotonic(), self.command, self.path, watch, status)
            )

    def _handle(self) -> None:
        state = self.proxy._state
        watch = _is_watch(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        rule = state.take_rule(self.path, watch)
        if state.delay:
            time.sleep(state.delay)
        if rule is not None and rule.kind == "down":
            self._record(watch, 0)
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if rule is not None and rule.kind == "status":
            self._record(watch, rule.status)
            self._answer_status(rule)
            return
        if rule is not None and rule.kind == "gone":
            self._record(watch, 200)
            self._answer_expired()
            return
        self._forward(body, watch)

    def _answer_status(self, rule: _Rule) -> None:
        text = http.client.responses.get(rule.status, "Error")
        payload = (
            f'{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure",'
            f'"message":"injected by the fault proxy: {text}","reason":"{text}",'
            f'"code":{rule.status}}}'
        ).encode()
        self.send_response(rule.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if rule.retry_after is not None:
            self.send_header("Retry-After", f"{rule.retry_after:g}")
        self.end_headers()
        self.wfile.write(payload)

    def _answer_expired(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(_EXPIRED)
        self.close_connection = True

    def _forward(self, body: bytes, watch: bool) -> None:
        upstream = self.proxy._connect(timeout=None if watch else 60)
        headers = {
            key: value for key, value in self.headers.items() if key.lower() not in _HOP_BY_HOP
        }
        try:
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
        except OSError:
            self._record(watch, 502)
            self.send_error(502, "upstream unreachable")
            return
        self._record(watch, response.status)
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP | {"host"}:
                self.send_header(key, value)
        length = response.getheader("Content-Length")
        if length is not None:
            payload = response.read()
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            upstream.close()
            return
        # Streamed (watches, logs): re-chunk bytes as they come. Chunked framing matters: a
        # client reading a close-delimited body waits for its buffer to fill, not for events.
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        stream = _Stream(self.connection, upstream)
        with self.proxy._state.lock:
            self.proxy._state.streams.add(stream)
        try:
            while not stream.is_cut:
                chunk = response.read1(65536)
                if not chunk:
                    self.wfile.write(b"0\r\n\r\n")
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
        except (OSError, ValueError, http.client.HTTPException):
            pass  # cut, or the client went away
        finally:
            with self.proxy._state.lock:
                self.proxy._state.streams.discard(stream)
            upstream.close()


class _Stream:
    """An open streaming response that `FaultProxy.drop_streams` can cut."""

    def __init__(self, client_socket: socket.socket, upstream: http.client.HTTPConnection) -> None:
        self.client_socket = client_socket
        self.upstream = upstream
        self.is_cut = False

    def cut(self) -> None:
        self.is_cut = True
        for sock in (self.client_socket, self.upstream.sock):
            try:
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
