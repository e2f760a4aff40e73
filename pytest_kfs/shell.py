"""Commands printed for a person to paste into a shell (pure).

Their values come from a cluster or from pasted text, which anyone who can write an
InferenceService controls (`storageUri` is free text), so a value never becomes shell syntax:
each is quoted with `shlex.quote`, a value missing from the evidence is a `<placeholder>` (an
input redirection from a file that does not exist, so the command cannot run by accident), and
a value that no Kubernetes or Google API would accept leaves its command out, with one line
saying why. Every printed command is a `Command` constant, so a test can render each with
hostile values and check its arguments.
"""

from __future__ import annotations

import re
import shlex
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from pytest_kfs.untrusted import capped, printable

# DNS-1123 label and subdomain, as the API server validates namespaces and object names.
_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_SUBDOMAIN = re.compile(
    r"(?=.{1,253}$)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
)
# Cloud Storage bucket names: 3-63 characters (222 with dots), lower case, digits, - _ .
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_EMAIL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}@[A-Za-z0-9][A-Za-z0-9.-]{0,199}")
_PROJECT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]|(?:[a-z0-9.-]{1,63}:)?[a-z][a-z0-9-]{4,28}")


@dataclass(frozen=True)
class _Kind:
    what: str
    pattern: re.Pattern[str]
    who: str


_NAME = _Kind("name", _SUBDOMAIN, "Kubernetes")
# A field's name says what it holds; fields not listed here are quoted and not judged.
FIELD_KINDS: dict[str, _Kind] = {
    "namespace": _Kind("namespace", _LABEL, "Kubernetes"),
    "name": _NAME,
    "pod": _NAME,
    "account": _Kind("service account name", _SUBDOMAIN, "Kubernetes"),
    "secret": _Kind("secret name", _SUBDOMAIN, "Kubernetes"),
    "bucket": _Kind("bucket name", _BUCKET, "Cloud Storage"),
    "gsa": _Kind("service account e-mail", _EMAIL, "Google"),
    "project": _Kind("project ID", _PROJECT, "Google"),
}


class _Refused(Exception):
    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


@dataclass(frozen=True)
class Command:
    """A command line (optionally ` # comment` prose after it) with `{field}` values."""

    template: str

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of its values, in order, once each."""
        names = (name for _, name, _, _ in string.Formatter().parse(self.template) if name)
        return tuple(dict.fromkeys(names))

    def render(self, **values: str | None) -> str:
        """The command with each value quoted; a missing value as `<field>`; one line saying
        why, in its place, when a value cannot be what its field holds."""
        unknown = set(values) - set(self.fields)
        if unknown:
            raise TypeError(f"{sorted(unknown)} are not fields of {self.template!r}")
        try:
            return self.template.format(
                **{name: _word(name, values.get(name)) for name in self.fields}
            )
        except _Refused as refused:
            return refused.line

    def render_from(self, values: Mapping[str, str | None]) -> str:
        """`render` with the fields it has, taken from `values` (missing: placeholders)."""
        return self.render(**{name: values.get(name) for name in self.fields})


def _word(field: str, value: str | None) -> str:
    if not value:
        return f"<{field}>"
    if any(unicodedata.category(char).startswith("C") for char in value):
        # A newline would end a comment, or the command, and start one of the value's own.
        raise _Refused(f"(no command: {_inert(value)} holds control characters)")
    kind = FIELD_KINDS.get(field)
    if kind is not None and not kind.pattern.fullmatch(value):
        raise _Refused(f"(no command: {_inert(value)} is not a {kind.what} {kind.who} accepts)")
    return shlex.quote(value)


def _inert(value: str) -> str:
    """A refused value as the line that says why shows it: escaped, bounded, then quoted, so
    even that line, pasted, runs nothing of it."""
    return shlex.quote(printable(capped(value, 80)))
