"""One report from several runs: a nightly per cluster (a CI matrix over contexts), read as one.

Each run writes its `--kfs-report`; merging them gives every model the cluster it runs in, and
the summaries group the failures per cluster, cause, principal and bucket.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_kfs.errors import UnreadableReport
from pytest_kfs.reports.terminal import REPORT_SCHEMA, REPORT_VERSION


def read_report(path: Path) -> dict[str, Any]:
    """A --kfs-report document, checked to be one."""
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise UnreadableReport(f"{path}: {error.strerror or error}") from None
    except ValueError as error:
        raise UnreadableReport(f"{path}: not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("schema") != REPORT_SCHEMA:
        raise UnreadableReport(f"{path}: not a pytest-kfs report (schema {REPORT_SCHEMA})")
    if document.get("version") != REPORT_VERSION:
        raise UnreadableReport(
            f"{path}: report version {document.get('version')!r}; this "
            f"pytest-kfs reads version {REPORT_VERSION}"
        )
    if not isinstance(document.get("models"), list):
        raise UnreadableReport(f"{path}: no list of models")
    for index, record in enumerate(document["models"], 1):
        lacking = sorted(_RECORD_KEYS - set(record)) if isinstance(record, dict) else ["all"]
        if lacking:
            raise UnreadableReport(
                f"{path}: model {index} is not a model record (lacks {', '.join(lacking)})"
            )
    return document


# What the summaries read of each model record (report.model_record writes them all).
_RECORD_KEYS = {"test", "namespace", "name", "verdict", "loaded", "findings", "timeline"}


def merge(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The reports as one document; each model carries its run's cluster context."""
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
        "cluster": {"contexts": list(dict.fromkeys(contexts))},
        "models": models,
    }
