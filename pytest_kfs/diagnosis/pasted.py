"""Evidence from what a user pastes: `kubectl get ... -o yaml`, describe tables, log files (pure).

What is not given is unknown, never empty: an InferenceService without pods says nothing about
pods, so no finding may claim "no pods running".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from pytest_kfs.diagnosis.codes import Code
from pytest_kfs.diagnosis.evidence import UNREAD_KINDS, Evidence
from pytest_kfs.diagnosis.rules import Finding, diagnose
from pytest_kfs.errors import UnreadableInput
from pytest_kfs.kserve.status import ModelState, Verdict, describe, running_pods, snapshot_verdict
from pytest_kfs.untrusted import capped

_EVENT_TYPES = ("Normal", "Warning")
_NO_CAUSE = (
    Code.NEEDS_EVIDENCE,
    Code.NOT_LOADED_YET,
    Code.UNEXPLAINED,
    Code.ROLLOUT_STUCK,
    Code.CLUSTER_API_UNAVAILABLE,
)
_COLUMNS = re.compile(r"\s{2,}")
_REASON = re.compile(r"^[A-Z][A-Za-z]+$")
_EVENTS_HEADER = re.compile(
    r"^\s*(?:Type\s+Reason\s+Age\s+From\s+Message|LAST SEEN\s+TYPE\s+"
    r"REASON\s+OBJECT\s+MESSAGE)\s*$"
)
# `kubectl describe` writes keys as Title Case words: "Active Model State:  Loaded".
_DESCRIBE_LINE = re.compile(
    r"^(?P<indent>\s*)(?P<key>[A-Z][A-Za-z0-9]*(?: [A-Za-z0-9]+)*):"
    r"(?:\s+(?P<value>.*))?$"
)
_DESCRIBE_MARKERS = (
    "Model Status:",
    "Transition Status:",
    "Active Model State:",
    "Target Model State:",
    "Conditions:",
    "Last Failure Info:",
    "Latest Created Revision:",
    "Deployment Mode:",
    "Storage Uri:",
    "Last Transition Time:",
)


@dataclass
class Pasted:
    """What a user handed over, sorted by kind (all optional)."""

    inferenceservice: dict[str, Any] | None = None
    pods: list[dict[str, Any]] | None = None
    events: list[dict[str, Any]] | None = None
    logs: dict[str, str] = field(default_factory=dict)  # container (or pod/container) -> text
    kubectl: str = ""  # what kubectl or an SDK printed (e.g. a refusal on create)


def events_table(text: str) -> list[dict[str, Any]] | None:
    """Event rows as `kubectl describe` (Type Reason Age From Message) or `kubectl get events`
    (LAST SEEN TYPE REASON OBJECT MESSAGE) print them, with or without the header; a row's
    wrapped message continues on the next lines. None when `text` has no event row."""
    events: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip() or _EVENTS_HEADER.match(line) or set(line.strip()) <= {"-", " "}:
            continue
        columns = _COLUMNS.split(line.strip(), maxsplit=4)
        if columns[0] in _EVENT_TYPES and len(columns) >= 3:  # describe
            events.append(_event(columns[0], columns[1], columns[-1]))
        elif len(columns) >= 4 and columns[1] in _EVENT_TYPES:  # get events
            events.append(_event(columns[1], columns[2], columns[-1]))
        elif len(columns) >= 3 and _REASON.match(columns[0]) and not line.startswith(" "):
            events.append(_event("", columns[0], _COLUMNS.split(line.strip(), 3)[-1]))
        elif events:
            events[-1]["message"] += " " + line.strip()
    return events or None


def _event(kind: str, reason: str, message: str) -> dict[str, Any]:
    return {"type": kind, "reason": reason, "message": message}


def _looks_like_events(text: str) -> bool:
    for line in text.splitlines()[:20]:
        columns = _COLUMNS.split(line.strip(), maxsplit=3)
        if (
            _EVENTS_HEADER.match(line)
            or columns[0] in _EVENT_TYPES
            or (len(columns) == 4 and _REASON.match(columns[0]))
        ):
            return True
    return False


def read_text(text: str, into: Pasted, name: str = "input") -> None:
    """Sort what a pasted text holds: YAML objects (one, several, a List, or a fragment of an
    InferenceService's status), `kubectl describe` output, or event tables."""
    if _looks_like_events(text) and not any(m in text for m in _DESCRIBE_MARKERS):
        into.events = (into.events or []) + (events_table(text) or [])
        return
    if any(
        line.strip().startswith(_DESCRIBE_MARKERS) for line in text.splitlines()
    ) and _describe_style(text):
        _merge_isvc(into, read_describe(text))
        table = events_table(text.split("Events:", 1)[1]) if "Events:" in text else None
        if table:
            into.events = (into.events or []) + table
        return
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UnreadableInput(
            f"{name}: not YAML{where}, not `kubectl describe` output and not an events table"
        ) from None
    if not documents:
        raise UnreadableInput(f"{name}: empty")
    for document in documents:
        _sort(document, into, name)


def _describe_style(text: str) -> bool:
    """Title Case keys with spaces ("Model Status:") rather than YAML's camelCase."""
    return any(
        _DESCRIBE_LINE.match(line) and " " in line.split(":", 1)[0].strip()
        for line in text.splitlines()
    )


def _sort(obj: Any, into: Pasted, name: str) -> None:
    if not isinstance(obj, dict):
        raise UnreadableInput(f"{name}: a YAML {type(obj).__name__}, not a Kubernetes object")
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List"):
        for item in obj.get("items") or []:
            _sort(item, into, name)
    elif kind == "Pod":
        into.pods = (into.pods or []) + [obj]
    elif kind == "Event":
        into.events = (into.events or []) + [obj]
    elif kind in (None, "InferenceService"):
        found = isvc_fragment(obj)
        if not found:
            raise UnreadableInput(f"{name}: no InferenceService, pod, event or status in it")
        _merge_isvc(into, found)
    # Other kinds (Deployments, ReplicaSets, ...) carry nothing the diagnosis reads yet.


def _merge_isvc(into: Pasted, found: dict[str, Any]) -> None:
    current = into.inferenceservice or {}
    for part in ("metadata", "spec", "status"):
        if found.get(part):
            current[part] = {**(current.get(part) or {}), **found[part]}
    into.inferenceservice = current


_STATUS_PARTS = (
    "conditions",
    "components",
    "deploymentMode",
    "observedGeneration",
    "url",
    "address",
)
_MODEL_PARTS = ("states", "transitionStatus", "copies", "lastFailureInfo")


def isvc_fragment(obj: dict[str, Any]) -> dict[str, Any]:
    """An InferenceService from whatever part of one was pasted: the whole object, its status,
    a modelStatus, or only a lastFailureInfo at any depth. {} when none of it is there."""
    if obj.get("kind") == "InferenceService" or ("status" in obj and "spec" in obj):
        return {key: obj[key] for key in ("metadata", "spec", "status") if key in obj}
    status: dict[str, Any] = {}
    model: dict[str, Any] = {}
    found: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key in ("metadata", "spec") and isinstance(value, dict):
                found[key] = value
            elif key == "modelStatus" and isinstance(value, dict):
                model.update(value)
            elif key in _MODEL_PARTS:
                model[key] = value
            elif key in _STATUS_PARTS and (key != "conditions" or isinstance(value, list)):
                status[key] = value
            else:
                walk(value)

    walk(obj)
    if model:
        status["modelStatus"] = model
    if status:
        found["status"] = status
    return found


def _camel(key: str) -> str:
    words = key.split()
    if len(words) == 1 and words[0].isupper():
        return words[0].lower()  # URL
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _leave_failure(section: str) -> str:
    return "" if section == "Last Failure Info" else section


# Keys without a value that head a section of describe output: what each does to the section
# being read. Only two sections decide where their fields go; the model's states end the
# failure info, so a Reason or Message after them is not the failure's.
_HEADERS: dict[str, Callable[[str], str]] = {
    "Conditions": lambda section: "Conditions",
    "Last Failure Info": lambda section: "Last Failure Info",
    "States": _leave_failure,
    "Model Status": _leave_failure,
    **dict.fromkeys(
        (
            "Copies",
            "Components",
            "Predictor",
            "Spec",
            "Status",
            "Model",
            "Model Format",
            "Resources",
            "Limits",
            "Requests",
        ),
        lambda section: section,
    ),
}


@dataclass(frozen=True)
class _Field:
    """Describe keys that go into one part of the InferenceService."""

    keys: tuple[str, ...]
    part: str
    section: str | None = None  # only inside this section ("": outside any); None: anywhere
    once: bool = False  # only the first (a later Name is another object's)


# Where each field goes, the first that takes it; a field none takes is skipped.
_FIELDS = (
    # The two sections whose fields are grouped into one object each.
    _Field(
        ("Last Transition Time", "Message", "Reason", "Severity", "Status", "Type"),
        "condition",
        "Conditions",
    ),
    _Field(
        ("Exit Code", "Location", "Message", "Model Revision Name", "Reason", "Time"),
        "failure",
        "Last Failure Info",
    ),
    _Field(("Active Model State", "Target Model State"), "states"),
    _Field(("Transition Status",), "model"),
    _Field(("Latest Created Revision", "Latest Ready Revision"), "predictor"),
    _Field(("Deployment Mode", "Observed Generation", "URL", "Url"), "status"),
    _Field(("Storage Uri", "Runtime", "Protocol Version"), "spec_model"),
    _Field(("Name", "Namespace"), "metadata", "", once=True),
)
# How the parts nest, inner ones first: (part, the part it goes into, under which keys). A
# part is placed only when it holds something.
_NESTING = (
    ("failure", "model", ("lastFailureInfo",)),
    ("states", "model", ("states",)),
    ("model", "status", ("modelStatus",)),
    ("conditions", "status", ("conditions",)),
    ("predictor", "status", ("components", "predictor")),
    ("status", "isvc", ("status",)),
    ("spec_model", "isvc", ("spec", "predictor", "model")),
    ("metadata", "isvc", ("metadata",)),
)


class _Describe:
    """What read_describe gathers: the parts of the InferenceService, the section it is in,
    and the field a wrapped line continues."""

    def __init__(self) -> None:
        self.parts: dict[str, Any] = {
            part: {}
            for part in (
                "isvc",
                "status",
                "model",
                "states",
                "predictor",
                "spec_model",
                "metadata",
                "condition",
                "failure",
            )
        }
        self.parts["conditions"] = []
        self.section = ""
        self.last: tuple[dict[str, Any], str] | None = None

    def read(self, line: str) -> None:
        """One line: a wrapped value, a section header, or a field."""
        match = _DESCRIBE_LINE.match(line)
        if not match:
            if self.last is not None and line.strip():
                target, name = self.last
                target[name] = f"{target[name]} {line.strip()}".strip()
            return
        key, value = match["key"], (match["value"] or "").strip()
        if key == "Last Transition Time" and self.section != "Conditions":
            self.section = "Conditions"  # a condition pasted without its header
        if not value and key in _HEADERS:
            self.section = _HEADERS[key](self.section)
        else:
            self.field(key, value)

    def field(self, key: str, value: str) -> None:
        """Put a field where _FIELDS says; a condition ends with its Type."""
        name = _camel(key)
        part = next(
            (
                field.part
                for field in _FIELDS
                if key in field.keys
                and field.section in (None, self.section)
                and not (field.once and self.parts[field.part].get(name))
            ),
            None,
        )
        if part is None:
            self.last = None
            return
        target = self.parts[part]
        target[name] = value
        self.last = (target, name)
        if part == "condition" and key == "Type":
            self.parts["conditions"].append(target)
            self.parts["condition"], self.last = {}, None

    def inferenceservice(self) -> dict[str, Any]:
        """The parts, nested as an InferenceService's."""
        failure = self.parts["failure"]
        if "exitCode" in failure and str(failure["exitCode"]).isdigit():
            failure["exitCode"] = int(failure["exitCode"])
        for part, into, keys in _NESTING:
            if self.parts[part]:
                place = self.parts[into]
                for key in keys[:-1]:
                    place = place.setdefault(key, {})
                place[keys[-1]] = self.parts[part]
        isvc: dict[str, Any] = self.parts["isvc"]
        return isvc


def read_describe(text: str) -> dict[str, Any]:
    """`kubectl describe inferenceservice` output (or a part of it) as an InferenceService.

    Keys are read by name, not by indentation: pasted describe output often has it broken."""
    reader = _Describe()
    for line in text.split("\nEvents:", 1)[0].splitlines():
        reader.read(line)
    return reader.inferenceservice()


def evidence(pasted: Pasted) -> Evidence:
    """Evidence with every kind that was not given marked unread."""
    isvc = pasted.inferenceservice or {}
    found = Evidence(
        isvc=isvc,
        pods=pasted.pods or [],
        events=pasted.events or [],
        kubectl=pasted.kubectl,
        unread=set(UNREAD_KINDS),
    )
    for kind, given in (
        ("status", bool(isvc.get("status"))),
        ("pods", pasted.pods is not None),
        ("events", pasted.events is not None),
        ("logs", bool(pasted.logs)),
    ):
        if given:
            found.unread.discard(kind)
    pod = next(
        (p["metadata"]["name"] for p in found.pods if (p.get("metadata") or {}).get("name")), "pod"
    )
    for key, text in pasted.logs.items():
        found.logs[key if "/" in key else f"{pod}/{key}"] = text
    predictor = (isvc.get("spec") or {}).get("predictor") or {}
    found.service_account_name = predictor.get("serviceAccountName") or "default"
    return found


@dataclass(frozen=True)
class Diagnosis:
    """The offline answer: the verdict from the status (or "unknown"), the findings, and the
    evidence that was not given."""

    verdict: str
    statement: str
    findings: list[Finding]
    unknown: list[str]

    def as_dict(self) -> dict[str, Any]:
        """For `--json`."""
        return {
            "verdict": self.verdict,
            "statement": self.statement,
            "findings": [
                {"code": str(f.code), "cause": f.cause, "evidence": list(f.evidence), "fix": f.fix}
                for f in self.findings
            ],
            "unknown": self.unknown,
        }


def diagnose_pasted(pasted: Pasted) -> Diagnosis:
    """Diagnose what was pasted; what was not given stays unknown."""
    found = evidence(pasted)
    state = ModelState.from_isvc(found.isvc)
    running = running_pods(found.pods) if found.known("pods") else None
    if found.known("status"):
        verdict = snapshot_verdict(state, running)
        statement = capped(describe(state, running))  # state names are the cluster's text
        findings = diagnose(found)
        if verdict is Verdict.LOADED:
            # Nothing to explain, unless the logs contradict the status (a runtime that
            # reports ready without its model): then that is worth saying.
            findings = [f for f in findings if f.failure and f.code not in _NO_CAUSE]
        answer = verdict.value
    else:
        answer, statement = "unknown", "no InferenceService status was given"
        findings = diagnose(found)
    return Diagnosis(
        answer, statement, findings, [kind for kind in UNREAD_KINDS if not found.known(kind)]
    )
