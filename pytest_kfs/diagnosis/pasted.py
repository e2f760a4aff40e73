"""Evidence from what a user pastes: `kubectl get ... -o yaml`, describe tables, log files (pure).

What is not given is unknown, never empty: an InferenceService without pods says nothing about
pods, so no finding may claim "no pods running".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from pytest_kfs.diagnosis.codes import Code
from pytest_kfs.diagnosis.evidence import UNREAD_KINDS, Evidence
from pytest_kfs.diagnosis.finding import Finding
from pytest_kfs.diagnosis.kube_semantics import event_problems, pod_problems
from pytest_kfs.diagnosis.rules import diagnose
from pytest_kfs.diagnosis.shapes import shape_problem
from pytest_kfs.diagnosis.sniff import (
    COLUMNS,
    DESCRIBE_LINE,
    EVENT_TYPES,
    EVENTS_HEADER,
    REASON,
    Kind,
    kinds,
    yaml_block,
)
from pytest_kfs.diagnosis.tables import read_table
from pytest_kfs.errors import InputRefused, UnreadableInput
from pytest_kfs.kserve.status import ModelState, Verdict, describe, running_pods, snapshot_verdict
from pytest_kfs.untrusted import capped, load_json, load_yaml, tail

_NO_CAUSE = (
    Code.NEEDS_EVIDENCE,
    Code.NOT_LOADED_YET,
    Code.UNEXPLAINED,
    Code.ROLLOUT_STUCK,
    Code.CLUSTER_API_UNAVAILABLE,
)
_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_CONDITION_KEYS = {"Type": "type", "Status": "status", "Reason": "reason", "Message": "message"}


# What one pasted input may hold (characters; a file is read up to as many bytes): a namespace's
# pods and events as YAML, a long log. Larger is refused, not read slowly.
PASTED_LIMIT = 4 * 1024 * 1024
# Of a log or a printed text, the rules read the end (where a failure is told): every line
# they read is matched against dozens of patterns, so the work grows with what is kept.
TEXT_TAIL = 128 * 1024


@dataclass
class Pasted:
    """What a user handed over, sorted by kind (all optional)."""

    inferenceservice: dict[str, Any] | None = None
    pods: list[dict[str, Any]] | None = None
    events: list[dict[str, Any]] | None = None
    logs: dict[str, str] = field(default_factory=dict)  # container (or pod/container) -> text
    # Text that is no object, by the input it came in: what kubectl or an SDK printed
    # ("kubectl"), a controller's log, an error line pasted where events were asked for.
    texts: dict[str, str] = field(default_factory=dict)


def events_table(text: str) -> list[dict[str, Any]] | None:
    """Event rows as `kubectl describe` (Type Reason Age From Message) or `kubectl get events`
    (LAST SEEN TYPE REASON OBJECT MESSAGE) print them, with or without the header; a row's
    wrapped message continues on the next lines. None when `text` has no event row."""
    events: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip() or EVENTS_HEADER.match(line) or set(line.strip()) <= {"-", " "}:
            continue
        columns = COLUMNS.split(line.strip(), maxsplit=4)
        if columns[0] in EVENT_TYPES and len(columns) >= 3:  # describe
            events.append(_event(columns[0], columns[1], columns[-1]))
        elif len(columns) >= 4 and columns[1] in EVENT_TYPES:  # get events
            events.append(_event(columns[1], columns[2], columns[-1]))
        elif len(columns) >= 3 and REASON.match(columns[0]) and not line.startswith(" "):
            events.append(_event("", columns[0], COLUMNS.split(line.strip(), 3)[-1]))
        elif events:
            events[-1]["message"] += " " + line.strip()
    return events or None


def _event(kind: str, reason: str, message: str) -> dict[str, Any]:
    return {"type": kind, "reason": reason, "message": message}


def read_text(text: str, into: Pasted, name: str = "input") -> None:
    """Sort what a pasted text holds by what its content is (sniff.py), whatever input it
    came in: YAML or JSON objects (one, several, a List, a fragment of an InferenceService's
    status), `kubectl get` tables, `kubectl describe` output or its fields, event tables, or
    logs and error text. Refused only when it is none of them, or when it is over
    PASTED_LIMIT characters, holds a YAML alias or nests deeper than DEPTH_LIMIT (untrusted.py):
    those are refused at once, before any reader spends time or memory on them."""
    if len(text) > PASTED_LIMIT:
        raise UnreadableInput(
            f"{name}: {len(text)} characters; expected at most {PASTED_LIMIT} (paste the part "
            "around the failure)"
        )
    refusal: UnreadableInput | None = None
    for kind in kinds(text):
        try:
            if _READERS[kind](text, into, name):
                return
        except InputRefused as error:
            raise UnreadableInput(str(error)) from None
        except UnreadableInput as error:
            refusal = refusal or error
    raise refusal or UnreadableInput(f"{name}: nothing in it the diagnosis reads")


def _read_table(text: str, into: Pasted, name: str) -> bool:
    for obj in read_table(text):
        _sort(obj, into, name)
    return True


def _read_events(text: str, into: Pasted, name: str) -> bool:
    into.events = (into.events or []) + (events_table(text) or [])
    return True


def _read_describe(text: str, into: Pasted, name: str) -> bool:
    _merge_isvc(into, read_describe(text))
    table = events_table(text.split("Events:", 1)[1]) if "Events:" in text else None
    if table:
        into.events = (into.events or []) + table
    return True


def _read_objects(text: str, into: Pasted, name: str) -> bool:
    try:
        documents = [doc for doc in load_yaml(text, name) if doc is not None]
    except yaml.YAMLError as error:
        block = yaml_block(text)
        if block is not None:  # a line of prose above the YAML
            return _read_objects(block, into, name)
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UnreadableInput(
            f"{name}: not YAML{where}, not `kubectl describe` output and not an events table"
        ) from None
    if not documents:
        raise UnreadableInput(f"{name}: empty")
    for document in documents:
        _sort(document, into, name)
    return True


def _read_fields(text: str, into: Pasted, name: str) -> bool:
    """Describe fields pasted alone; a lone Message (or Reason) is a condition's."""
    found = read_describe(text)
    if not found.get("status"):
        condition: dict[str, str] = {}
        for line in text.splitlines():
            match = DESCRIBE_LINE.match(line)
            if match and match["key"] in _CONDITION_KEYS:
                condition[_CONDITION_KEYS[match["key"]]] = (match["value"] or "").strip()
        if not condition.get("message") and not condition.get("reason"):
            return False
        found["status"] = {"conditions": [condition]}
    _merge_isvc(into, found)
    return True


