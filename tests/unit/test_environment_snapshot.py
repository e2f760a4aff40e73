"""No HTTP call of the plugin iterates os.environ while it runs (CI flake of 12-07: a fleet
check on a worker thread failed with `KeyError: 'PYTEST_CURRENT_TEST'` because requests read
the proxy variables by iterating os.environ while pytest rewrote that variable): Google's
sessions use a snapshot taken at import, honouring its proxies and no_proxy; loopback calls
look up no proxy at all."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator, MutableMapping
from typing import ClassVar

import pytest

from pytest_kfs.gcp import http as google_http
from pytest_kfs.local.loopback import open_url


class _NoIteration(MutableMapping[str, str]):
    """os.environ that fails the test the moment anything iterates it."""

    def __init__(self, real: MutableMapping[str, str]) -> None:
        self._real = real

    def __getitem__(self, key: str) -> str:
        return self._real[key]

    def __setitem__(self, key: str, value: str) -> None:
        self._real[key] = value

    def __delitem__(self, key: str) -> None:
        del self._real[key]

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("os.environ iterated during a request")

    def __len__(self) -> int:
        return len(self._real)


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    seen: ClassVar[list[str]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def environ_not_iterable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "environ", _NoIteration(os.environ))


def test_google_sessions_never_iterate_the_environment(server, environ_not_iterable):
    url, seen = server
    session = google_http.token_request().session
    assert session.get(f"{url}/token", timeout=5).text == "ok"
    assert seen == ["/token"]


def test_loopback_calls_never_iterate_the_environment(server, environ_not_iterable):
    url, seen = server
    with open_url(f"{url}/healthz", timeout=5) as response:
        assert response.read() == b"ok"
    assert seen == ["/healthz"]


def test_the_snapshot_proxy_is_used_and_no_proxy_honoured(server, monkeypatch):
    proxy, seen = server
    monkeypatch.setattr(google_http, "_PROXIES", {"http": proxy, "no": "direct.invalid"})
    session = google_http.token_request().session
    # Through the proxy: it receives the absolute URL of a host it alone can reach.
    assert session.get("http://storage.invalid/b/o", timeout=5).text == "ok"
    assert seen == ["http://storage.invalid/b/o"]
    # A no_proxy host is asked directly (and here cannot be resolved).
    with pytest.raises(OSError):
        session.get("http://direct.invalid/", timeout=5)
    assert seen == ["http://storage.invalid/b/o"]
