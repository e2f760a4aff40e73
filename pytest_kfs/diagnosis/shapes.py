"""The shape a pasted Kubernetes object must have before the diagnosis reads it (pure).

A field the rules read is checked for its type at the door, so `metadata: [1]` or a number for
a container's state is one line naming the field, not a crash deep in a rule. Fields nobody
reads are not checked; a field that is absent or null is missing data, not wrong.
"""

from __future__ import annotations

from typing import Any

from pytest_kfs.untrusted import kind_of

_MAPPING, _LIST, _TEXT = "a mapping", "a list", "a string"
_CONTAINERS = ("spec.containers.*", "spec.initContainers.*")
_STATUSES = ("status.containerStatuses.*", "status.initContainerStatuses.*")
# Dotted path (`*`: each item of a list) -> what it must be.
SHAPES: dict[str, str] = {
    "kind": _TEXT,
    "metadata": _MAPPING,
    "metadata.name": _TEXT,
    "metadata.namespace": _TEXT,
    "metadata.annotations": _MAPPING,
    "metadata.labels": _MAPPING,
    "metadata.ownerReferences": _LIST,
    "metadata.ownerReferences.*": _MAPPING,
    "spec": _MAPPING,
    "spec.serviceAccountName": _TEXT,
    "spec.predictor": _MAPPING,
    "spec.predictor.serviceAccountName": _TEXT,
    "spec.predictor.model": _MAPPING,
    "spec.predictor.model.storageUri": _TEXT,
    "spec.predictor.model.modelFormat": _MAPPING,
    "spec.containers": _LIST,
    "spec.initContainers": _LIST,
    "spec.volumes": _LIST,
    "spec.volumes.*": _MAPPING,
    **{container: _MAPPING for container in _CONTAINERS},
    **{f"{container}.{key}": _TEXT for container in _CONTAINERS for key in ("name", "image")},
    **{f"{container}.{key}": _LIST for container in _CONTAINERS for key in ("env", "args")},
    **{f"{container}.env.*": _MAPPING for container in _CONTAINERS},
    "status": _MAPPING,
    "status.conditions": _LIST,
    "status.conditions.*": _MAPPING,
    "status.modelStatus": _MAPPING,
    "status.components": _MAPPING,
    "status.phase": _TEXT,
    "status.reason": _TEXT,
    "status.message": _TEXT,
    "status.containerStatuses": _LIST,
    "status.initContainerStatuses": _LIST,
    **{status: _MAPPING for status in _STATUSES},
    **{f"{status}.name": _TEXT for status in _STATUSES},
    **{f"{status}.{state}": _MAPPING for status in _STATUSES for state in ("state", "lastState")},
    **{
        f"{status}.{state}.{phase}": _MAPPING
        for status in _STATUSES
        for state in ("state", "lastState")
        for phase in ("waiting", "terminated", "running")
    },
    **{
        f"{status}.{state}.{phase}.{key}": _TEXT
        for status in _STATUSES
        for state in ("state", "lastState")
        for phase in ("waiting", "terminated")
        for key in ("reason", "message")
    },
    "reason": _TEXT,
    "message": _TEXT,
    "type": _TEXT,
    "involvedObject": _MAPPING,
    "involvedObject.kind": _TEXT,
    "involvedObject.name": _TEXT,
}
_CHECKS = {
    _MAPPING: lambda value: isinstance(value, dict),
    _LIST: lambda value: isinstance(value, list),
    _TEXT: lambda value: isinstance(value, str),
}


def _values(node: Any, path: list[str], where: str) -> list[tuple[str, Any]]:
    """(dotted place, value) of each value at `path` under `node` (absent ones left out)."""
    if not path:
        return [(where, node)]
    head, rest = path[0], path[1:]
    if head == "*":
        items = node if isinstance(node, list) else []
        return [
            found
            for index, item in enumerate(items)
            for found in _values(item, rest, f"{where}[{index}]")
        ]
    if not isinstance(node, dict) or node.get(head) is None:
        return []
    return _values(node[head], rest, f"{where}.{head}" if where else head)


def shape_problem(obj: dict[str, Any]) -> str | None:
    """The first field the diagnosis reads that has the wrong type, as a phrase, or None. A
    condition's fields are checked too (type, status, reason, message: text)."""
    for path, expected in SHAPES.items():
        for where, value in _values(obj, path.split("."), ""):
            if not _CHECKS[expected](value):
                return f"{where} is {kind_of(value)}; expected {expected}"
    for where, condition in _values(obj, ["status", "conditions", "*"], ""):
        for key in ("type", "status", "reason", "message"):
            value = condition.get(key)
            if value is not None and not _CHECKS[_TEXT](value):
                return f"{where}.{key} is {kind_of(value)}; expected {_TEXT}"
    return None
