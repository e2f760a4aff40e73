"""One report from several runs: a nightly per cluster (a CI matrix over contexts), read as one.

Each run writes its `--kfs-report`; merging them gives every model the cluster it runs in, and
the summaries group the failures per cluster, cause, principal and bucket.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_kfs.errors import InputRefused, UnreadableReport
from pytest_kfs.reports.terminal import REPORT_SCHEMA, REPORT_VERSION
from pytest_kfs.untrusted import (
    capped,
    kind_of,
    load_json,
    read_limited,
    redacted,
    text_of,
)

# A report is read at most this far (a nightly over thousands of models stays well under it).
REPORT_LIMIT = 64 * 1024 * 1024

_TEXT, _FLAG, _NUMBER, _LIST = "a string", "true or false", "a number", "a list"
_CHECKS: dict[str, Callable[[object], bool]] = {
    _TEXT: lambda value: isinstance(value, str),
    _FLAG: lambda value: isinstance(value, bool),
    _NUMBER: lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    _LIST: lambda value: isinstance(value, list),
}
# Each field the summaries read: (what it must be, whether it may be absent or null).
_RECORD: dict[str, tuple[str, bool]] = {
    "test": (_TEXT, False),
    "namespace": (_TEXT, False),
    "name": (_TEXT, False),
    "verdict": (_TEXT, False),
    "loaded": (_FLAG, False),
    "findings": (_LIST, False),
    "timeline": (_LIST, False),
    "seconds": (_NUMBER, True),
    "timed_out": (_FLAG, True),
    "state": (_TEXT, True),
    "storage_uri": (_TEXT, True),
    "principal": (_TEXT, True),
    "cluster": (_TEXT, True),
}
_FINDING: dict[str, tuple[str, bool]] = {
    "code": (_TEXT, False),
    "cause": (_TEXT, False),
    "evidence": (_LIST, False),
    "fix": (_TEXT, False),
    "principal": (_TEXT, True),
    "bucket": (_TEXT, True),
    "permission": (_TEXT, True),
    "failure": (_FLAG, True),
}
_ENTRY: dict[str, tuple[str, bool]] = {
    "at": (_NUMBER, False),
    "source": (_TEXT, False),
    "text": (_TEXT, False),
    "target": (_TEXT, True),
}
# What the summaries read of each model record (report.model_record writes them all).
_RECORD_KEYS = {key for key, (_, optional) in _RECORD.items() if not optional}


def _problem(value: object, schema: dict[str, tuple[str, bool]], where: str) -> str | None:
    """The first field of `value` (a mapping) that is not what `schema` says, as a phrase."""
    if not isinstance(value, dict):
        return f"{where} is {kind_of(value)}; expected a mapping"
    for key, (expected, optional) in schema.items():
        field = value.get(key)
        if (optional and field is None) or _CHECKS[expected](field):
            continue
        return f"{where}.{key} is {kind_of(field)}; expected {expected}"
    return None


def _record_problem(record: dict[str, Any], where: str) -> str | None:
    problem = _problem(record, _RECORD, where)
    for index, finding in enumerate(record["findings"] if problem is None else []):
        problem = problem or _problem(finding, _FINDING, f"{where}.findings[{index}]")
        evidence = finding.get("evidence") if isinstance(finding, dict) else None
        if not problem and not all(isinstance(item, str) for item in evidence or []):
            problem = f"{where}.findings[{index}].evidence holds a non-string; expected strings"
    for index, entry in enumerate(record["timeline"] if problem is None else []):
        problem = problem or _problem(entry, _ENTRY, f"{where}.timeline[{index}]")
    return problem


def read_report(path: Path) -> dict[str, Any]:
    """A --kfs-report document, checked to be one: at most REPORT_LIMIT bytes of UTF-8 JSON,
    nested at most DEPTH_LIMIT deep, each field the summaries read of the type they need."""
    try:
        where = str(path)
        document = load_json(text_of(read_limited(path, REPORT_LIMIT, where), where), where)
    except OSError as error:
        raise UnreadableReport(f"{path}: {error.strerror or error}") from None
    except InputRefused as error:
        raise UnreadableReport(str(error)) from None
    except ValueError as error:
        raise UnreadableReport(f"{path}: not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("schema") != REPORT_SCHEMA:
        raise UnreadableReport(f"{path}: not a pytest-kfs report (schema {REPORT_SCHEMA})")
    if document.get("version") != REPORT_VERSION:
        raise UnreadableReport(
            f"{path}: report version {capped(repr(document.get('version')), 40)}; this "
            f"pytest-kfs reads version {REPORT_VERSION}"
        )
    if not isinstance(document.get("models"), list):
        raise UnreadableReport(f"{path}: no list of models")
    cluster = document.get("cluster")
    if cluster is not None and not isinstance(cluster, dict):
        raise UnreadableReport(f"{path}: cluster is {kind_of(cluster)}; expected a mapping")
    context = cluster.get("context") if cluster else None
    if context is not None and not isinstance(context, str):
        raise UnreadableReport(f"{path}: cluster.context is {kind_of(context)}; expected a string")
    for index, record in enumerate(document["models"], 1):
        lacking = sorted(_RECORD_KEYS - set(record)) if isinstance(record, dict) else ["all"]
        if lacking:
            raise UnreadableReport(
                f"{path}: model {index} is not a model record (lacks {', '.join(lacking)})"
            )
        problem = _record_problem(record, f"model {index}")
        if problem:
            raise UnreadableReport(f"{path}: {problem}")
    return document


def _redacted_all(value: Any) -> Any:
    """`value` with every string in it `redacted` (a report is at most DEPTH_LIMIT deep)."""
    if isinstance(value, str):
        return redacted(value)
    if isinstance(value, list):
        return [_redacted_all(item) for item in value]
    if isinstance(value, dict):
        return {key: _redacted_all(item) for key, item in value.items()}
    return value


def merge(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The reports as one document; each model carries its run's cluster context. Every
    string is redacted: a report an older pytest-kfs wrote, or a hand-edited one, may hold a
    secret, and the merged one holds none."""
    models: list[dict[str, Any]] = []
    contexts: list[str] = []
    for document in documents:
        context = str((document.get("cluster") or {}).get("context") or "unknown cluster")
        contexts.append(context)
        models += [
            {**record, "cluster": record.get("cluster") or context} for record in document["models"]
        ]
    return {
        "schema": REPORT_SCHEMA,
        "version": REPORT_VERSION,
        "run_id": ",".join(dict.fromkeys(str(d.get("run_id") or "") for d in documents)),
        "cluster": {"contexts": [redacted(context) for context in dict.fromkeys(contexts)]},
        "models": _redacted_all(models),
    }


