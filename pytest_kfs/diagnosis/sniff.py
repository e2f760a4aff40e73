"""What kind of text was pasted, told by its content, not by the file or slot it came in
(pure): the readers to try, most specific first."""

from __future__ import annotations

import re
from enum import StrEnum

from pytest_kfs.diagnosis.error_shapes import looks_like_error_text
from pytest_kfs.diagnosis.tables import is_header, read_table

EVENT_TYPES = ("Normal", "Warning")
COLUMNS = re.compile(r"\s{2,}")
REASON = re.compile(r"^[A-Z][A-Za-z]+$")
EVENTS_HEADER = re.compile(
    r"^\s*(?:Type\s+Reason\s+Age\s+From\s+Message|LAST SEEN\s+TYPE\s+"
    r"REASON\s+OBJECT\s+MESSAGE)\s*$"
)
# `kubectl describe` writes keys as Title Case words: "Active Model State:  Loaded".
DESCRIBE_LINE = re.compile(
    r"^(?P<indent>\s*)(?P<key>[A-Z][A-Za-z0-9]*(?: [A-Za-z0-9]+)*):"
    r"(?:\s+(?P<value>.*))?$"
)
DESCRIBE_MARKERS = (
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
# Where a YAML document may start after a line of prose.
_YAML_START = re.compile(r"^(?:apiVersion|kind|metadata|spec|status|items|modelStatus):|^[{\[]")


class Kind(StrEnum):
    """The kinds of pasted text the diagnosis reads."""

    TABLE = "a `kubectl get` table"
    EVENTS = "an events table"
    DESCRIBE = "`kubectl describe` output"
    OBJECTS = "YAML or JSON objects"
    FIELDS = "`kubectl describe` fields"
    TEXT = "logs or error text"


def kinds(text: str) -> list[Kind]:
    """The kinds `text` may be, most specific first (objects always: YAML's own error is the
    answer when nothing reads it)."""
    found = []
    if read_table(text):
        found.append(Kind.TABLE)
    if looks_like_events(text) and not any(m in text for m in DESCRIBE_MARKERS):
        found.append(Kind.EVENTS)
    if any(
        line.strip().startswith(DESCRIBE_MARKERS) for line in text.splitlines()
    ) and describe_style(text):
        found.append(Kind.DESCRIBE)
    found.append(Kind.OBJECTS)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if DESCRIBE_LINE.match(first) and not first.startswith(" "):
        found.append(Kind.FIELDS)
    if looks_like_error_text(text):
        found.append(Kind.TEXT)
    return found


def looks_like_events(text: str) -> bool:
    """Event rows: a header, a Normal/Warning type column, or a Reason first."""
    for line in text.splitlines()[:20]:
        if is_header(line) and not EVENTS_HEADER.match(line):
            return False  # another `kubectl get` table
        columns = COLUMNS.split(line.strip(), maxsplit=3)
        if (
            EVENTS_HEADER.match(line)
            or columns[0] in EVENT_TYPES
            or (len(columns) == 4 and REASON.match(columns[0]))
        ):
            return True
    return False


def describe_style(text: str) -> bool:
    """Title Case keys with spaces ("Model Status:") rather than YAML's camelCase."""
    return any(
        DESCRIBE_LINE.match(line) and " " in line.split(":", 1)[0].strip()
        for line in text.splitlines()
    )


def yaml_block(text: str) -> str | None:
    """The YAML after a line of prose pasted above it (None when there is no such line)."""
    lines = text.splitlines()
    for i, line in enumerate(lines[1:6], start=1):
        if _YAML_START.match(line):
            return "\n".join(lines[i:])
    return None
