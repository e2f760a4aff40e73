"""Evidence -> findings: which link is broken, for whom, and the fix (pure).

Each finding has a stable code, the cause in one sentence, the evidence it rests on (a quoted
log line, a condition, an event) and the exact command that fixes it. Findings come most
likely first; a healthy scale-to-zero service yields an informational finding, never a
permission problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pytest_kfs.evidence import GCS_KEY_FILE, Evidence
from pytest_kfs.status import ModelState, scaled_to_zero


class _Anchored:
    """A pattern searched only in windows around a literal it contains, at most `tries` of
    them: work linear in the line's length, whatever text a cluster hands us. (Searched over
    the whole line, the principal's run made every position scan to the end of a long run
    without spaces: quadratic; a 40,000-character log line took 36 s.)"""

    def __init__(self, anchor: str, pattern: str, before: int, after: int,
                 tries: int = 16) -> None:
        self.anchor, self.pattern = anchor, re.compile(pattern)
        self.before, self.after, self.tries = before, after, tries

    def search(self, line: str) -> re.Match[str] | None:
        """The first match near one of the first `tries` anchors."""
        at = line.find(self.anchor)
        for _ in range(self.tries):
            if at == -1:
                return None
            window = line[max(0, at - self.before):at + self.after]
            if match := self.pattern.search(window):
                return match
            at = line.find(self.anchor, at + 1)
        return None


_DENIED = _Anchored(
    " does not have storage.",
    r"(?P<who>[^\s\"':]{1,320}(?:\[[^\]]{1,256}\])?|Anonymous caller|Caller) does not have "
    r"(?P<permission>storage\.[a-zA-Z.]{1,64}) access to the Google Cloud Storage "
    r"(?P<what>bucket|object)", before=600, after=160)
_PERMISSION_DENIED_NEW = re.compile(r"Permission '(?P<permission>[\w.]+)' denied on resource "
                                    r"'//storage\.googleapis\.com/projects/_/buckets/"
                                    r"(?P<bucket>[^/']+)")
_NO_SUCH_OBJECT = re.compile(r"No such object: (?P<bucket>[^/\s]+)/(?P<path>[^\s\"']+)")
_NO_MODEL = re.compile(r"No model found in (?P<uri>gs://\S+?)\.?(?:\s|$)")
_BUCKET_MISSING = "The specified bucket does not exist"
_ANONYMOUS = ("Anonymous credentials cannot be refreshed", "Anonymous caller does not have")
_INVALID_GRANT = re.compile(r"invalid_grant: (?P<detail>[^\"'\n]+)")
_WI_DENIED = "iam.serviceAccounts.getAccessToken"
_METADATA_UNREACHABLE = re.compile(r"Failed to retrieve http://\S+ from the Google Compute "
                                   r"Engine metadata service")
_EXCEPTION_LINE = re.compile(r"^\s{0,8}(?:[A-Za-z_][\w.]{0,120})?(?:Error|Exception|error):\s")
_GSA_EMAIL = re.compile(r"^[\w.-]+@(?P<project>[\w-]+)\.iam\.gserviceaccount\.com$")
WI_ANNOTATION = "iam.gke.io/gcp-service-account"


@dataclass(frozen=True)
class Finding:
    """One broken link: code, cause, evidence, fix."""

    code: str
    cause: str
    evidence: tuple[str, ...] = ()
    fix: str = ""
    principal: str | None = None
    bucket: str | None = None
    permission: str | None = None
    failure: bool = True

    def as_dict(self) -> dict[str, Any]:
        """For JSON reports."""
        return {"code": self.code, "cause": self.cause, "evidence": list(self.evidence),
                "fix": self.fix, "principal": self.principal, "bucket": self.bucket,
                "permission": self.permission, "failure": self.failure}


@dataclass(frozen=True)
class PodProblem:
    """A pod-level state that settles the outcome without waiting for the deadline."""

    code: str
    pod: str
    container: str | None
    detail: str


@dataclass
class _Context:
    evidence: Evidence
    state: ModelState
    bucket: str | None
    path: str
    storage_uri: str
    namespace: str
    service_account: str
    lines: list[tuple[str, str]] = field(default_factory=list)  # (source, line)


def parse_gcs_uri(uri: str) -> tuple[str | None, str]:
    """('bucket', 'path') of a gs:// URI; (None, '') for anything else."""
    if not uri.startswith("gs://"):
        return None, ""
    bucket, _, path = uri.removeprefix("gs://").partition("/")
    return bucket or None, path.rstrip("/")


