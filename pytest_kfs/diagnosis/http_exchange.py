"""A request the user sent to the model (a `curl -v` transcript) and what answered it (pure).

An answer of 404, 405 or a redirect came from an HTTP server: the gateway routed the request
somewhere. When the model is not shown failing, the request is what to fix: the Host header,
the protocol's path, the verb.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pytest_kfs.diagnosis.codes import Code
from pytest_kfs.diagnosis.finding import Finding
from pytest_kfs.untrusted import shown

_REQUEST = re.compile(r"^> (?P<verb>[A-Z]{3,7}) (?P<path>\S{1,2000}) HTTP/[\d.]+")
_HEADER = re.compile(r"^(?P<side>[<>]) (?P<name>[\w-]{1,100}): ?(?P<value>.{0,2000})$")
_RESPONSE = re.compile(r"^< HTTP/[\d.]+ (?P<status>\d{3})(?P<reason>.{0,200})$")
_MISROUTED = {301, 302, 303, 307, 308, 404, 405}
# An answer quoted without curl -v's `<` lines: a status line; Express's page (the Kubeflow
# dashboard behind the same gateway) naming the verb and path; FastAPI's body (the model
# server itself, KServe's and most custom ones) for a path or verb it does not serve.
_STATUS_LINE = re.compile(r"^HTTP/[\d.]+ (?P<status>\d{3})(?P<reason>[^\n]{0,200})$")
_EXPRESS = re.compile(r"Cannot (?P<verb>GET|POST|PUT|PATCH|DELETE|HEAD) (?P<path>/\S{0,2000})")
_FASTAPI = re.compile(r'\{"detail":\s?"(?P<detail>Not Found|Method Not Allowed)"\}')
_CURL = re.compile(r"\bcurl\s(?P<args>.{1,4000})$")
_URL = re.compile(r"https?://[^\s\])\"'<>]{1,2000}")
_CURL_VERB = re.compile(r"(?:-X|--request)\s+(?P<verb>[A-Z]{3,7})")
_CURL_HEADER = re.compile(r"(?:-H|--header)\s+(?:\"(?P<dq>[^\"]{0,2000})\"|'(?P<sq>[^']{0,2000})')")
_CURL_DATA = re.compile(r"\s(?:-d|--data\S*)\s")
_HEADER_NAME = re.compile(r"^[\w-]{1,100}:(?!//)")
_V1 = re.compile(r"^/v1/models/(?P<name>[^/:]+):(?:predict|explain)$")
_V2 = re.compile(r"^/v2/models/(?P<name>[^/]+)(?:/versions/[^/]+)?/infer$")


@dataclass
class Exchange:
    """One request and its answer, as curl -v prints them."""

    verb: str = ""
    path: str = ""
    status: int = 0
    server: str = ""  # what answered, when the body tells (Express, FastAPI)
    malformed: tuple[str, ...] = ()  # curl -H values with no `Name:`, so no header was sent
    reason: str = ""
    request: dict[str, str] = field(default_factory=dict)
    response: dict[str, str] = field(default_factory=dict)


def exchanges(text: str) -> list[Exchange]:
    """The request/answer pairs of a `curl -v` transcript (headers by lower-case name)."""
    found: list[Exchange] = []
    for raw in text.splitlines():
        line = raw.strip()
        if request := _REQUEST.match(line):
            found.append(Exchange(request["verb"], request["path"]))
        elif found and (answer := _RESPONSE.match(line)):
            found[-1].status, found[-1].reason = int(answer["status"]), answer["reason"].strip()
        elif found and (header := _HEADER.match(line)):
            side = found[-1].request if header["side"] == ">" else found[-1].response
            side[header["name"].lower()] = header["value"].strip()
    return [exchange for exchange in found if exchange.status] or _quoted_exchange(text)


def _quoted_exchange(text: str) -> list[Exchange]:
    """An answer quoted without curl -v's transcript, with the curl command if it is there."""
    exchange = Exchange()
    for raw in text.splitlines():
        line = raw.strip()
        if status := _STATUS_LINE.match(line):
            exchange.status, exchange.reason = int(status["status"]), status["reason"].strip()
        elif express := _EXPRESS.search(line):
            exchange.verb, exchange.path = exchange.verb or express["verb"], express["path"]
            exchange.status, exchange.server = exchange.status or 404, "Express"
        elif fastapi := _FASTAPI.search(line):
            not_found = fastapi["detail"] == "Not Found"
            exchange.status = exchange.status or (404 if not_found else 405)
            exchange.server = "the model server (FastAPI's answer)"
        elif curl := _CURL.search(line):
            _read_curl(curl["args"], exchange)
    return [exchange] if exchange.status else []


