"""HTTP to the embedded cluster's own servers on loopback, never through a proxy.

`urllib.request.urlopen` builds its default opener on each call and reads the proxy variables
by iterating `os.environ`; on a kubelet or watch thread that races with pytest's writes of
PYTEST_CURRENT_TEST (KeyError). A loopback address needs no proxy, so none is looked up.
"""

from __future__ import annotations

import ssl
import urllib.request
from http.client import HTTPResponse


def open_url(
    url: str | urllib.request.Request, timeout: float, context: ssl.SSLContext | None = None
) -> HTTPResponse:
    """`urlopen` for loopback: no proxy, and no read of the environment."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    response: HTTPResponse = urllib.request.build_opener(*handlers).open(url, timeout=timeout)
    return response