def _member(principal: str) -> str:
    if principal.endswith("]") and ".svc.id.goog[" in principal:
        return f"serviceAccount:{principal}"
    if "@" in principal:
        return f"serviceAccount:{principal}"
    return principal


def _grant_command(bucket: str | None, principal: str, role: str) -> str:
    return (f"gcloud storage buckets add-iam-policy-binding gs://{bucket or '<bucket>'} "
            f"--member={_member(principal)} --role={role}")


def _first(context: _Context, needle: str | re.Pattern[str] | _Anchored,
           ) -> tuple[str, str, re.Match[str]] | None:
    pattern = re.compile(re.escape(needle)) if isinstance(needle, str) else needle
    for source, line in context.lines:
        if match := pattern.search(line):
            return source, line, match
    return None


def _quote(source: str, line: str, match: re.Match[str] | None = None) -> str:
    """The line, cut to the words that matter when it is long (log prefixes, URLs)."""
    text = line.strip()
    if match is not None and len(text) > 240:
        start = max(0, text.find(match.group(0)))
        text = ("..." if start else "") + text[start:start + 237]
    elif len(text) > 240:
        text = text[:237] + "..."
    return f'{source}: "{text}"'


# -- pod-level problems (also used by wait.py to stop early) ------------------------------------
def pod_problems(pods: list[dict[str, Any]]) -> list[PodProblem]:
    """Unschedulable pods, image pulls that fail, OOM kills, crash loops, failed initializers."""
    problems: list[PodProblem] = []
    for pod in pods:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False" \
                    and condition.get("reason") == "Unschedulable":
                problems.append(PodProblem("POD_UNSCHEDULABLE", name, None,
                                           condition.get("message", "")))
        for container in (status.get("initContainerStatuses") or []) + (
                status.get("containerStatuses") or []):
            state, last = container.get("state") or {}, container.get("lastState") or {}
            waiting = state.get("waiting") or {}
            terminated = state.get("terminated") or last.get("terminated") or {}
            cname = container["name"]
            if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
                problems.append(PodProblem("IMAGE_PULL_FAILED", name, cname,
                                           waiting.get("message") or waiting["reason"]))
            elif terminated.get("reason") == "OOMKilled":
                problems.append(PodProblem("OOM_KILLED", name, cname,
                                           f"exit code {terminated.get('exitCode')}"))
            elif terminated.get("reason") == "Error" and terminated.get("exitCode"):
                code = ("STORAGE_INITIALIZER_FAILED" if cname == "storage-initializer"
                        else "MODEL_SERVER_FAILED")
                problems.append(PodProblem(code, name, cname, terminated.get("message") or ""))
    return problems


