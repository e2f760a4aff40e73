"""Talk to a deployed model: KServe v1 (`:predict`) and Open Inference / v2 (`/infer`)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import requests
from kubernetes.client import ApiClient
from kubernetes.client.rest import ApiException

from pytest_kfs.errors import InferenceFailed
from pytest_kfs.untrusted import redacted

_RETRY_WINDOW = 15.0  # just after Ready, routes and servers can still refuse for a moment


@dataclass(frozen=True)
class InferenceResult:
    """The model's answer and how long it took."""

    predictions: list[Any]
    seconds: float
    raw: dict[str, Any]


# url, JSON body (POST; None: GET), timeout -> (HTTP status, response text); raises
# ConnectionError.
Sender = Callable[[str, dict[str, Any] | None, float], tuple[int, str]]
_CLUSTER_SUFFIXES = (".svc", ".svc.cluster.local", ".cluster.local")


def _http(
    url: str, body: dict[str, Any] | None, timeout: float, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    try:
        response = requests.request(
            "GET" if body is None else "POST", url, json=body, timeout=timeout, headers=headers
        )
    except requests.ConnectionError as error:
        raise ConnectionError(str(error)) from None
    return response.status_code, response.text


def send_direct(url: str, body: dict[str, Any] | None, timeout: float) -> tuple[int, str]:
    """POST (GET without a body) straight to the model's URL."""
    return _http(url, body, timeout)


def send_through_api_server(api_client: ApiClient) -> Sender:
    """POST (GET without a body) through the API server's service proxy, with the
    kubeconfig's credentials."""

    def send(url: str, body: dict[str, Any] | None, timeout: float) -> tuple[int, str]:
        method = "GET" if body is None else "POST"
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        api_client.update_params_for_auth(headers, [], ["BearerToken"], url, method, body)
        try:
            response = api_client.rest_client.request(
                method, url, headers=headers, body=body, _request_timeout=timeout
            )
        except ApiException as error:
            return error.status, error.body or ""
        data = response.data
        return response.status, data.decode() if isinstance(data, bytes) else str(data)

    return send


def send_with_host(host: str) -> Sender:
    """POST (GET without a body) to an ingress gateway with the model's Host header, as
    KServe's docs do."""

    def send(url: str, body: dict[str, Any] | None, timeout: float) -> tuple[int, str]:
        return _http(url, body, timeout, {"Host": host})

    return send


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return True


@dataclass(frozen=True)
class Route:
    """How requests reach a model: the base URL, the sender, and a phrase for messages."""

    base: str
    path: str  # "direct" | "ingress" | "api-server proxy"
    host: str


def route(
    status_url: str,
    namespace: str,
    name: str,
    api_server: str,
    ingress: str | None = None,
    resolves: Callable[[str], bool] = _resolves,
) -> Route:
    """Where to send requests: the cluster's ingress with the URL's Host header when one is
    known; the API server's service proxy for cluster-internal or unresolvable hosts (KServe's
    default `example.com` domain), so runners outside the cluster reach the model; else the
    URL itself."""
    host = urlparse(status_url).hostname or ""
    if ingress:
        return Route(ingress.rstrip("/"), "ingress", host)
    if host.endswith(_CLUSTER_SUFFIXES) or not resolves(host):
        return Route(
            f"{api_server.rstrip('/')}/api/v1/namespaces/{namespace}/services/"
            f"{name}-predictor:80/proxy",
            "api-server proxy",
            host,
        )
    return Route(status_url, "direct", host)


def _explain(status: int, url: str, name: str, body: str) -> str:
    if status == 404:
        return (
            f"HTTP 404 from {url}: no model named '{name}' there (the model name is the "
            "InferenceService name), or the wrong protocol path"
        )
    if status == 503:
        return f"HTTP 503 from {url}: the model is not ready yet"
    if status == 400:
        return f"HTTP 400 from {url}: the request does not fit the model: {body[:300]}"
    return f"HTTP {status} from {url}: {body[:300]}"


def _post(
    url: str, name: str, body: dict[str, Any], timeout: float, send: Sender = send_direct
) -> tuple[dict[str, Any], float]:
    deadline = time.monotonic() + _RETRY_WINDOW
    while True:
        started = time.monotonic()
        try:
            status, text = send(url, body, timeout)
        except ConnectionError as error:
            if time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            raise InferenceFailed(redacted(f"cannot connect to {url}: {error}")) from None
        elapsed = time.monotonic() - started
        if status == 503 and time.monotonic() < deadline:
            time.sleep(0.2)
            continue
        if status != 200:
            raise InferenceFailed(_explain(status, url, name, text))
        try:
            return json.loads(text), elapsed
        except ValueError:
            raise InferenceFailed(
                f"{url} answered 200 with a body that is not JSON: {text[:200]}"
            ) from None


def predict_v1(
    base_url: str,
    name: str,
    instances: list[Any],
    timeout: float = 30.0,
    send: Sender = send_direct,
) -> InferenceResult:
    """POST /v1/models/<name>:predict with `instances`; returns the predictions."""
    url = f"{base_url.rstrip('/')}/v1/models/{name}:predict"
    body, elapsed = _post(url, name, {"instances": instances}, timeout, send)
    if "predictions" not in body:
        raise InferenceFailed(
            f"{url} answered without 'predictions' (a v2-only server?): {str(body)[:200]}"
        )
    return InferenceResult(body["predictions"], elapsed, body)


def infer_v2(
    base_url: str,
    name: str,
    instances: list[list[float]],
    timeout: float = 30.0,
    send: Sender = send_direct,
) -> InferenceResult:
    """POST /v2/models/<name>/infer with one FP32 tensor; returns the first output's data."""
    url = f"{base_url.rstrip('/')}/v2/models/{name}/infer"
    rows, columns = len(instances), len(instances[0]) if instances else 0
    request = {
        "inputs": [
            {
                "name": "input-0",
                "shape": [rows, columns],
                "datatype": "FP32",
                "data": [value for row in instances for value in row],
            }
        ]
    }
    body, elapsed = _post(url, name, request, timeout, send)
    outputs = body.get("outputs") or []
    if not outputs:
        raise InferenceFailed(f"{url} answered without 'outputs': {str(body)[:200]}")
    return InferenceResult(list(outputs[0].get("data") or []), elapsed, body)


def v2_ready(base_url: str, timeout: float = 5.0, send: Sender | None = None) -> bool:
    """GET /v2/health/ready (over `send`'s route; directly without one): 200 is ready."""
    url = f"{base_url.rstrip('/')}/v2/health/ready"
    try:
        return (send or send_direct)(url, None, timeout)[0] == 200
    except (ConnectionError, requests.RequestException):
        return False