def _read_curl(args: str, exchange: Exchange) -> None:
    headers = [h["dq"] if h["dq"] is not None else h["sq"] for h in _CURL_HEADER.finditer(args)]
    for header in headers:
        if _HEADER_NAME.match(header):
            name, value = header.split(":", 1)
            exchange.request[name.strip().lower()] = value.strip()
    exchange.malformed = tuple(h for h in headers if not _HEADER_NAME.match(h))
    rest = _CURL_HEADER.sub(" ", args)
    if url := _URL.search(rest):
        exchange.path = exchange.path or "/" + url.group(0).split("://", 1)[1].partition("/")[2]
    verb = _CURL_VERB.search(rest)
    exchange.verb = exchange.verb or (
        verb["verb"] if verb else "POST" if _CURL_DATA.search(f" {rest} ") else "GET"
    )


def misrouted(texts: dict[str, str], model_url: str | None) -> list[Finding]:
    """A request answered 404/405/3xx: what in it does not reach the model's route."""
    for name, text in texts.items():
        for exchange in exchanges(text):
            if exchange.status in _MISROUTED:
                return [_finding(name, exchange, model_url)]
    return []


def _finding(source: str, exchange: Exchange, model_url: str | None) -> Finding:
    host = exchange.request.get("host", "")
    checks = []
    if exchange.status == 405 or (exchange.verb != "POST" and _V1.match(exchange.path)):
        checks.append(f"the verb: inference is POST with a JSON body, this was {exchange.verb}")
    if not (_V1.match(exchange.path) or _V2.match(exchange.path)):
        checks.append(
            "the path: /v1/models/NAME:predict (v1) or /v2/models/NAME/infer (v2), as the "
            "runtime's protocolVersion says"
        )
    for header in exchange.malformed:
        checks.append(
            f"the headers: -H {shown(header, 200)!r} has no `Name:`, so curl sent no header "
            "(the Host header is -H 'Host: NAME.NAMESPACE.DOMAIN')"
        )
    powered = (
        exchange.response.get("x-powered-by")
        or exchange.server
        or exchange.response.get("server", "")
    )
    if "FastAPI" in powered:
        checks.append(
            f"the path: {powered} says the host reached a model server, which serves no "
            f"{shown(exchange.path or 'such path', 300)}"
        )
    elif "envoy" not in powered.lower() and powered:
        checks.append(
            f"the host: the answer came from {shown(powered, 100)}, not the model's gateway "
            f"route, so {f'Host {shown(host, 300)}' if host else 'the Host header sent'} "
            "matches no InferenceService"
        )
    elif host and model_url and host not in model_url:
        checks.append(
            f"the host: {shown(host, 300)} is not the model's URL {shown(model_url, 300)}"
        )
    if not checks:
        checks.append(
            "the Host header (NAME.NAMESPACE.DOMAIN, as the InferenceService's URL) and the "
            "path's model name"
        )
    said = f"{exchange.verb} {exchange.path} -> HTTP {exchange.status} {exchange.reason}".strip()
    return Finding(
        Code.HEALTHY_REQUEST_MISROUTED,
        f"the request was answered {exchange.status} by an HTTP server, so the model's gateway is "
        "up; nothing shows the model failing: the request is what does not match its route. "
        f"Check {'; '.join(checks)}",
        (f'{source}: "{shown(said, 300)}"', f"{source}: Host {shown(host or '(none)', 300)}"),
        "kubectl get inferenceservice <name> -n <namespace> -o jsonpath='{.status.url}' # "
        "send Host: that URL's host, POST to /v1/models/<name>:predict (v1) or "
        "/v2/models/<name>/infer (v2)",
    )