# -- the rules ----------------------------------------------------------------------------------
def _gcs_denied(context: _Context) -> list[Finding]:
    hit = _first(context, _DENIED) or _first(context, _PERMISSION_DENIED_NEW)
    if not hit:
        return []
    source, line, match = hit
    quoted = _quote(source, line, match)
    permission = match["permission"]
    who = match.groupdict().get("who") or _principal_from_identity(context) or "the caller"
    bucket = match.groupdict().get("bucket") or context.bucket
    if who == "Anonymous caller":
        return []  # the anonymous rule explains this one
    if permission == "storage.objects.list":
        return [Finding(
            "GCS_LIST_DENIED",
            f"{who} cannot list gs://{bucket}/{context.path}: KServe's storage-initializer "
            "lists the prefix first and is denied storage.objects.list on the bucket",
            (quoted, *_identity_evidence(context)),
            _grant_command(bucket, who, "roles/storage.objectViewer"), who, bucket, permission)]
    if permission == "storage.objects.get":
        return [Finding(
            "GCS_GET_DENIED",
            f"{who} can list gs://{bucket}/{context.path} but cannot read the objects "
            "(storage.objects.get denied): a list-only role such as "
            "roles/storage.legacyBucketReader, or a condition that does not cover the objects",
            (quoted, *_identity_evidence(context)),
            _grant_command(bucket, who, "roles/storage.objectViewer"), who, bucket, permission)]
    return [Finding(
        "GCS_PERMISSION_DENIED", f"{who} is denied {permission} on gs://{bucket}",
        (quoted,), _grant_command(bucket, who, "roles/storage.objectViewer"),
        who, bucket, permission)]


def _anonymous(context: _Context) -> list[Finding]:
    hit = None
    for needle in _ANONYMOUS:
        hit = hit or _first(context, needle)
    if not hit:
        return []
    source, line, match = hit
    account = context.service_account
    fix = (f"kubectl -n {context.namespace} create secret generic gcs-key "
           f"--from-file={GCS_KEY_FILE}=key.json && kubectl -n {context.namespace} patch "
           f"serviceaccount {account} -p '{{\"secrets\":[{{\"name\":\"gcs-key\"}}]}}' "
           "(or set up Workload Identity for this service account)")
    evidence = [_quote(source, line, match)]
    sa = context.evidence.service_account
    if sa is not None:
        listed = sa.get("secrets") or []
        with_key = [name for name in listed if name in context.evidence.secrets
                    and GCS_KEY_FILE in context.evidence.secrets[name].keys]
        evidence.append(f"service account {account}: secrets {listed}"
                        + ("" if with_key else f", none with key {GCS_KEY_FILE}"))
    return [Finding(
        "GCS_ANONYMOUS_FALLBACK",
        f"the storage-initializer found no Google credentials for service account {account} "
        f"and fell back to an anonymous client, which gs://{context.bucket} does not allow",
        tuple(evidence), fix, "Anonymous caller", context.bucket, "storage.objects.list")]


def _bucket_missing(context: _Context) -> list[Finding]:
    hit = _first(context, _BUCKET_MISSING)
    if not hit:
        return []
    source, line, match = hit
    return [Finding(
        "GCS_BUCKET_MISSING",
        f"bucket gs://{context.bucket} does not exist (or its name is misspelt in "
        f"storageUri {context.storage_uri})", (_quote(source, line, match),),
        f"gcloud storage ls gs://{context.bucket} # then fix spec.predictor.model.storageUri",
        None, context.bucket)]


def _path_empty(context: _Context) -> list[Finding]:
    hit = _first(context, _NO_SUCH_OBJECT) or _first(context, _NO_MODEL)
    if not hit:
        return []
    source, line, match = hit
    return [Finding(
        "GCS_PATH_EMPTY",
        f"nothing under {context.storage_uri}: the bucket is readable, but the prefix holds no "
        "objects and no single object has that name (wrong path, or the model was deleted)",
        (_quote(source, line, match),),
        f"gcloud storage ls --recursive gs://{context.bucket}/{context.path} # then fix "
        "storageUri or upload the model", None, context.bucket)]


