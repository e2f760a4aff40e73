"""`kubectl get` tables as the objects they summarise: InferenceServices and pods (pure).

A row says less than the object: an InferenceService row gives its Ready condition and URL,
a pod row its phase and the one container state kubectl shows (STATUS). Rows pasted without
their header are told by their cells (a URL then True/False; READY as 1/2 then STATUS).
Tables of other kinds (routes, revisions, Knative services) are not objects the diagnosis
reads: they stay text, whose reasons the later layers read.
"""

from __future__ import annotations

import re
from typing import Any

_HEADER_WORD = re.compile(r"[A-Z][A-Z0-9-]*")
_COLUMNS = re.compile(r"\s{2,}")
_POD_READY = re.compile(r"^\d+/\d+$")
_READY = ("True", "False", "Unknown")
_RESOURCE = re.compile(r"^(?P<resource>[a-z][\w-]*)(?:\.[\w.-]+)?/(?P<name>\S+)$")
_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "ContainerCreating",
        "PodInitializing",
    }
)
_TERMINATED = frozenset({"OOMKilled", "Error", "Completed", "ContainerCannotRun", "StartError"})


def is_header(line: str) -> bool:
    """A `kubectl get` header: upper-case column names, NAME among them."""
    words = _COLUMNS.split(line.strip())
    return (
        len(words) >= 2
        and "NAME" in " ".join(words).split()
        and all(all(_HEADER_WORD.fullmatch(w) for w in word.split()) for word in words)
    )


def read_table(text: str) -> list[dict[str, Any]]:
    """The InferenceServices and pods of the tables (or header-less rows) in `text`; [] when
    none is there."""
    objects: list[dict[str, Any]] = []
    header: list[tuple[str, int]] | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("$"):
            continue
        if is_header(line):
            header = [(m.group(0), m.start()) for m in re.finditer(r"\S+(?: \S+)*", line)]
            continue
        cells = _cells(line, header)
        found = _pod(cells) if _is_pod(cells) else _isvc(cells) if _is_isvc(cells) else None
        if found is not None:
            objects.append(found)
    return objects


def _cells(line: str, header: list[tuple[str, int]] | None) -> dict[str, str]:
    """The row's cells by column name; without a header, by shape."""
    if header is None:
        return _shaped(_COLUMNS.split(line.strip()))
    split = _COLUMNS.split(line.strip())
    if len(split) == len(header):
        return {name: cell for (name, _), cell in zip(header, split, strict=True)}
    # Empty cells: kubectl aligns every cell under its column's name.
    starts = [start for _, start in header] + [len(line)]
    return {name: line[starts[i] : starts[i + 1]].strip() for i, (name, _) in enumerate(header)}


def _shaped(cells: list[str]) -> dict[str, str]:
    """A header-less row's cells named by what they look like."""
    for i, cell in enumerate(cells):
        if _POD_READY.match(cell) and i + 1 < len(cells) and i >= 1:
            named = {"NAME": cells[i - 1], "READY": cell, "STATUS": cells[i + 1]}
            if i >= 2:
                named["NAMESPACE"] = cells[i - 2]
            if i + 2 < len(cells):
                named["RESTARTS"] = cells[i + 2]
            return named
        if cell.startswith(("http://", "https://")) and i >= 1:
            named = {"NAME": cells[i - 1], "URL": cell}
            if i + 1 < len(cells) and cells[i + 1] in _READY:
                named["READY"] = cells[i + 1]
            if i >= 2:
                named["NAMESPACE"] = cells[i - 2]
            return named
    return {}


def _kind(cells: dict[str, str]) -> str:
    found = _RESOURCE.match(cells.get("NAME", ""))
    return found["resource"] if found else ""


def _is_pod(cells: dict[str, str]) -> bool:
    return (
        _kind(cells) in ("", "pod")
        and "STATUS" in cells
        and bool(_POD_READY.match(cells.get("READY", "")))
    )


def _is_isvc(cells: dict[str, str]) -> bool:
    # `kubectl get isvc` has PREV/LATEST (Serverless) or only URL and READY; Knative's
    # routes and services carry a REASON column instead.
    return (
        _kind(cells) in ("", "inferenceservice")
        and bool(cells.get("NAME"))
        and "URL" in cells
        and "REASON" not in cells
    )


def _name(cells: dict[str, str]) -> dict[str, str]:
    name = cells["NAME"]
    found = _RESOURCE.match(name)
    metadata = {"name": found["name"] if found else name}
    if cells.get("NAMESPACE"):
        metadata["namespace"] = cells["NAMESPACE"]
    return metadata


def _isvc(cells: dict[str, str]) -> dict[str, Any]:
    isvc: dict[str, Any] = {"kind": "InferenceService", "metadata": _name(cells)}
    status: dict[str, Any] = {}
    if cells.get("URL"):
        status["url"] = cells["URL"]
    if cells.get("READY") in _READY:
        status["conditions"] = [{"type": "Ready", "status": cells["READY"]}]
    if status:
        isvc["status"] = status
    return isvc


def _pod(cells: dict[str, str]) -> dict[str, Any]:
    """STATUS is the pod's phase, or the reason of the first container (Init:... for an init
    container) that is not running."""
    metadata: dict[str, Any] = _name(cells)
    status: dict[str, Any] = {"phase": "Pending"}
    shown = cells["STATUS"]
    init = shown.startswith("Init:")
    reason = shown.removeprefix("Init:")
    restarts = (cells.get("RESTARTS") or "0").split()[0]
    container: dict[str, Any] = {
        "name": "",
        "restartCount": int(restarts) if restarts.isdigit() else 0,
    }
    if reason in _WAITING:
        container["state"] = {"waiting": {"reason": reason}}
    elif reason in _TERMINATED:
        container["state"] = {"terminated": {"reason": reason}}
    elif shown == "Evicted":
        status.update(phase="Failed", reason="Evicted")
    elif shown == "Terminating":
        metadata["deletionTimestamp"] = "(Terminating)"
    elif shown in ("Running", "Pending", "Succeeded", "Failed", "Unknown"):
        status["phase"] = shown
    if "state" in container:
        status["initContainerStatuses" if init else "containerStatuses"] = [container]
    return {"kind": "Pod", "metadata": metadata, "status": status}
