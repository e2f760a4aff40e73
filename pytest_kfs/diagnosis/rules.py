"""Evidence -> findings: which link is broken, for whom, and the fix (pure).

Each finding has a stable code, the cause in one sentence, the evidence it rests on (a quoted
log line, a condition, an event) and the exact command that fixes it. Findings come most
likely first; a healthy scale-to-zero service yields an informational finding, never a
permission problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_kfs.diagnosis import error_shapes, http_exchange, kube_semantics
from pytest_kfs.diagnosis.codes import Code
from pytest_kfs.diagnosis.evidence import UNREAD_KINDS, Evidence
from pytest_kfs.diagnosis.finding import Finding
from pytest_kfs.diagnosis.kube_semantics import (
    INITIALIZER_FAILED,
    MODEL_SERVER_FAILED,
    PodProblem,
    event_problems,
    pod_problems,
)
from pytest_kfs.diagnosis.signatures import first_match
from pytest_kfs.gcp.uri import WI_ANNOTATION, parse_gcs_uri
from pytest_kfs.kserve.api import GCS_KEY_FILE, ISVC_LABEL
from pytest_kfs.kserve.status import (
    ModelState,
    State,
    Transition,
    describe,
    running_pods,
    scaled_to_zero,
)
from pytest_kfs.shell import Command
from pytest_kfs.untrusted import shown


class _Anchored:
    """A pattern searched only in windows around a literal it contains, at most `tries` of
    them: work linear in the line's length, whatever text a cluster hands us. (Searched over
    the whole line, the principal's run made every position scan to the end of a long run
    without spaces: quadratic; a 40,000-character log line took 36 s.)"""

    def __init__(self, anchor: str, pattern: str, before: int, after: int, tries: int = 16) -> None:
        self.anchor, self.pattern = anchor, re.compile(pattern)
        self.before, self.after, self.tries = before, after, tries

    def search(self, line: str) -> re.Match[str] | None:
        """The first match near one of the first `tries` anchors."""
        at = line.find(self.anchor)
        for _ in range(self.tries):
            if at == -1:
                return None
            window = line[max(0, at - self.before) : at + self.after]
            if match := self.pattern.search(window):
                return match
            at = line.find(self.anchor, at + 1)
        return None


_DENIED = _Anchored(
    " does not have storage.",
    r"(?P<who>[^\s\"':]{1,320}(?:\[[^\]]{1,256}\])?|Anonymous caller|Caller)"
    r"(?: with additional claims)? does not have (?P<permission>storage\.[a-zA-Z.]{1,64}) "
    r"access to (?:the Google Cloud Storage (?P<what>bucket|object)|"
    r"(?P<resource>[^\s\"',]{1,300}))",
    before=600,
    after=400,
)
_PERMISSION_DENIED_NEW = re.compile(
    r"Permission '(?P<permission>[\w.]+)' denied on resource "
    r"'//storage\.googleapis\.com/projects/_/buckets/"
    r"(?P<bucket>[^/']+)"
)
_NO_SUCH_OBJECT = re.compile(r"No such object: (?P<bucket>[^/\s]+)/(?P<path>[^\s\"']+)")
_NO_MODEL = re.compile(r"No model found in (?P<uri>gs://\S+?)\.?(?:\s|$)")
_BUCKET_MISSING = _Anchored(
    " bucket does not exist",
    r"The specified bucket does not exist|\S{1,300} bucket does not exist",
    before=310,
    after=25,
)
_ANONYMOUS = ("Anonymous credentials cannot be refreshed", "Anonymous caller does not have")
_INVALID_GRANT = re.compile(r"invalid_grant: (?P<detail>[^\"'\n]+)")
_WI_DENIED = "iam.serviceAccounts.getAccessToken"
_METADATA_UNREACHABLE = re.compile(
    r"Failed to retrieve http://\S{1,300} from the Google Compute "
    r"Engine metadata service"
)
# google-auth found no credentials: KServe's GCS download then goes anonymous.
_NO_GOOGLE_CREDENTIALS = re.compile(
    r"Compute Engine Metadata server unavailable|Authentication "
    r"failed using Compute Engine authentication|Could not "
    r"automatically determine credentials"
)
_POOL_PRINCIPAL = re.compile(r"(?P<pool>[^\s/\[\]]{1,120}\.svc\.id\.goog)(?:\[(?P<ksa>[^\]]+)\])?")
_SCHEME_IN_LOG = re.compile(r"(?:Copying contents of|src_uri \[)\s*(?P<scheme>[a-z0-9]{1,16})://")
_EXCEPTION_LINE = re.compile(r"^\s{0,8}(?:[A-Za-z_][\w.]{0,120})?(?:Error|Exception|error):\s")
_GSA_EMAIL = re.compile(r"^[\w.-]+@(?P<project>[\w-]+)\.iam\.gserviceaccount\.com$")


@dataclass
class _Context:
    evidence: Evidence
    state: ModelState
    bucket: str | None
    path: str
    storage_uri: str
    namespace: str
    service_account: str
    scheme: str = ""  # of the storage URI (from the spec, else from the initializer's log)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (source, line)
    problems: list[PodProblem] = field(default_factory=list)  # pod_problems(), read once


def _member(principal: str) -> str:
    if principal.endswith("]") and ".svc.id.goog[" in principal:
        return f"serviceAccount:{principal}"
    if "@" in principal:
        return f"serviceAccount:{principal}"
    return principal


_GRANT_ON_BUCKET = Command(
    "gcloud storage buckets add-iam-policy-binding gs://{bucket} --member={member} --role={role}"
)
_SHOW_SERVICE_ACCOUNT = Command(
    "kubectl -n {namespace} get serviceaccount {account} -o yaml # the principal: its "
    f"{WI_ANNOTATION} annotation, or client_email in its key secret"
)
_LINK_WORKLOAD_IDENTITY = Command(
    f"kubectl -n {{namespace}} annotate serviceaccount {{account}} {WI_ANNOTATION}={{gsa}} && "
    "gcloud iam service-accounts add-iam-policy-binding {gsa} "
    "--role=roles/iam.workloadIdentityUser --member={member} # <gsa>: a Google service "
    "account of project {project}; grant it roles/storage.objectViewer on gs://{bucket}"
)
_ALLOW_WORKLOAD_IDENTITY = Command(
    "gcloud iam service-accounts add-iam-policy-binding {gsa} "
    "--role=roles/iam.workloadIdentityUser --member={member}"
)
_KEY_SECRET = Command(
    "kubectl -n {namespace} create secret generic gcs-key "
    f"--from-file={GCS_KEY_FILE}=key.json && kubectl -n {{namespace}} patch "
    'serviceaccount {account} -p \'{{"secrets":[{{"name":"gcs-key"}}]}}\' '
    "# or set up Workload Identity for this service account"
)
_LIST_BUCKET = Command("gcloud storage ls gs://{bucket} # then fix spec.predictor.model.storageUri")
_LIST_PREFIX = Command(
    "gcloud storage ls --recursive gs://{bucket}/{path} # then fix storageUri or upload the model"
)
_NEW_ACCOUNT = Command(
    "gcloud iam service-accounts create <name> # or use an existing account; then replace "
    "secret {secret} with a key for it"
)
_CREATE_SERVICE_ACCOUNT = Command("kubectl -n {namespace} create serviceaccount {account}")
_CREATE_KEY_SECRET = Command(
    f"kubectl -n {{namespace}} create secret generic {{secret}} --from-file={GCS_KEY_FILE}=key.json"
)
_MODEL_SERVER_LOG = Command(
    "kubectl -n {namespace} logs {pod} -c {container} --previous # check the model file and "
    "format against the runtime"
)
_EXITED_LOG = Command(
    "kubectl -n {namespace} logs {pod} -c {container} --previous # the image's command must "
    "start a server on the container port, not finish"
)
_INITIALIZER_LOG = Command("kubectl -n {namespace} logs {pod} -c storage-initializer")
_INITIALIZER_LOGS = Command(
    f"kubectl -n {{namespace}} logs -l {ISVC_LABEL}={{name}} -c storage-initializer"
)
_DESCRIBE_MODEL = Command("kubectl -n {namespace} describe inferenceservice {name}")
_DESCRIBE_PODS = Command(f"kubectl -n {{namespace}} describe pods -l {ISVC_LABEL}={{name}}")
# What to read when evidence of a kind is missing.
_READ = {
    "status": Command("kubectl -n {namespace} get inferenceservice {name} -o yaml"),
    "pods": Command(f"kubectl -n {{namespace}} get pods -l {ISVC_LABEL}={{name}} -o yaml"),
    "logs": Command(
        f"kubectl -n {{namespace}} logs -l {ISVC_LABEL}={{name}} --all-containers --prefix"
    ),
    "events": Command("kubectl -n {namespace} get events -o yaml"),
}
_NEW_KEY = Command(
    "gcloud iam service-accounts keys create key.json --iam-account={gsa} && kubectl -n "
    f"{{namespace}} create secret generic {{secret}} --from-file={GCS_KEY_FILE}=key.json "
    "--dry-run=client -o yaml | kubectl apply -f -"
)


def _grant_command(bucket: str | None, principal: str, role: str) -> str:
    return _GRANT_ON_BUCKET.render(bucket=bucket, member=_member(principal), role=role)


def _first(
    context: _Context,
    needle: str | re.Pattern[str] | _Anchored,
) -> tuple[str, str, re.Match[str]] | None:
    pattern = re.compile(re.escape(needle)) if isinstance(needle, str) else needle
    for source, line in context.lines:
        if match := pattern.search(line):
            return source, line, match
    return None


def _quote(source: str, line: str, where: re.Match[str] | int | None = None) -> str:
    """The line, cut around the words that matter when it is long (log prefixes, URLs):
    from a match, or from a little before a position in `line`."""
    text = line.strip()
    if len(text) <= 240:
        return f'{source}: "{text}"'
    if where is None:
        return f'{source}: "{text[:237]}..."'
    if isinstance(where, int):
        start = max(0, where - (len(line) - len(line.lstrip())) - 60)
    else:
        start = max(0, text.find(where.group(0)))
    tail = "..." if start + 234 < len(text) else ""
    return f'{source}: "{"..." if start else ""}{text[start : start + 234]}{tail}"'


# -- the rules ----------------------------------------------------------------------------------
def _gcs_denied(context: _Context) -> list[Finding]:
    hit = _first(context, _DENIED) or _first(context, _PERMISSION_DENIED_NEW)
    if not hit:
        return []
    source, line, match = hit
    quoted = _quote(source, line, match)
    permission = match["permission"]
    said = match.groupdict().get("who") or ""
    if said == "Anonymous caller":
        return []  # the anonymous rule explains this one
    resource = match.groupdict().get("resource") or ""
    bucket = (
        match.groupdict().get("bucket")
        or context.bucket
        or (resource.removeprefix("gs://").split("/")[0] or None)
    )
    if pool := _POOL_PRINCIPAL.search(said):
        return [_not_linked(context, pool, permission, bucket, quoted)]
    # Only an e-mail is a principal a grant can name; "Caller" or a cut-off word is not.
    who = said if "@" in said else _principal_from_identity(context)
    known = who is not None
    who = who or "the caller"
    by_initializer = source.startswith(("storage-initializer", "lastFailureInfo"))
    grant = (
        _grant_command(bucket, who, "roles/storage.objectViewer")
        if known
        else _find_principal(context)
        + " && "
        + _grant_command(bucket, "serviceAccount:<that e-mail>", "roles/storage.objectViewer")
    )
    if permission == "storage.objects.list":
        return [
            Finding(
                Code.GCS_LIST_DENIED,
                f"{who} cannot list gs://{bucket}/{context.path}: "
                + (
                    "KServe's storage-initializer lists the prefix first and is"
                    if by_initializer
                    else "it is"
                )
                + " denied storage.objects.list on the bucket",
                (quoted, *_identity_evidence(context)),
                grant,
                who if known else None,
                bucket,
                permission,
            )
        ]
    if permission == "storage.objects.get":
        return [
            Finding(
                Code.GCS_GET_DENIED,
                f"{who} cannot read the objects of gs://{bucket}/{context.path} "
                "(storage.objects.get denied): a list-only role such as "
                "roles/storage.legacyBucketReader, or a condition that does not cover the objects",
                (quoted, *_identity_evidence(context)),
                grant,
                who if known else None,
                bucket,
                permission,
            )
        ]
    return [
        Finding(
            Code.GCS_PERMISSION_DENIED,
            f"{who} is denied {permission} on gs://{bucket}",
            (quoted,),
            grant,
            who if known else None,
            bucket,
            permission,
        )
    ]


def _find_principal(context: _Context) -> str:
    """How to learn who the pod runs as, when the log does not say."""
    return _SHOW_SERVICE_ACCOUNT.render(
        namespace=context.namespace, account=context.service_account
    )


def _not_linked(
    context: _Context, pool: re.Match[str], permission: str, bucket: str | None, quoted: str
) -> Finding:
    """Denied as the Workload Identity pool principal: the Kubernetes service account acts as
    itself, with no Google service account behind it (and no grant of its own)."""
    project = pool["pool"].removesuffix(".svc.id.goog")
    ksa = pool["ksa"] or f"{context.namespace or '<namespace>'}/{context.service_account}"
    namespace, _, account = ksa.partition("/")
    return Finding(
        Code.WORKLOAD_IDENTITY_NOT_LINKED,
        f"the pod reaches Cloud Storage as the Workload Identity pool principal of {ksa} "
        f"({pool['pool']}), which is denied {permission}: the Kubernetes service account is "
        "not linked to a Google service account, and has no grant of its own",
        (quoted,),
        _LINK_WORKLOAD_IDENTITY.render(
            namespace=namespace,
            account=account,
            gsa=None,  # the user's to choose
            project=project,
            member=f"serviceAccount:{pool['pool']}[{namespace}/{account}]",
            bucket=bucket,
        ),
        f"{pool['pool']}[{ksa}]",
        bucket,
        permission,
    )


def credentials_fix(namespace: str, account: str) -> str:
    """How to give a service account Google credentials KServe reads: a key secret."""
    return _KEY_SECRET.render(namespace=namespace, account=account)


def _anonymous(context: _Context) -> list[Finding]:
    hit = None
    for needle in _ANONYMOUS:
        hit = hit or _first(context, needle)
    if not hit and context.scheme in ("gs", ""):
        hit = _first(context, _NO_GOOGLE_CREDENTIALS)
    if not hit:
        return []
    source, line, match = hit
    account = context.service_account
    fix = credentials_fix(context.namespace, account)
    evidence = [_quote(source, line, match)]
    sa = context.evidence.service_account
    if sa is not None:
        listed = sa.get("secrets") or []
        with_key = [
            name
            for name in listed
            if name in context.evidence.secrets
            and GCS_KEY_FILE in context.evidence.secrets[name].keys
        ]
        evidence.append(
            f"service account {account}: secrets {listed}"
            + ("" if with_key else f", none with key {GCS_KEY_FILE}")
        )
    return [
        Finding(
            Code.GCS_ANONYMOUS_FALLBACK,
            f"the storage-initializer found no Google credentials for service account {account} "
            f"and fell back to an anonymous client, which gs://{context.bucket} does not allow",
            tuple(evidence),
            fix,
            "Anonymous caller",
            context.bucket,
            "storage.objects.list",
        )
    ]


def _bucket_missing(context: _Context) -> list[Finding]:
    hit = _first(context, _BUCKET_MISSING) if context.scheme in ("gs", "") else None
    if not hit or "NoSuchBucket" in hit[1]:  # S3's words for it (signatures.py)
        return []
    source, line, match = hit
    return [
        Finding(
            Code.GCS_BUCKET_MISSING,
            f"bucket gs://{context.bucket} does not exist (or its name is misspelt in "
            f"storageUri {context.storage_uri})",
            (_quote(source, line, match),),
            _LIST_BUCKET.render(bucket=context.bucket),
            None,
            context.bucket,
        )
    ]


def _path_empty(context: _Context) -> list[Finding]:
    hit = _first(context, _NO_SUCH_OBJECT) or _first(context, _NO_MODEL)
    if not hit:
        return []
    source, line, match = hit
    return [
        Finding(
            Code.GCS_PATH_EMPTY,
            f"nothing under {context.storage_uri}: the bucket is readable, but the prefix holds no "
            "objects and no single object has that name (wrong path, or the model was deleted)",
            (_quote(source, line, match),),
            _LIST_PREFIX.render(bucket=context.bucket, path=context.path),
            None,
            context.bucket,
        )
    ]


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
        fix = _NEW_ACCOUNT.render(secret=key.name if key else None)
    elif "Invalid JWT Signature" in detail:
        cause = (
            f"the key {key.private_key_id[:12] + '…' if key and key.private_key_id else ''}"
            f" of {email or 'the service account'} is disabled or deleted: Google rejects "
            "its signature"
        )
        fix = _NEW_KEY.render(
            gsa=email, namespace=context.namespace, secret=key.name if key else None
        )
    else:
        cause = f"the token exchange for {email or 'the key'} failed: {detail}"
        fix = "check the key file and the pod's clock (iat/exp must be within minutes)"
    return [
        Finding(
            Code.GCS_KEY_INVALID, cause, (_quote(source, line, match),), fix, email, context.bucket
        )
    ]


def _workload_identity(context: _Context) -> list[Finding]:
    """The GKE metadata server may not mint a token for the Google service account the
    Kubernetes one is annotated with (or, when the account was not read, some Google one)."""
    sa = context.evidence.service_account or {}
    gsa = (sa.get("annotations") or {}).get(WI_ANNOTATION)
    hit = _first(context, _WI_DENIED) or (_first(context, _METADATA_UNREACHABLE) if gsa else None)
    if not hit or context.scheme not in ("gs", ""):
        return []
    source, line, match = hit
    email = _GSA_EMAIL.match(gsa or "")
    project = email["project"] if email else "<project>"
    ksa = f"{context.namespace or '<namespace>'}/{context.service_account}"
    member = f"serviceAccount:{project}.svc.id.goog[{ksa}]"
    evidence = [_quote(source, line, match)]
    if gsa:
        evidence.append(
            f"service account {context.service_account}: annotation {WI_ANNOTATION}={gsa}"
        )
    return [
        Finding(
            Code.WORKLOAD_IDENTITY_BINDING_MISSING,
            f"Kubernetes service account {ksa} is annotated to act as "
            f"{gsa or 'a Google service account'}, but that Google service account does not "
            "allow it "
            "(no roles/iam.workloadIdentityUser for the Kubernetes service account)",
            tuple(evidence),
            ("" if gsa else _find_principal(context) + "; then: ")
            + _ALLOW_WORKLOAD_IDENTITY.render(gsa=gsa, member=member),
            gsa,
            context.bucket,
            "iam.serviceAccounts.getAccessToken",
        )
    ]


def _runtime(context: _Context) -> list[Finding]:
    failure = context.state.failure
    if not failure or failure.reason not in (
        "RuntimeNotRecognized",
        "NoSupportingRuntime",
        "RuntimeDisabled",
    ):
        return []
    model = ((context.evidence.isvc.get("spec") or {}).get("predictor") or {}).get("model") or {}
    wanted = model.get("runtime")
    fmt = (model.get("modelFormat") or {}).get("name")
    installed = ", ".join(context.evidence.runtimes) or "none visible"
    code = (
        Code.RUNTIME_MISSING
        if failure.reason == "RuntimeNotRecognized"
        else Code.RUNTIME_UNSUPPORTED
    )
    cause = (
        f"runtime {wanted} is not installed"
        if code == Code.RUNTIME_MISSING
        else f"no installed runtime serves model format {fmt} with protocol "
        f"{model.get('protocolVersion') or 'v1'}"
    )
    return [
        Finding(
            code,
            cause,
            (
                f"lastFailureInfo: {failure.reason}: {failure.message}",
                f"installed runtimes: {installed}",
            ),
            "kubectl get clusterservingruntimes,servingruntimes -A # install the runtime, or fix "
            "spec.predictor.model.runtime / modelFormat",
        )
    ]


def _events(context: _Context) -> list[Finding]:
    findings = []
    for event in context.evidence.events:
        message = event.get("message") or ""
        if event.get("reason") == "FailedCreate" and "serviceaccount" in message:
            findings.append(
                Finding(
                    Code.SERVICE_ACCOUNT_MISSING,
                    f"pods cannot be created: service account {context.service_account} does not "
                    f"exist in {context.namespace}",
                    (f'event FailedCreate: "{message}"',),
                    _CREATE_SERVICE_ACCOUNT.render(
                        namespace=context.namespace, account=context.service_account
                    ),
                )
            )
        elif (
            event.get("reason") == "FailedCreate"
            and "denied the request" in message
            and (secret := re.search(r'secrets? "([^"]+)" not found', message))
        ):
            # KServe's pod webhook refuses a pod whose credential secret is missing.
            findings.append(
                Finding(
                    Code.SECRET_MISSING,
                    "KServe's pod webhook refuses the predictor pods: secret "
                    f"{secret[1]} (named by "
                    f"service account {context.service_account} or the storage-secret annotation) "
                    f"does not exist in {context.namespace}",
                    (f'event FailedCreate: "{message}"',),
                    _CREATE_KEY_SECRET.render(namespace=context.namespace, secret=secret[1]),
                )
            )
        elif event.get("reason") == "InternalError" and "is invalid" in message:
            # KServe's controller could not create or update the predictor's objects.
            findings.append(
                Finding(
                    Code.KSERVE_RECONCILE_FAILED,
                    "KServe's controller cannot create the predictor: the API server refuses the "
                    "objects it built from this spec",
                    (f'event InternalError: "{message}"',),
                    "fix spec.predictor as the message says (e.g. resources.requests above "
                    "resources.limits: KServe fills in limits from inferenceservice-config)",
                )
            )
        elif event.get("reason") == "FailedMount" and "not found" in message:
            secret = re.search(r'secret "([^"]+)" not found', message)
            findings.append(
                Finding(
                    Code.SECRET_MISSING,
                    f"the pod waits for secret {secret[1] if secret else ''} that does not exist",
                    (f'event FailedMount: "{message}"',),
                    _CREATE_KEY_SECRET.render(
                        namespace=context.namespace, secret=secret[1] if secret else None
                    ),
                )
            )
    return findings[:1]


def _pods(context: _Context) -> list[Finding]:
    findings = []
    for problem in context.problems:
        if problem.code == Code.POD_UNSCHEDULABLE:
            findings.append(
                Finding(
                    Code.POD_UNSCHEDULABLE,
                    f"pod {problem.pod} cannot be scheduled",
                    (f'PodScheduled=False: "{problem.detail}"',),
                    "lower spec.predictor.model.resources.requests, or add nodes with room",
                )
            )
        elif problem.code == Code.IMAGE_PULL_FAILED:
            findings.append(
                Finding(
                    Code.IMAGE_PULL_FAILED,
                    f"the image of container {problem.container} cannot be pulled",
                    (f'{problem.container}: "{problem.detail}"',),
                    "check the image name and tag in the runtime, and imagePullSecrets for private "
                    "registries",
                )
            )
        elif problem.code == Code.OOM_KILLED:
            findings.append(
                Finding(
                    Code.OOM_KILLED,
                    f"container {problem.container} ran out of memory",
                    (f"{problem.container}: OOMKilled ({problem.detail})",),
                    "raise spec.predictor.model.resources.limits.memory",
                )
            )
        elif problem.code == Code.CONTAINER_EXITED:
            findings.append(
                Finding(
                    Code.CONTAINER_EXITED,
                    f"container {problem.container} exits instead of serving: it completes "
                    "(exit code 0) and the kubelet restarts it in a loop, so its command runs "
                    "no server",
                    (f"{problem.container}: lastState Terminated, {problem.detail}",),
                    _EXITED_LOG.render(
                        namespace=context.namespace,
                        pod=problem.pod,
                        container=problem.container or "kserve-container",
                    ),
                )
            )
        elif problem.code == MODEL_SERVER_FAILED:
            last = (problem.detail.strip().splitlines() or ["exited with an error"])[-1]
            container = problem.container or "the model server"
            findings.append(
                Finding(
                    Code.MODEL_LOAD_FAILED,
                    "the model server exited while loading the model",
                    (f'{container}: "{shown(last, 300)}"',),
                    _MODEL_SERVER_LOG.render(
                        namespace=context.namespace,
                        pod=problem.pod,
                        container=problem.container or "kserve-container",
                    ),
                )
            )
    return findings[:1]


def _download_failed(context: _Context) -> list[Finding]:
    """The storage initializer exited with an error no storage-specific rule explains: its
    last exception line is the cause (an unreachable host, a missing file, a bad URI)."""
    # The kubelet's BackOff events show the initializer's crash loop when no pod was given.
    crashes = context.problems + event_problems(context.evidence.events)
    problem = next((p for p in crashes if p.code == INITIALIZER_FAILED), None)
    quoted = [
        (source, line)
        for source, line in context.lines
        if source in ("storage-initializer log", "lastFailureInfo") and _EXCEPTION_LINE.match(line)
    ]
    if problem is None and (context.evidence.known("pods") or not quoted):
        return []  # pods not given: the initializer's own traceback says it failed
    if not quoted and problem is not None and problem.detail.strip():
        quoted = [("storage-initializer", problem.detail.strip().splitlines()[-1])]
    evidence = (_quote(*quoted[-1]),) if quoted else ("storage-initializer: exited with an error",)
    where = (
        _INITIALIZER_LOG.render(namespace=context.namespace, pod=problem.pod)
        if problem and problem.pod
        else _INITIALIZER_LOGS.render(namespace=context.namespace, name=context.state.name)
    )
    return [
        Finding(
            Code.STORAGE_DOWNLOAD_FAILED,
            f"the storage initializer could not download {context.storage_uri or 'the model'}",
            evidence,
            f"check that {context.storage_uri or 'storageUri'} exists and that the cluster reaches "
            f"it ({where})",
        )
    ]


def _signatures(context: _Context) -> list[Finding]:
    """A phrase that names a cause on its own (signatures.py), the first in its order."""
    hit = first_match(context.lines)
    if hit is None:
        return []
    signature, source, line, at = hit
    if signature.code == Code.MODEL_LOAD_FAILED and (
        precise := error_shapes.import_missing(context.lines)
    ):
        return precise  # the exception names what the load lacks; a frame says only where
    fields = {
        "namespace": context.namespace or "<namespace>",
        "uri": context.storage_uri or "the storageUri",
        "name": context.state.name or "<name>",
    }
    return [
        Finding(
            signature.code,
            signature.cause.format(**fields),
            (_quote(source, line, at),),
            signature.fix.render_from(_model_fields(context)),
        )
    ]


def _exit_137(context: _Context) -> list[Finding]:
    """KServe records the container's exit code: 137 is the kernel's OOM kill."""
    failure = context.state.failure
    if not failure or failure.exit_code != 137:
        return []
    return [
        Finding(
            Code.OOM_KILLED,
            "a container of the predictor was killed with exit code 137 (out of "
            "memory) while loading the model",
            (f"lastFailureInfo: exitCode 137, reason {failure.reason or '-'}",),
            "raise spec.predictor.model.resources.limits.memory",
        )
    ]


def _running(context: _Context) -> int | None:
    return running_pods(context.evidence.pods) if context.evidence.known("pods") else None


def _scale_to_zero(context: _Context) -> list[Finding]:
    running = _running(context)
    if not scaled_to_zero(context.state, running):
        return []
    pods = (
        "pods: none running"
        if running is not None
        else f"spec.predictor.minReplicas: {context.state.min_replicas} (pods not given)"
    )
    return [
        Finding(
            Code.SCALED_TO_ZERO,
            "healthy: the service is Ready and scaled to zero; Target Pending / InProgress only "
            "says no pod is running right now (kserve/kserve#6079)",
            (f"status: {context.state.summary()}", pods),
            "nothing to fix; send a request to scale up, or set minReplicas: 1",
        )
    ]


def _stale_transition(context: _Context) -> list[Finding]:
    """Ready, a pod running, the model Loaded: only the transition status lags behind."""
    state, running = context.state, _running(context)
    if not (
        state.ready == "True"
        and state.active == State.LOADED
        and running
        and state.transition == Transition.IN_PROGRESS
        and not state.rollout_behind
        and not context.problems
    ):
        return []
    return [
        Finding(
            Code.STALE_TRANSITION,
            "healthy: the service is Ready and its pod runs; Target Pending / InProgress is a "
            "stale transition status (kserve/kserve#3686), not a stuck model",
            (f"status: {state.summary()}", f"pods: {running} running"),
            "nothing to fix",
        )
    ]


def _identity_evidence(context: _Context) -> tuple[str, ...]:
    key = _key_secret(context)
    if key and key.client_email:
        return (
            f"identity: key {GCS_KEY_FILE} in secret {key.name} "
            f"(service account {context.service_account}) -> {key.client_email}",
        )
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
        sa.get("secrets") or []
    )
    for name in names:
        summary = context.evidence.secrets.get(name)
        if summary and GCS_KEY_FILE in summary.keys:
            return summary
    return None


def _api_refusal(context: _Context) -> list[Finding]:
    return kube_semantics.api_refusal(context.evidence.texts, context.lines)


def _ingress(context: _Context) -> list[Finding]:
    conditions = ((c.type, c.reason, c.message) for c in context.state.conditions)
    return kube_semantics.ingress(context.lines, conditions)


def _serving_path(context: _Context) -> list[Finding]:
    """Between the gateway and the container: the mesh's authorization, Knative's activator
    waiting for a ready pod, a container that exits instead of serving."""
    return _first_found(
        (
            kube_semantics.mesh_authorization,
            kube_semantics.container_exited,
            kube_semantics.revision_not_ready,
        ),
        context.lines,
    )


def _error_shapes(context: _Context) -> list[Finding]:
    """Python's and Go's general error shapes, the most telling first."""
    return _first_found(
        (
            error_shapes.container_start,
            error_shapes.import_missing,
            error_shapes.rclone,
            error_shapes.gpu_driver,
            error_shapes.s3_client_unbuilt,
            error_shapes.tls_failure,
            error_shapes.tf_serving_layout,
            error_shapes.missing_file,
            error_shapes.storage_download,
            error_shapes.cut_traceback,
        ),
        context.lines,
    )


def _first_found(
    layers: tuple[Callable[[list[tuple[str, str]]], list[Finding]], ...],
    lines: list[tuple[str, str]],
) -> list[Finding]:
    """The findings of the first layer, in order, that finds any in `lines`."""
    for layer in layers:
        if found := layer(lines):
            return found
    return []


def _spec_requirement(context: _Context) -> list[Finding]:
    return kube_semantics.spec_requirement(context.lines)


def _uri_without_scheme(context: _Context) -> list[Finding]:
    """A storageUri with no scheme: KServe's webhook injects no storage initializer for it,
    so nothing is downloaded (the model server then finds no /mnt/models)."""
    uri = context.storage_uri
    if not uri or "://" in uri:
        return []
    return [
        Finding(
            Code.STORAGE_URI_INVALID,
            f"storageUri {shown(uri, 300)} has no scheme: KServe does not read it as storage, "
            "injects no storage initializer, and the model server gets no model",
            (f"spec.predictor.model.storageUri: {shown(uri, 300)}",),
            "set spec.predictor.model.storageUri to gs://, s3://, pvc://, https:// or hf:// "
            "(pvc://CLAIM/PATH for a volume)",
        )
    ]


def _request(context: _Context) -> list[Finding]:
    """A request answered 404/405/3xx while nothing shows the model failing."""
    state = context.state
    if state.failure or state.ready == "False":
        return []
    return (
        http_exchange.misrouted(context.evidence.texts, state.url)
        or http_exchange.model_answer(context.lines)
        or http_exchange.unregistered_model(context.lines)
    )


_RULES = (
    _scale_to_zero,
    _stale_transition,
    _exit_137,
    _runtime,
    _workload_identity,
    _key_invalid,
    _anonymous,
    _gcs_denied,
    _bucket_missing,
    _path_empty,
    _events,
    _pods,
    _signatures,
)
# Only when no rule above names a cause, the first that does: what any Kubernetes
# workload's refusals and states say, then any program's error shapes, then the spec and the
# request themselves.
_LAYERS = (
    _api_refusal,
    _ingress,
    _serving_path,
    _error_shapes,
    _spec_requirement,
    _uri_without_scheme,
    _request,
)
# Only when no rule above explains the failure: they read the same crash more precisely.
_FALLBACKS = (_download_failed,)


def _lines(evidence: Evidence, state: ModelState) -> list[tuple[str, str]]:
    """Every text that may carry the error, with where it came from: logs, KServe's
    lastFailureInfo, conditions, events, the pods' container messages, kubectl's output."""
    lines = []
    for key, text in evidence.logs.items():
        container = key.split("/")[1] if "/" in key else key
        lines += [(f"{container} log", line) for line in text.splitlines()]
    if state.failure and state.failure.message:
        lines += [("lastFailureInfo", line) for line in state.failure.message.splitlines()]
    for condition in state.conditions:
        if condition.message:
            lines.append((f"condition {condition.type}", condition.message))
    for event in evidence.events:
        if event.get("message"):
            lines.append((f"event {event.get('reason') or ''}".strip(), str(event["message"])))
    for pod in evidence.pods:
        status = pod.get("status") or {}
        for container in (status.get("initContainerStatuses") or []) + (
            status.get("containerStatuses") or []
        ):
            for kind in ("state", "lastState"):
                for detail in (container.get(kind) or {}).values():
                    if isinstance(detail, dict) and detail.get("message"):
                        lines += [
                            (f"{container.get('name')} {detail.get('reason') or kind}", line)
                            for line in str(detail["message"]).splitlines()
                        ]
        for condition in status.get("conditions") or []:
            if condition.get("message"):
                lines.append((f"pod {condition.get('type')}", str(condition["message"])))
    for name, text in evidence.texts.items():
        lines += [(name, line) for line in text.splitlines() if line.strip()]
        if len(text.strip().splitlines()) > 1:
            # One refusal, wrapped by the terminal: read as one line too.
            lines.append((name, " ".join(text.split())))
    return lines


def _scheme(storage_uri: str, lines: list[tuple[str, str]]) -> str:
    if "://" in storage_uri:
        return storage_uri.split("://", 1)[0]
    for source, line in lines:
        if source.startswith("storage-initializer") and (found := _SCHEME_IN_LOG.search(line)):
            return found["scheme"]
    return ""


# Storage failures another restart of the initializer will not cure (an unreachable endpoint
# may come back; a denial or a missing bucket will not).
_LASTING = frozenset(
    {
        Code.GCS_LIST_DENIED,
        Code.GCS_GET_DENIED,
        Code.GCS_PERMISSION_DENIED,
        Code.GCS_ANONYMOUS_FALLBACK,
        Code.GCS_KEY_INVALID,
        Code.GCS_BUCKET_MISSING,
        Code.GCS_PATH_EMPTY,
        Code.WORKLOAD_IDENTITY_BINDING_MISSING,
        Code.WORKLOAD_IDENTITY_NOT_LINKED,
        Code.WORKLOAD_IDENTITY_API_DISABLED,
        Code.S3_CREDENTIALS_INVALID,
        Code.S3_ACCESS_DENIED,
        Code.S3_BUCKET_MISSING,
        Code.AZURE_AUTH_FAILED,
        Code.STORAGE_URI_INVALID,
        Code.MODEL_NOT_FOUND,
        Code.PVC_MISSING,
    }
)


def explain_storage_error(
    message: str,
    storage_uri: str = "",
    namespace: str = "",
    service_account: str = "default",
    source: str = "storage-initializer",
) -> Finding:
    """The finding for an error text of a storage client (the storage-initializer's, or a
    check's making the same calls as `source`), by the rules a model's diagnosis uses."""
    isvc = {
        "metadata": {"namespace": namespace},
        "spec": {
            "predictor": {
                "serviceAccountName": service_account,
                "model": {"storageUri": storage_uri},
            }
        },
    }
    evidence = Evidence(
        isvc=isvc,
        logs={f"pod/{source}": message},
        service_account_name=service_account,
        unread=set(UNREAD_KINDS) - {"logs"},
    )
    return diagnose(evidence)[0]


def lasting_storage_failure(message: str) -> bool:
    """Whether a storage initializer's termination message names a lasting cause."""
    return explain_storage_error(message).code in _LASTING


def diagnose(evidence: Evidence) -> list[Finding]:
    """Findings for one InferenceService, most likely first."""
    state = ModelState.from_isvc(evidence.isvc)
    model = ((evidence.isvc.get("spec") or {}).get("predictor") or {}).get("model") or {}
    storage_uri = model.get("storageUri") or ""
    bucket, path = parse_gcs_uri(storage_uri)
    context = _Context(
        evidence,
        state,
        bucket,
        path,
        storage_uri,
        (evidence.isvc.get("metadata") or {}).get("namespace", ""),
        evidence.service_account_name,
    )
    context.lines = _lines(evidence, state)
    context.problems = pod_problems(evidence.pods)
    context.scheme = _scheme(storage_uri, context.lines)
    findings: list[Finding] = []
    seen: set[str] = set()
    for rule in _RULES:
        for finding in rule(context):
            if finding.code not in seen:
                findings.append(finding)
                seen.add(finding.code)
        if findings and not findings[0].failure:
            return findings  # healthy: nothing else applies
    for layer in _LAYERS:
        if findings:
            break
        findings += layer(context)
    if not findings:
        for rule in _FALLBACKS:
            findings += rule(context)
    if findings:
        return findings
    if evidence.gaps and not state.reported:
        return [
            Finding(
                Code.CLUSTER_API_UNAVAILABLE,
                "the API server did not answer the reads a verdict needs, so the model's state is "
                "unknown: this is not a verdict on the model",
                tuple(f"gap: {gap}" for gap in evidence.gaps),
                "check the API server's health (kubectl get --raw /readyz) and the network to it, "
                "then rerun",
            )
        ]
    if error := error_shapes.first_error(context.lines):
        return [_unexplained_error(context, *error)]
    return [_no_cause(context)]


def _unexplained_error(context: _Context, source: str, line: str) -> Finding:
    """An error line no rule explains: never passed over, quoted with where it came from and
    the reads that would settle it."""
    missing = [
        kind for kind in ("status", "pods", "logs", "events") if not context.evidence.known(kind)
    ]
    commands = _collect_commands(context, missing) or [
        _DESCRIBE_MODEL.render_from(_model_fields(context)),
        _DESCRIBE_PODS.render_from(_model_fields(context)),
    ]
    return Finding(
        Code.UNEXPLAINED,
        f"an error no known cause explains, in {source}: {shown(line.strip(), 300)}",
        (_quote(source, shown(line)),),
        "; ".join(commands),
    )


def _no_cause(context: _Context) -> Finding:
    """No rule matched: say what the status shows, and what to read next when evidence is
    missing (never a fact the evidence does not hold)."""
    state, evidence = context.state, context.evidence
    seen = [f"status: {describe(state, _running(context))}"] if evidence.known("status") else []
    seen += [f"gap: {gap}" for gap in evidence.gaps]
    missing = [kind for kind in ("status", "pods", "logs", "events") if not evidence.known(kind)]
    if missing:
        return Finding(
            Code.NEEDS_EVIDENCE,
            f"no known cause in what was read; not read: {', '.join(missing)}",
            tuple(seen) or ("nothing but the missing kinds above",),
            "; ".join(_collect_commands(context, missing)),
        )
    if state.rollout_behind:
        return Finding(
            Code.ROLLOUT_STUCK,
            f"revision {state.latest_created_revision} is not ready and no known cause was "
            f"found; revision {state.latest_ready_revision} still serves",
            tuple(seen),
            _DESCRIBE_PODS.render(namespace=context.namespace, name=state.name),
        )
    code = Code.NOT_LOADED_YET if state.transition == Transition.IN_PROGRESS else Code.UNEXPLAINED
    return Finding(
        code,
        f"no known cause found: {describe(state, _running(context))}",
        tuple(seen),
        _DESCRIBE_MODEL.render(namespace=context.namespace, name=state.name),
    )


def _collect_commands(context: _Context, missing: list[str]) -> list[str]:
    return [_READ[kind].render_from(_model_fields(context)) for kind in missing]


def _model_fields(context: _Context) -> dict[str, str | None]:
    """The values a command about the model itself may use."""
    return {"namespace": context.namespace, "name": context.state.name}