def _key_invalid(context: _Context) -> list[Finding]:
    hit = _first(context, _INVALID_GRANT)
    if not hit:
        return []
    source, line, match = hit
    key = _key_secret(context)
    email = key.client_email if key else None
    detail = match["detail"].strip()
    if "account not found" in detail:
        cause = f"the key's service account {email or ''} no longer exists"
        fix = (f"gcloud iam service-accounts create <name> # or use an existing account; then "
               f"replace secret {key.name if key else '<secret>'} with a key for it")
    elif "Invalid JWT Signature" in detail:
        cause = (f"the key {key.private_key_id[:12] + '…' if key and key.private_key_id else ''}"
                 f" of {email or 'the service account'} is disabled or deleted: Google rejects "
                 "its signature")
        fix = (f"gcloud iam service-accounts keys create key.json --iam-account={email or '<gsa>'}"
               f" && kubectl -n {context.namespace} create secret generic "
               f"{key.name if key else '<secret>'} --from-file={GCS_KEY_FILE}=key.json "
               "--dry-run=client -o yaml | kubectl apply -f -")
    else:
        cause = f"the token exchange for {email or 'the key'} failed: {detail}"
        fix = "check the key file and the pod's clock (iat/exp must be within minutes)"
    return [Finding("GCS_KEY_INVALID", cause, (_quote(source, line, match),), fix, email,
                    context.bucket)]


def _workload_identity(context: _Context) -> list[Finding]:
    sa = context.evidence.service_account or {}
    gsa = (sa.get("annotations") or {}).get(WI_ANNOTATION)
    hit = _first(context, _WI_DENIED) or _first(context, _METADATA_UNREACHABLE)
    if not hit or not gsa:
        return []
    source, line, match = hit
    match = _GSA_EMAIL.match(gsa)
    project = match["project"] if match else "<project>"
    member = f"serviceAccount:{project}.svc.id.goog[{context.namespace}/{context.service_account}]"
    return [Finding(
        "WORKLOAD_IDENTITY_BINDING_MISSING",
        f"Kubernetes service account {context.namespace}/{context.service_account} is annotated "
        f"to act as {gsa}, but that Google service account does not allow it "
        "(no roles/iam.workloadIdentityUser for the Kubernetes service account)",
        (_quote(source, line, match), f"service account {context.service_account}: annotation "
                               f"{WI_ANNOTATION}={gsa}"),
        f"gcloud iam service-accounts add-iam-policy-binding {gsa} "
        f"--role=roles/iam.workloadIdentityUser --member=\"{member}\"", gsa, context.bucket,
        "iam.serviceAccounts.getAccessToken")]


def _runtime(context: _Context) -> list[Finding]:
    failure = context.state.failure
    if not failure or failure.reason not in ("RuntimeNotRecognized", "NoSupportingRuntime",
                                             "RuntimeDisabled"):
        return []
    model = ((context.evidence.isvc.get("spec") or {}).get("predictor") or {}).get(
        "model") or {}
    wanted = model.get("runtime")
    fmt = (model.get("modelFormat") or {}).get("name")
    installed = ", ".join(context.evidence.runtimes) or "none visible"
    code = "RUNTIME_MISSING" if failure.reason == "RuntimeNotRecognized" else \
        "RUNTIME_UNSUPPORTED"
    cause = (f"runtime {wanted} is not installed" if code == "RUNTIME_MISSING" else
             f"no installed runtime serves model format {fmt} with protocol "
             f"{model.get('protocolVersion') or 'v1'}")
    return [Finding(code, cause, (
        f"lastFailureInfo: {failure.reason}: {failure.message}",
        f"installed runtimes: {installed}"),
        "kubectl get clusterservingruntimes,servingruntimes -A # install the runtime, or fix "
        "spec.predictor.model.runtime / modelFormat")]


