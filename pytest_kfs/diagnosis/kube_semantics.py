"""What Kubernetes and Knative themselves say, read by their own semantics (pure).

Container states and exit codes, kubelet events, the API server's refusals (a `Status`
object: 403 Forbidden, 404 no kind, 422 Invalid, an admission webhook's denial) and Knative's
ingress reasons. These hold whatever the workload is: the rules that know KServe's and the
storage clients' words run first (rules.py), these after them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pytest_kfs.diagnosis.codes import Code
from pytest_kfs.diagnosis.finding import Finding
from pytest_kfs.shell import Command
from pytest_kfs.untrusted import shown

# What a quoted refusal may take of a report line.
QUOTE_LIMIT = 300
INITIALIZER_FAILED = "STORAGE_INITIALIZER_FAILED"
MODEL_SERVER_FAILED = "MODEL_SERVER_FAILED"
_PULL_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName")
# The signal a container's exit code (128 + N) names, and what it usually means in a pod.
_EXIT_MEANINGS = {
    1: "exit code 1: the process failed on its own (its log says why)",
    137: "exit code 137 (SIGKILL): killed, usually for memory (OOM)",
    139: "exit code 139 (SIGSEGV): it crashed in native code (a library or a CPU/GPU mismatch)",
    143: "exit code 143 (SIGTERM): stopped from outside (a failed probe, a rollout)",
}


@dataclass(frozen=True)
class PodProblem:
    """A pod-level state that settles the outcome without waiting for the deadline. An empty
    `pod` or `container` is one the evidence does not name (an event, a `kubectl get` row)."""

    code: str
    pod: str
    container: str | None
    detail: str


def exit_meaning(code: int | None) -> str:
    """What a container's exit code says, in words ('' when it says nothing known)."""
    if not code:
        return ""
    return _EXIT_MEANINGS.get(code, f"exit code {code}")


def pod_problems(pods: list[dict[str, Any]]) -> list[PodProblem]:
    """Unschedulable pods, image pulls that fail, OOM kills, crash loops, failed initializers."""
    problems: list[PodProblem] = []
    for pod in pods:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        for condition in status.get("conditions") or []:
            if (
                condition.get("type") == "PodScheduled"
                and condition.get("status") == "False"
                and condition.get("reason") == "Unschedulable"
            ):
                problems.append(
                    PodProblem(Code.POD_UNSCHEDULABLE, name, None, condition.get("message", ""))
                )
        init = status.get("initContainerStatuses") or []
        for container in init + (status.get("containerStatuses") or []):
            if problem := _container_problem(name, container, container in init):
                problems.append(problem)
    return problems


def _container_problem(pod: str, container: dict[str, Any], init: bool) -> PodProblem | None:
    state, last = container.get("state") or {}, container.get("lastState") or {}
    waiting = state.get("waiting") or {}
    terminated = state.get("terminated") or last.get("terminated") or {}
    name = container.get("name") or ""
    # KServe's one init container is the storage initializer; a `kubectl get pods` row
    # (Init:CrashLoopBackOff) does not name it.
    failed = INITIALIZER_FAILED if name == "storage-initializer" or (init and not name) else ""
    failed = failed or MODEL_SERVER_FAILED
    if waiting.get("reason") in _PULL_REASONS:
        return PodProblem(
            Code.IMAGE_PULL_FAILED, pod, name, waiting.get("message") or waiting["reason"]
        )
    if terminated.get("reason") == "OOMKilled":
        return PodProblem(Code.OOM_KILLED, pod, name, f"exit code {terminated.get('exitCode')}")
    if terminated.get("reason") == "Error" and terminated.get("exitCode") != 0:
        detail = terminated.get("message") or exit_meaning(terminated.get("exitCode"))
        return PodProblem(failed, pod, name, detail)
    if (
        not init
        and terminated.get("reason") == "Completed"
        and terminated.get("exitCode") == 0
        and waiting.get("reason") == "CrashLoopBackOff"
    ):
        # A serving container restarted because its command finished: it runs no server.
        return PodProblem(Code.CONTAINER_EXITED, pod, name, "Completed, exit code 0")
    if waiting.get("reason") == "CrashLoopBackOff" and not terminated:
        # Only a `kubectl get pods` row says so without the last state: the kubelet restarts
        # a container that keeps failing with a growing back-off.
        return PodProblem(failed, pod, name, "CrashLoopBackOff")
    return None