# A model server's own answer about the model the request names: Triton's and KServe's for a
# name it does not serve; MLServer's and KServe's for a model still loading.
_UNKNOWN_MODEL = re.compile(
    r"[Rr]equest for unknown model: '(?P<a>[^']{1,253})' is not found|"
    r"Model with name (?P<b>\S{1,253}) does not exist"
)
_NOT_READY = re.compile(r"Model (?:with name )?(?P<name>\S{1,253}) is not ready")


def model_answer(lines: list[tuple[str, str]]) -> list[Finding]:
    """The model server answered, about the model the request names: it serves no such name
    (the request's model name is wrong), or the model is not loaded yet."""
    for source, line in lines:
        if found := _UNKNOWN_MODEL.search(line):
            name = shown(found["a"] or found["b"], 253)
            return [
                Finding(
                    Code.HEALTHY_REQUEST_MISROUTED,
                    f"the model server answered that it serves no model named {name}: the "
                    "request reached it, and the model name in its path is not the one the "
                    "server loaded (the model's directory or config name, not always the "
                    "InferenceService's name)",
                    (f'{source}: "{shown(line.strip(), 300)}"',),
                    "kubectl exec <pod> -c kserve-container -- curl -s localhost:8080/v2/models "
                    "# or /v1/models: the names it serves; put that name in the request's path",
                )
            ]
        if found := _NOT_READY.search(line):
            return [
                Finding(
                    Code.NOT_LOADED_YET,
                    f"the model server answered that model {shown(found['name'], 253)} is not "
                    "ready yet: the request reached a pod before its model had loaded (after a "
                    "scale from zero, or a readiness probe that passes before the model does)",
                    (f'{source}: "{shown(line.strip(), 300)}"',),
                    "retry once the model is loaded; for scale from zero, a readiness probe on "
                    "the model's own endpoint (/v2/models/NAME/ready) keeps requests away "
                    "until it is, or set minReplicas: 1",
                )
            ]
    return []


# The model a request names in its path (v1 and v2 protocols), and the names a model server
# says it registered or loaded: KServe's Python server, Triton, MLServer.
_PATH_MODEL = re.compile(
    r"/v[12]/models/(?P<name>[\w.-]{1,253})(?::(?:predict|explain)\b|/(?:infer|ready)\b)"
)
_REGISTERED = re.compile(
    r"Registering model: (?P<a>[\w.-]{1,253})|successfully loaded '(?P<b>[\w.-]{1,253})'|"
    r"Loaded model '(?P<c>[\w.-]{1,253})' succ"
)


def unregistered_model(lines: list[tuple[str, str]]) -> list[Finding]:
    """The request's path names a model the server's own log never registered, while it
    registered others: the request's model name is wrong."""
    registered = {
        found["a"] or found["b"] or found["c"]
        for source, line in lines
        if source.endswith(" log")
        for found in _REGISTERED.finditer(line)
    }
    if not registered:
        return []
    for source, line in lines:
        found = _PATH_MODEL.search(line)
        if found and found["name"] not in registered:
            served = ", ".join(shown(name, 100) for name in sorted(registered)[:5])
            return [
                Finding(
                    Code.HEALTHY_REQUEST_MISROUTED,
                    f"the request names model {shown(found['name'], 253)}, but the model "
                    f"server registered only {served}: the request, not the server, is wrong "
                    "(the model's name is the one the server registers, not always the "
                    "InferenceService's)",
                    (f'{source}: "{shown(line.strip(), 300)}"',),
                    "kubectl exec <pod> -c kserve-container -- curl -s localhost:8080/v2/models "
                    "# or /v1/models: the names it serves; put that name in the request's path",
                )
            ]
    return []