def _events(context: _Context) -> list[Finding]:
    findings = []
    for event in context.evidence.events:
        message = event.get("message") or ""
        if event.get("reason") == "FailedCreate" and "serviceaccount" in message:
            findings.append(Finding(
                "SERVICE_ACCOUNT_MISSING",
                f"pods cannot be created: service account {context.service_account} does not "
                f"exist in {context.namespace}", (f'event FailedCreate: "{message}"',),
                f"kubectl -n {context.namespace} create serviceaccount "
                f"{context.service_account}"))
        elif event.get("reason") == "FailedCreate" and "denied the request" in message and (
                secret := re.search(r'secrets? "([^"]+)" not found', message)):
            # KServe's pod webhook refuses a pod whose credential secret is missing.
            findings.append(Finding(
                "SECRET_MISSING",
                f"KServe's pod webhook refuses the predictor pods: secret {secret[1]} (named by "
                f"service account {context.service_account} or the storage-secret annotation) "
                f"does not exist in {context.namespace}", (f'event FailedCreate: "{message}"',),
                f"kubectl -n {context.namespace} create secret generic {secret[1]} "
                f"--from-file={GCS_KEY_FILE}=key.json"))
        elif event.get("reason") == "InternalError" and "is invalid" in message:
            # KServe's controller could not create or update the predictor's objects.
            findings.append(Finding(
                "KSERVE_RECONCILE_FAILED",
                "KServe's controller cannot create the predictor: the API server refuses the "
                "objects it built from this spec", (f'event InternalError: "{message}"',),
                "fix spec.predictor as the message says (e.g. resources.requests above "
                "resources.limits: KServe fills in limits from inferenceservice-config)"))
        elif event.get("reason") == "FailedMount" and "not found" in message:
            secret = re.search(r'secret "([^"]+)" not found', message)
            findings.append(Finding(
                "SECRET_MISSING",
                f"the pod waits for secret {secret[1] if secret else ''} that does not exist",
                (f'event FailedMount: "{message}"',),
                f"kubectl -n {context.namespace} create secret generic "
                f"{secret[1] if secret else '<secret>'} --from-file={GCS_KEY_FILE}=key.json"))
    return findings[:1]


def _pods(context: _Context) -> list[Finding]:
    findings = []
    for problem in pod_problems(context.evidence.pods):
        if problem.code == "POD_UNSCHEDULABLE":
            findings.append(Finding(
                "POD_UNSCHEDULABLE", f"pod {problem.pod} cannot be scheduled",
                (f'PodScheduled=False: "{problem.detail}"',),
                "lower spec.predictor.model.resources.requests, or add nodes with room"))
        elif problem.code == "IMAGE_PULL_FAILED":
            findings.append(Finding(
                "IMAGE_PULL_FAILED", f"the image of container {problem.container} cannot be "
                "pulled", (f'{problem.container}: "{problem.detail}"',),
                "check the image name and tag in the runtime, and imagePullSecrets for private "
                "registries"))
        elif problem.code == "OOM_KILLED":
            findings.append(Finding(
                "OOM_KILLED", f"container {problem.container} ran out of memory",
                (f"{problem.container}: OOMKilled ({problem.detail})",),
                "raise spec.predictor.model.resources.limits.memory"))
        elif problem.code == "MODEL_SERVER_FAILED":
            last = (problem.detail.strip().splitlines() or ["exited with an error"])[-1]
            findings.append(Finding(
                "MODEL_LOAD_FAILED", "the model server exited while loading the model",
                (f'{problem.container}: "{last}"',),
                "check the model file and format against the runtime (kubectl logs "
                f"{problem.pod} -c {problem.container})"))
    return findings[:1]


def _download_failed(context: _Context) -> list[Finding]:
    """The storage initializer exited with an error no storage-specific rule explains: its
    last exception line is the cause (an unreachable host, a missing file, a bad URI)."""
    problem = next((p for p in pod_problems(context.evidence.pods)
                    if p.code == "STORAGE_INITIALIZER_FAILED"), None)
    if problem is None:
        return []
    quoted = [(source, line) for source, line in context.lines
              if source in ("storage-initializer log", "lastFailureInfo")
              and _EXCEPTION_LINE.match(line)]
    if not quoted and problem.detail.strip():
        quoted = [("storage-initializer", problem.detail.strip().splitlines()[-1])]
    evidence = (_quote(*quoted[-1]),) if quoted else (
        f"{problem.container}: exited with an error",)
    return [Finding(
        "STORAGE_DOWNLOAD_FAILED",
        f"the storage initializer could not download {context.storage_uri or 'the model'}",
        evidence,
        f"check that {context.storage_uri or 'storageUri'} exists and that the cluster reaches "
        f"it (kubectl -n {context.namespace} logs {problem.pod} -c {problem.container})")]