_BACKOFF = re.compile(r"Back-off restarting failed container(?: (?P<container>[\w.-]+))?")
_STARTED = re.compile(r"^(?:Started|Created) container (?P<container>[\w.-]+)")


def event_problems(events: list[dict[str, Any]]) -> list[PodProblem]:
    """A crash loop the kubelet's events show: BackOff "restarting failed container". Older
    kubelets leave the container out; then it is the one the events last show started."""
    started = ""
    for event in events:
        message = str(event.get("message") or "")
        if found := _STARTED.match(message):
            started = found["container"]
        elif event.get("reason") == "BackOff" and (loop := _BACKOFF.search(message)):
            container = loop["container"] or started
            code = INITIALIZER_FAILED if container == "storage-initializer" else MODEL_SERVER_FAILED
            return [PodProblem(code, "", container, f"event BackOff: {message}")]
    return []


# -- the API server's refusals ------------------------------------------------------------------
_STATUS_START = re.compile(r'\{\s*"kind"\s*:\s*"Status"')


@dataclass
class Scanned:
    """What the anchored searches cost: characters handed to a regex, searches run (for tests
    and benchmarks: the bound is a size, not a time)."""

    chars: int = 0
    searches: int = 0


SCANNED = Scanned()


@dataclass(frozen=True)
class _Anchored:
    """A pattern that matches only around one of its literals, found with `str.find` first:
    every match holds a literal, starts at most `before` characters before it and ends at most
    `after` characters after it. The pattern runs only on those windows (merged where they
    overlap), so a long line without the literal costs one `find`, and a line full of them is
    scanned once. Same matches as the pattern on the whole text."""

    pattern: re.Pattern[str]
    literals: tuple[str, ...]
    before: int
    after: int

    def _windows(self, text: str) -> list[tuple[int, int]]:
        spans = []
        for literal in self.literals:
            at = text.find(literal)
            while at >= 0:
                spans.append((max(0, at - self.before), min(len(text), at + self.after)))
                at = text.find(literal, at + 1)
        merged: list[tuple[int, int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def finditer(self, text: str) -> Iterable[re.Match[str]]:
        for start, end in self._windows(text):
            SCANNED.chars += end - start
            SCANNED.searches += 1
            yield from self.pattern.finditer(text, start, end)

    def search(self, text: str) -> re.Match[str] | None:
        return next(iter(self.finditer(text)), None)


_NAME = 253  # a Kubernetes name, kind or resource at most
_FORBIDDEN = _Anchored(
    re.compile(
        r'(?P<object>[\w.-]{1,253}(?: "[^"]{1,253}")?) is forbidden: User "(?P<user>[^"]{1,253})" '
        r'cannot (?P<verb>[\w-]{1,32}) resource "(?P<resource>[\w./-]{1,253})"'
        r'(?: in API group "(?P<group>[\w.-]{0,253})")?'
        r'(?: in the namespace "(?P<namespace>[\w.-]{1,253})"|(?P<cluster> at the cluster scope))?'
    ),
    (' is forbidden: User "',),
    before=2 * _NAME + 3,
    after=4 * _NAME + 200,
)
_NO_KIND = re.compile(
    r'[Nn]o matches for kind "(?P<kind>[\w.-]{1,100})" in version "(?P<version>[\w./-]{1,200})"'
)
_ADMISSION = re.compile(
    r'admission webhook \\?"(?P<webhook>[^"\\]{1,253})\\?" denied the request: (?P<why>.{1,1000})'
)
# `kind "name" is invalid: why`; the why (the rest of the line) is read after the match.
_INVALID = _Anchored(
    re.compile(r'(?P<kind>[\w.-]{1,253}) "(?P<name>[^"]{1,253})" is invalid: (?=.)'),
    ('" is invalid: ',),
    before=2 * _NAME + 2,
    after=len('" is invalid: ') + 1,
)
_FIELD_ERRORS = (
    "Invalid value",
    "Required value",
    "Unsupported value",
    "Forbidden",
    "Duplicate value",
    "Too long",
    "Too many",
    "Not found",
)
_FIELD_ERROR = _Anchored(
    re.compile(r"(?P<field>[\w.\[\]/-]{1,200}): (?P<type>" + "|".join(_FIELD_ERRORS) + ")"),
    _FIELD_ERRORS,
    before=202,
    after=max(map(len, _FIELD_ERRORS)),
)
# A validator's or a controller's words for a spec that lacks or misuses a field.
_REQUIREMENT = re.compile(
    r"(?:must (?:have|specify|set|contain) (?:either |exactly one of )?|must be specified|"
    r"is required|Exactly one of )"
)


def api_statuses(text: str) -> list[dict[str, Any]]:
    """The API server's `Status` objects in what an SDK or kubectl printed (`HTTP response
    body: {...}`), also when a terminal hard-wrapped the JSON across lines."""
    found: list[dict[str, Any]] = []
    for start in _STATUS_START.finditer(text):
        body = text[start.start() :]
        # As printed; wrapped inside a word (the break is no character of the JSON); wrapped
        # between words.
        for attempt in (body, re.sub(r"\n[ \t]*", "", body), re.sub(r"\s*\n\s*", " ", body)):
            try:
                status, _ = json.JSONDecoder().raw_decode(attempt)
            except ValueError:
                continue
            if isinstance(status, dict):
                found.append(status)
                break
    return found


def refusals(texts: dict[str, str], lines: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Where an API refusal may be written: each Status's message (with its code and reason),
    then every line (kubectl prints `Error from server (Forbidden): ...` without JSON)."""
    found = []
    for name, text in texts.items():
        for status in api_statuses(text):
            where = f"{name}: HTTP {status.get('code', '?')} {status.get('reason') or ''}"
            found.append((where.strip(), str(status.get("message") or "")))
    return found + lines


def api_refusal(texts: dict[str, str], lines: list[tuple[str, str]]) -> list[Finding]:
    """The API server refused a request: RBAC, a kind it does not serve, an admission
    webhook's denial, or an invalid object."""
    for source, quoted in refusals(texts, lines):
        # Quoted inside a JSON or Go string, its quotes are escaped.
        line = quoted.replace('\\"', '"') if '\\"' in quoted else quoted
        if found := _ADMISSION.search(line):
            return [_admission(source, found)]
        if found := _FORBIDDEN.search(line):
            return [_forbidden(source, found)]
        if found := _NO_KIND.search(line):
            return [_no_kind(source, found)]
        if found := _INVALID.search(line):
            why = line[found.end() :].split("\n", 1)[0]
            if found["kind"].split(".")[0] not in _USER_KINDS:
                return [_reconcile(source, found, why)]
            return [_invalid(source, why, f"{found['kind']} {found['name']}")]
    return []


# The kinds a user writes; any other object refused is one KServe's controller built.
_USER_KINDS = frozenset(
    {
        "InferenceService",
        "inferenceservices",
        "TrainedModel",
        "InferenceGraph",
        "ServingRuntime",
        "ClusterServingRuntime",
        "Predictor",
    }
)


def _reconcile(source: str, found: re.Match[str], why: str) -> Finding:
    what = f"{shown(found['kind'], 253)} {shown(found['name'], 253)}"
    return Finding(
        Code.KSERVE_RECONCILE_FAILED,
        f"KServe's controller cannot reconcile the model: the API server refuses the {what} it "
        f"built from the InferenceService: {shown(why.strip(), QUOTE_LIMIT)}",
        (_quoted(source, found.group(0) + why),),
        "kubectl logs -n kserve deploy/kserve-controller-manager --tail=100 # the object is "
        "KServe's, not yours: change the InferenceService field it comes from, or run a "
        "KServe release that builds it right",
    )


def spec_requirement(lines: list[tuple[str, str]]) -> list[Finding]:
    """A validator or controller says the spec lacks or misuses a field ("must have either
    the storageUri or the storage.path", "spec.x: Required value")."""
    for source, line in lines:
        if _FIELD_ERROR.search(line) or _REQUIREMENT.search(line):
            return [_invalid(source, line, "the InferenceService")]
    return []


def _quoted(source: str, text: str) -> str:
    return f'{source}: "{shown(text.strip(), QUOTE_LIMIT)}"'


def _admission(source: str, found: re.Match[str]) -> Finding:
    webhook, why = shown(found["webhook"], 200), found["why"].rstrip('",} ')
    return Finding(
        Code.ADMISSION_DENIED,
        f'admission webhook "{webhook}" refuses the object: {shown(why, QUOTE_LIMIT)}',
        (_quoted(source, found.group(0)),),
        "change the object as the webhook's message asks, then check it without creating it: "
        "kubectl apply --dry-run=server -f <file> (kubectl get "
        "validatingwebhookconfigurations,mutatingwebhookconfigurations shows which webhook "
        "runs; a webhook older than the client's schema refuses fields it does not know)",
    )


_CAN_I = Command("kubectl auth can-i {verb} {resource} --as={user}")
_CAN_I_IN_NAMESPACE = Command("kubectl auth can-i {verb} {resource} -n {namespace} --as={user}")
_GRANT_IN_NAMESPACE = Command(
    "kubectl -n {namespace} create role {role} --verb={verb} --resource={resource} && "
    "kubectl -n {namespace} create rolebinding {role} --role={role} {subject}"
)
_GRANT_CLUSTER_WIDE = Command(
    "kubectl create clusterrole {role} --verb={verb} --resource={resource} && "
    "kubectl create clusterrolebinding {role} --clusterrole={role} {subject}"
)
_SERVED_IN_GROUP = Command(
    "kubectl api-resources --api-group={group} && kubectl api-versions | grep -i {group} "
    "# write the apiVersion the cluster serves, or install the release that serves this one"
)
_SERVED_KINDS = Command(
    "kubectl api-resources | grep -i {kind} "
    "# write the apiVersion the cluster serves, or install the release that serves this one"
)


def _forbidden(source: str, found: re.Match[str]) -> Finding:
    user, verb, resource = found["user"], found["verb"], found["resource"]
    group = found["group"] or ""
    qualified = f"{resource}.{group}" if group else resource
    namespace = found["namespace"]
    where = f"in namespace {namespace}" if namespace else "at the cluster scope"
    if user.startswith("system:serviceaccount:") and user.count(":") == 3:
        account_ns, account = user.split(":")[2:]
        subject = f"--serviceaccount={account_ns}:{account}"
    else:
        subject = f"--user={user}"
    values = {
        "namespace": namespace,
        "verb": verb,
        "resource": qualified,
        "user": user,
        "role": f"{verb}-{resource}".replace("/", "-")[:60],
        "subject": subject,
    }
    check, grant = (
        (_CAN_I_IN_NAMESPACE, _GRANT_IN_NAMESPACE) if namespace else (_CAN_I, _GRANT_CLUSTER_WIDE)
    )
    return Finding(
        Code.RBAC_DENIED,
        f"{shown(user, 253)} may not {verb} {qualified} {where}: no Role or ClusterRole bound to "
        "it allows that verb on that resource",
        (_quoted(source, found.group(0)),),
        f"{check.render_from(values)}; where it says no: {grant.render_from(values)} # or bind "
        "the role your platform gives editors, e.g. a Kubeflow Profile's",
        principal=user,
        permission=f"{verb} {qualified}",
    )


def _no_kind(source: str, found: re.Match[str]) -> Finding:
    kind, version = found["kind"], found["version"]
    group = version.split("/")[0] if "/" in version else ""
    return Finding(
        Code.CRD_VERSION_MISSING,
        f"the cluster does not serve kind {shown(kind, 100)} in {shown(version, 200)}: its "
        "CustomResourceDefinition is not installed, or installed without that group or version "
        "(KFServing serves serving.kubeflow.org, KServe serving.kserve.io; v1alpha2 and v1beta1 "
        "came at different releases)",
        (_quoted(source, found.group(0)),),
        _SERVED_IN_GROUP.render(group=group) if group else _SERVED_KINDS.render(kind=kind),
    )


def _invalid(source: str, text: str, what: str) -> Finding:
    fields = sorted({f["field"] for f in _FIELD_ERROR.finditer(text)})
    named = f" ({', '.join(shown(f, 200) for f in fields)})" if fields else ""
    return Finding(
        Code.INVALID_SPEC,
        f"{shown(what, 300)} is refused for its spec{named}: {shown(text.strip(), QUOTE_LIMIT)}",
        (_quoted(source, text),),
        "fix the field the message names, then check it without creating it: kubectl apply "
        "--dry-run=server -f <file> (kubectl explain inferenceservice.spec.predictor shows the "
        "fields)",
    )


# -- Knative's ingress --------------------------------------------------------------------------
_INGRESS_PROBE = re.compile(r"Probing of (?P<url>\S{1,500}) failed")
_PROBE_REFUSED_FIX = (
    "kubectl get authorizationpolicies,peerauthentications -n <namespace> && kubectl get "
    "authorizationpolicies -n istio-system # a policy must let Knative's prober (requests "
    "with the K-Network-Probe header) reach the model's pods; then kubectl get ksvc -n "
    "<namespace> shows the route Ready"
)
_PROBE_ANSWER = re.compile(r"unexpected status code: want \[\d{3}\], got (?P<status>\d{3})")
_INGRESS_FIX = (
    "kubectl get ksvc,route -n <namespace> && kubectl -n knative-serving logs -l "
    "app=net-istio-controller --tail=50 && kubectl -n istio-system get pods,svc # the ingress "
    "gateway must run and be reachable from the controller; check config-network and "
    "config-domain in knative-serving"
)


# Knative's ingress controller (net-istio, net-contour, ...) cannot write what programs the
# route for the model's Ingress: its own event's words.
_INGRESS_UNPROGRAMMED = re.compile(
    r"Failed to (?:create|update) (?:VirtualService|HTTPProxy|Gateway|HTTPRoute)s? [\w./-]{1,300}"
)


def ingress(
    lines: list[tuple[str, str]], conditions: Iterable[tuple[str, str, str]]
) -> list[Finding]:
    """Knative never finished programming the route: reason IngressNotConfigured (in a
    condition or a `kubectl get` row), or its ingress prober failing to reach the gateway."""
    for kind, reason, message in conditions:
        if reason == "IngressNotConfigured":
            return [_ingress(f"condition {kind}: {reason} {message}".strip())]
    for source, line in lines:
        if re.search(r"\bIngressNotConfigured\b", line):
            return [_ingress(_quoted(source, line))]
        if programming := _INGRESS_UNPROGRAMMED.search(line):
            why = "its ingress controller cannot write what programs the route (its own error)"
            return [_ingress(_quoted(source, line[programming.start() :]), why=why)]
        if probe := _INGRESS_PROBE.search(line):
            answered = _PROBE_ANSWER.search(line, probe.end())
            return [_ingress(_quoted(source, line[probe.start() :]), answered)]
    return []


def _ingress(evidence: str, answered: re.Match[str] | None = None, why: str = "") -> Finding:
    why = why or (
        f"its probe of the model's host is answered HTTP {answered['status']}, not 200: "
        "something other than the model's route answers it (an authorization policy or "
        "sidecar in the namespace refusing Knative's prober, or another route for the host)"
        if answered
        else "its ingress controller cannot confirm the gateway serves the host"
    )
    return Finding(
        Code.INGRESS_NOT_CONFIGURED,
        f"Knative has not finished programming the model's route (IngressNotConfigured): {why}, "
        "so the service never becomes Ready even when the model server runs",
        (shown(evidence, QUOTE_LIMIT + 100),),
        _PROBE_REFUSED_FIX if answered else _INGRESS_FIX,
    )


# -- Istio's mesh, Knative's activator, a revision's container ----------------------------------
# Envoy's RBAC filter (an Istio AuthorizationPolicy): its body, and its access log's flag.
_MESH_DENIED = re.compile(r"RBAC: access denied|rbac_access_denied_matched_policy\[[\w.-]{0,200}\]")
_ACTIVATOR_PROBE = re.compile(r"Failed to probe|Failed probing")
_NOT_READY_ANSWER = re.compile(r"want \[200\], got 503|got 503|status code 503")
_EXITED = "Container failed with:"
# A container state Terminated, reason Completed, exit code 0, on one line (a controller's
# message, or `kubectl describe` joined), and a failure said of it just before.
_COMPLETED = re.compile(
    r"Terminated\W{1,5}[Rr]eason:? {0,3}\W?Completed\b[^\n]{0,80}?[Ee]xit[- _]?[Cc]ode\W{1,4}0\b"
)
_FAILED_WORD = re.compile(r"\b(?:[Ff]ailed|FAILED)\b")
_AUTHORIZATION_FIX = (
    "kubectl get authorizationpolicies -A # an ALLOW policy in the model's namespace must let "
    "Knative's activator and prober (namespace knative-serving) and the callers reach the "
    "model's pods, with the paths /healthz, /metrics and /v1/models/* (a Kubeflow profile "
    "namespace allows only its own users by default)"
)


def mesh_authorization(lines: list[tuple[str, str]]) -> list[Finding]:
    """An Istio AuthorizationPolicy refuses traffic to the model: Envoy answers 403 with
    `RBAC: access denied` (or logs rbac_access_denied_matched_policy)."""
    for source, line in lines:
        if found := _MESH_DENIED.search(line):
            return [
                Finding(
                    Code.MESH_AUTH_DENIED,
                    "an Istio AuthorizationPolicy refuses requests to the model's pods (Envoy's "
                    f"{shown(found.group(0), 200)}): this is the mesh's authorization, not "
                    "Kubernetes RBAC; Knative's activator and probes, or the caller, are not "
                    "allowed in",
                    (_quoted(source, line),),
                    _AUTHORIZATION_FIX,
                )
            ]
    return []


def revision_not_ready(lines: list[tuple[str, str]]) -> list[Finding]:
    """Knative's activator probes the revision's pods and is answered 503: the queue-proxy's
    answer while its container is not ready yet."""
    for source, line in lines:
        probe = _ACTIVATOR_PROBE.search(line)
        if probe and _NOT_READY_ANSWER.search(line, probe.end()):
            return [
                Finding(
                    Code.NOT_LOADED_YET,
                    "the revision's pods are not ready yet: Knative's activator probes them and "
                    "the queue-proxy answers 503 until the container's readiness probe passes. "
                    "A start-up longer than the revision's progress deadline (10 minutes by "
                    "default) has the revision given up before it is ready",
                    (_quoted(source, line[probe.start() :]),),
                    "kubectl get pods -n <namespace> -l serving.knative.dev/revision # watch "
                    "them become ready; for a slow start, set the annotation "
                    "serving.knative.dev/progress-deadline (e.g. 30m) on the predictor, and a "
                    "readiness probe that passes once the model is loaded",
                )
            ]
    return []


def container_exited(lines: list[tuple[str, str]]) -> list[Finding]:
    """Knative's revision message `Container failed with: ` and nothing after it: the
    container ended without a termination message (its command finished, exit code 0, or it
    died before writing one). Or a failure reported of a container whose state is Terminated,
    reason Completed, exit code 0: its command finished."""
    for source, line in lines:
        for done in _COMPLETED.finditer(line):
            if _FAILED_WORD.search(line[max(0, done.start() - 200) : done.start()]):
                return [_exited(source, line[max(0, done.start() - 200) : done.end()])]
        at = line.rfind(_EXITED)
        rest = line[at + len(_EXITED) :].strip() if at >= 0 else "x"
        if len(rest) <= 3 and not any(c.isalnum() for c in rest):
            return [_exited(source, line[max(0, at - 200) :])]
    return []


def _exited(source: str, quoted: str) -> Finding:
    return Finding(
        Code.CONTAINER_EXITED,
        "the serving container exits instead of serving: it is reported failed with no error "
        "of its own (an empty message, or Completed with exit code 0), so its command ended "
        "(it runs no server: a wrong image or command) or it died before it could say why",
        (_quoted(source, quoted),),
        "kubectl logs <pod> -c <container> --previous # and the image's command: it must start "
        "a server listening on the container port, not finish",
    )