def _read_lines(text: str, into: Pasted, name: str) -> bool:
    into.texts[name] = tail(text, TEXT_TAIL)
    return True


_READERS: dict[Kind, Callable[[str, Pasted, str], bool]] = {
    Kind.TABLE: _read_table,
    Kind.EVENTS: _read_events,
    Kind.DESCRIBE: _read_describe,
    Kind.OBJECTS: _read_objects,
    Kind.FIELDS: _read_fields,
    Kind.TEXT: _read_lines,
}


def _sort(obj: Any, into: Pasted, name: str) -> None:
    if not isinstance(obj, dict):
        raise UnreadableInput(f"{name}: a YAML {type(obj).__name__}, not a Kubernetes object")
    problem = shape_problem(obj)
    if problem:
        raise UnreadableInput(f"{name}: {problem}")
    kind = obj.get("kind")
    # A List; also cut above its `kind: List` line, as a pasted top of one often is.
    if (isinstance(kind, str) and kind.endswith("List")) or (
        kind is None and isinstance(obj.get("items"), list)
    ):
        for item in obj.get("items") or []:
            _sort(item, into, name)
    elif kind == "Pod":
        into.pods = (into.pods or []) + [obj]
    elif kind == "Event":
        into.events = (into.events or []) + [obj]
    elif kind in (None, "InferenceService"):
        found = isvc_fragment(obj)
        if "spec" not in found and (applied := _applied(obj)):
            found["spec"] = applied["spec"]
            metadata = applied.get("metadata") or {}
            found["metadata"] = {
                **{key: metadata[key] for key in ("name", "namespace") if key in metadata},
                **(found.get("metadata") or {}),
            }
        if not found:
            raise UnreadableInput(f"{name}: no InferenceService, pod, event or status in it")
        problem = shape_problem(found)  # a fragment's parts, gathered from any depth
        if problem:
            raise UnreadableInput(f"{name}: {problem}")
        _merge_isvc(into, found)
    # Other kinds (Deployments, ReplicaSets, ...) carry nothing the diagnosis reads yet.


def _applied(obj: dict[str, Any]) -> dict[str, Any] | None:
    """What `kubectl apply` recorded in its annotation (with a spec), for an object pasted
    without its spec: what the user applied."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    try:
        text = annotations.get(_APPLIED)
        applied = load_json(text, _APPLIED) if isinstance(text, str) else None
    except ValueError:
        return None
    if isinstance(applied, dict) and isinstance(applied.get("spec"), dict):
        return applied
    return None


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
        match = DESCRIBE_LINE.match(line)
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
    if not isvc.get("status") and (row := _isvc_row(pasted.texts)):
        isvc = {**row, **isvc, "status": row["status"]}
    found = Evidence(
        isvc=isvc,
        pods=pasted.pods if pasted.pods is not None else _pod_rows(pasted.texts),
        events=pasted.events or [],
        texts=dict(pasted.texts),
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


def _pod_rows(texts: dict[str, str]) -> list[dict[str, Any]]:
    """`kubectl get pods` rows quoted among other text: the states they show (a crash loop,
    a pull that fails) count, though pods stay unread (a row is not the pod)."""
    return [obj for text in texts.values() for obj in read_table(text) if obj["kind"] == "Pod"]


def _isvc_row(texts: dict[str, str]) -> dict[str, Any] | None:
    """A `kubectl get inferenceservice` row quoted among other text (a transcript of several
    commands): its URL and Ready condition are the status the user saw."""
    for text in texts.values():
        for obj in read_table(text):
            status = obj.get("status") or {}
            if (
                obj.get("kind") == "InferenceService"
                and str(status.get("url", "")).startswith(("http://", "https://"))
                and status.get("conditions")
            ):
                return obj
    return None


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
        if verdict is Verdict.WAITING and (
            pod_problems(found.pods) or event_problems(found.events)
        ):
            verdict = Verdict.FAILED  # a pod that cannot start settles it, as the wait does
        elif verdict is Verdict.WAITING and not state.reported and state.ready == "True":
            # No modelStatus (KFServing before KServe 0.7, or a `kubectl get` row): Ready
            # True is all the status says, and it says the model serves.
            verdict = Verdict.LOADED
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