def _scale_to_zero(context: _Context) -> list[Finding]:
    running = len([p for p in context.evidence.pods
                   if not (p.get("metadata") or {}).get("deletionTimestamp")])
    if not scaled_to_zero(context.state, running):
        return []
    return [Finding(
        "SCALED_TO_ZERO",
        "healthy: the service is Ready and scaled to zero; Target Pending / InProgress only "
        "says no pod is running right now (kserve/kserve#6079)",
        (f"status: {context.state.summary()}", "pods: none running"),
        "nothing to fix; send a request to scale up, or set minReplicas: 1", failure=False)]


def _identity_evidence(context: _Context) -> tuple[str, ...]:
    key = _key_secret(context)
    if key and key.client_email:
        return (f"identity: key {GCS_KEY_FILE} in secret {key.name} "
                f"(service account {context.service_account}) -> {key.client_email}",)
    sa = context.evidence.service_account or {}
    gsa = (sa.get("annotations") or {}).get(WI_ANNOTATION)
    if gsa:
        return (f"identity: Workload Identity, {context.service_account} -> {gsa}",)
    return ()


def _principal_from_identity(context: _Context) -> str | None:
    key = _key_secret(context)
    return key.client_email if key else None


def _key_secret(context: _Context) -> Any:
    sa = context.evidence.service_account or {}
    annotations = (context.evidence.isvc.get("metadata") or {}).get("annotations") or {}
    names = [v for k, v in annotations.items() if "secret" in k.lower()] or list(
        sa.get("secrets") or [])
    for name in names:
        summary = context.evidence.secrets.get(name)
        if summary and GCS_KEY_FILE in summary.keys:
            return summary
    return None


_RULES = (_scale_to_zero, _runtime, _workload_identity, _key_invalid, _anonymous, _gcs_denied,
          _bucket_missing, _path_empty, _events, _pods)
# Only when no rule above explains the failure: they read the same crash more precisely.
_FALLBACKS = (_download_failed,)


def diagnose(evidence: Evidence) -> list[Finding]:
    """Findings for one InferenceService, most likely first."""
    state = ModelState.from_isvc(evidence.isvc)
    model = ((evidence.isvc.get("spec") or {}).get("predictor") or {}).get("model") or {}
    storage_uri = model.get("storageUri") or ""
    bucket, path = parse_gcs_uri(storage_uri)
    context = _Context(evidence, state, bucket, path, storage_uri,
                       (evidence.isvc.get("metadata") or {}).get("namespace", ""),
                       evidence.service_account_name)
    for key, text in evidence.logs.items():
        container = key.split("/")[1]
        context.lines += [(f"{container} log", line) for line in text.splitlines()]
    if state.failure and state.failure.message:
        context.lines += [("lastFailureInfo", line)
                          for line in state.failure.message.splitlines()]
    findings: list[Finding] = []
    seen: set[str] = set()
    for rule in _RULES:
        for finding in rule(context):
            if finding.code not in seen:
                findings.append(finding)
                seen.add(finding.code)
        if findings and not findings[0].failure:
            return findings  # healthy: nothing else applies
    if not findings:
        for rule in _FALLBACKS:
            findings += rule(context)
    if not findings and state.reported:
        findings.append(Finding(
            "NOT_LOADED_YET" if state.transition == "InProgress" else "UNEXPLAINED",
            f"the model is not Loaded ({state.summary()}) and no known cause was found",
            tuple(f"gap: {gap}" for gap in evidence.gaps) or (f"status: {state.summary()}",),
            f"kubectl -n {context.namespace} describe inferenceservice {state.name}"))
    elif not findings and evidence.gaps:
        findings.append(Finding(
            "CLUSTER_API_UNAVAILABLE",
            "the API server did not answer the reads a verdict needs, so the model's state is "
            "unknown: this is not a verdict on the model",
            tuple(f"gap: {gap}" for gap in evidence.gaps),
            "check the API server's health (kubectl get --raw /readyz) and the network to it, "
            "then rerun"))
    return findings
