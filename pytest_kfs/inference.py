"""Talk to a deployed model: KServe v1 (`:predict`) and Open Inference / v2 (`/infer`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

_RETRY_WINDOW = 15.0  # just after Ready, routes and servers can still refuse for a moment


class InferenceFailed(AssertionError):
    """A request to the model failed; the message says why and what to check."""


@dataclass(frozen=True)
class InferenceResult:
    """The model's answer and how long it took."""

    predictions: list[Any]
    seconds: float
    raw: dict[str, Any]


def _explain(status: int, url: str, name: str, body: str) -> str:
    if status == 404:
        return (f"HTTP 404 from {url}: no model named '{name}' there (the model name is the "
                "InferenceService name), or the wrong protocol path")
    if status == 503:
        return f"HTTP 503 from {url}: the model is not ready yet"
    if status == 400:
        return f"HTTP 400 from {url}: the request does not fit the model: {body[:300]}"
    return f"HTTP {status} from {url}: {body[:300]}"


def _post(url: str, name: str, body: dict[str, Any], timeout: float) -> tuple[dict, float]:
    deadline = time.monotonic() + _RETRY_WINDOW
    while True:
        started = time.monotonic()
        try:
            response = requests.post(url, json=body, timeout=timeout)
        except requests.ConnectionError as error:
            if time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            raise InferenceFailed(f"cannot connect to {url}: {error}") from None
        elapsed = time.monotonic() - started
        if response.status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.2)
            continue
        if response.status_code != 200:
            raise InferenceFailed(_explain(response.status_code, url, name, response.text))
        try:
            return response.json(), elapsed
        except ValueError:
            raise InferenceFailed(f"{url} answered 200 with a body that is not JSON: "
                                  f"{response.text[:200]}") from None


def predict_v1(base_url: str, name: str, instances: list[Any],
               timeout: float = 30.0) -> InferenceResult:
    """POST /v1/models/<name>:predict with `instances`; returns the predictions."""
    url = f"{base_url.rstrip('/')}/v1/models/{name}:predict"
    body, elapsed = _post(url, name, {"instances": instances}, timeout)
    if "predictions" not in body:
        raise InferenceFailed(f"{url} answered without 'predictions' (a v2-only server?): "
                              f"{str(body)[:200]}")
    return InferenceResult(body["predictions"], elapsed, body)


def infer_v2(base_url: str, name: str, instances: list[list[float]],
             timeout: float = 30.0) -> InferenceResult:
    """POST /v2/models/<name>/infer with one FP32 tensor; returns the first output's data."""
    url = f"{base_url.rstrip('/')}/v2/models/{name}/infer"
    rows, columns = len(instances), len(instances[0]) if instances else 0
    request = {"inputs": [{"name": "input-0", "shape": [rows, columns], "datatype": "FP32",
                           "data": [value for row in instances for value in row]}]}
    body, elapsed = _post(url, name, request, timeout)
    outputs = body.get("outputs") or []
    if not outputs:
        raise InferenceFailed(f"{url} answered without 'outputs': {str(body)[:200]}")
    return InferenceResult(list(outputs[0].get("data") or []), elapsed, body)


def v2_ready(base_url: str, timeout: float = 5.0) -> bool:
    """GET /v2/health/ready."""
    try:
        return requests.get(f"{base_url.rstrip('/')}/v2/health/ready",
                            timeout=timeout).status_code == 200
    except requests.RequestException:
        return False