def _same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file: the same path once resolved, or a hard link."""
    if first.resolve() == second.resolve():
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist yet: not the same file
        return False


def output_problem(inputs: list[Path], outputs: list[tuple[str, Path]]) -> str | None:
    """Why writing `outputs` ((option, path)) would lose data or fail halfway, or None: an
    output that is an input or another output, or whose directory does not exist."""
    for index, (option, path) in enumerate(outputs):
        for report in inputs:
            if _same_file(path, report):
                return f"{option} {path} is the input report {report}; it would be overwritten"
        for other_option, other in outputs[:index]:
            if _same_file(path, other):
                return f"{option} {path} is also {other_option}: name two different files"
    for option, path in outputs:
        if not path.parent.is_dir():
            return f"{path}: directory {path.parent} does not exist ({option})"
    return None


def write_all(outputs: list[tuple[Path, str]]) -> None:
    """Each text to its path, all or none as far as a file system allows: every text goes to a
    temporary file beside its path first, and only once all are written are they renamed into
    place. OSError (nothing of the outputs replaced) when one cannot be written."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in outputs:
            descriptor, temporary = tempfile.mkstemp(
                dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
            )
            staged.append((temporary, path))
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(text)
        for temporary, path in staged:
            os.replace(temporary, path)
    finally:
        for temporary, _ in staged:
            if os.path.exists(temporary):
                os.unlink(temporary)
