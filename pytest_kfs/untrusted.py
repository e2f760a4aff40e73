"""Text from a cluster or a pasted file is data: shown, never obeyed (pure).

One layer per output: `printable` for terminals (and anything line-based), `markdown` and
`markdown_code` for the GitHub step summary; HTML and JUnit escape with their own libraries.
`capped` bounds every string from a cluster before it reaches a report. `redacted` takes
secrets out (a URL's user and password, tokens, private keys, signatures): `capped` and
`printable` apply it, so every report line, evidence and printed error is free of them.

Reading untrusted input is bounded at the door, before any parser sees it: `read_limited`
reads a regular file up to a stated size (never /dev/zero, a FIFO or a directory), `text_of`
refuses binary bytes, `load_json` checks the nesting depth before `json.loads` recurses, and
`load_yaml` refuses aliases (a billion-laughs bomb) and caps the depth. Each refusal is one
`InputRefused` line that names the input, the field and what was expected.
"""

from __future__ import annotations

import json
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pytest_kfs.errors import InputRefused, SettingsError

# A failure message, an event, a log line quoted in a report: long enough to read, never a
# megabyte (a hostile or runaway message otherwise fills every report).
TEXT_LIMIT = 2000
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")
_BACKTICKS = re.compile(r"`+")


# What a secret is replaced with: one plain word, so a redacted value needs no more quoting
# in a shell command, Markdown or HTML than the value did.
REDACTED = "REDACTED"
# Each pattern starts with a literal (`://`, `-----BEGIN`, a field name, `eyJ`, `ya29.`), so a
# search costs a few steps per character and a match runs to the end of one value at most:
# linear in the text, whatever it holds.
_SECRETS = (
    # A URL's userinfo: https://user:password@host, https://token@host.
    (re.compile(r"(?<=://)[^/\s?#@\"'<>]+@"), f"{REDACTED}@"),
    # A PEM private key, whole or cut short (its base64 holds no '-').
    (
        re.compile(r"-----BEGIN[A-Z ]*PRIVATE KEY-----[^-]*(?:-----END[A-Z ]*PRIVATE KEY-----)?"),
        f"-----BEGIN PRIVATE KEY-----{REDACTED}-----END PRIVATE KEY-----",
    ),
    # An Authorization header's value, and a long bearer token anywhere.
    (
        re.compile(
            r"(?i)(?<![a-z0-9])(authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token)\s+)?)"
            r"[^\s\"',;}]+"
        ),
        rf"\g<1>{REDACTED}",
    ),
    (re.compile(r"(?i)(?<![a-z0-9])(bearer\s+)[\w.~+/=-]{12,}"), rf"\g<1>{REDACTED}"),
    # A credential field of a key file, a config, an environment or a query string:
    # `"private_key": "..."`, `password: ...`, `MINIO_ROOT_PASSWORD=...`, `?sig=...`.
    (
        re.compile(
            r"(?i)(?<![a-z0-9])("
            r"[\"']?(?:private[_-]?key(?:[_-]?id)?|client[_-]?secret|refresh[_-]?token"
            r"|access[_-]?token|id[_-]?token|auth[_-]?token|session[_-]?token|password|passwd"
            r"|(?:aws[_-]?)?secret[_-]?access[_-]?key|secret[_-]?key|api[_-]?key"
            r"|security[_-]?token)[\"']?\s*[:=]\s*"
            r"|(?:token|sig|signature|x-goog-signature|x-amz-signature)="
            r")"
            r"(\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'|[^\s\"'&,;}\]]+)"
        ),
        None,
    ),
    # Tokens and keys without a field name: JSON web tokens (a service account's), Google
    # OAuth access tokens and API keys.
    (re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"), REDACTED),
    (re.compile(r"\bya29\.[\w.-]+"), REDACTED),
    (re.compile(r"\bAIza[\w-]{30,}"), REDACTED),
)


def _field(match: re.Match[str]) -> str:
    value = match.group(2)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group(1)}{quote}{REDACTED}{quote}"


def redacted(text: str) -> str:
    """`text` with its secrets replaced by REDACTED: a URL's user and password, bearer tokens
    and JSON web tokens, PEM private keys, credential fields (`private_key`, `password`,
    `AWS_SECRET_ACCESS_KEY`, `client_secret`, ...) and signed-URL parameters (`sig=`,
    `X-Goog-Signature=`, `access_token=`). Linear in `text`; idempotent."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(_field if replacement is None else replacement, text)
    return text


def printable(text: str) -> str:
    """`text`, `redacted`, with control and format characters (ANSI escapes, carriage
    returns, bidi overrides, newlines) written as escapes, so one line stays one line and
    nothing in it can move the cursor, recolour or reorder what a reader sees. Idempotent."""
    return "".join(
        char
        if char == "\t" or not unicodedata.category(char).startswith("C")
        else (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        for char in redacted(text)
    )


# How far past a cut `capped` still redacts: a secret that starts before the cut is found
# whole when it ends within this many characters (a megabyte log line costs no more).
_REDACT_MARGIN = 4096


def capped(text: str, limit: int = TEXT_LIMIT) -> str:
    """At most `limit` characters of `text`, `redacted` first (a cut cannot leave half a
    secret), saying how many were left out."""
    head = redacted(text[: limit + _REDACT_MARGIN])
    more = len(head) - limit + max(0, len(text) - limit - _REDACT_MARGIN)
    if more <= 0:
        return head
    return f"{head[:limit]}… ({more} more characters)"


def tail(text: str, limit: int) -> str:
    """The end of a log or printed text, at most about `limit` characters from a line start,
    saying how much was left out (a failure is told at the end of its log)."""
    if len(text) <= limit:
        return text
    start = len(text) - limit
    newline = text.find("\n", start)
    start = newline + 1 if 0 <= newline < len(text) - 1 else start
    return f"… ({start} earlier characters left out)\n{text[start:]}"


def markdown(text: str) -> str:
    """Plain Markdown text: no link, image, HTML tag, emphasis or table cell can start in it."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", printable(capped(text)))


def markdown_code(text: str) -> str:
    """A code span that `text` cannot close early, safe inside a table cell too."""
    body = printable(capped(text)).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(body)), default=0) + 1)
    return f"{fence} {body} {fence}"


def shown(text: str, limit: int = TEXT_LIMIT) -> str:
    """Cluster text as a report line may show it: bounded, and escaped (`capped`, then
    `printable`). Use it on anything a check quotes from a cluster or from Google."""
    return printable(capped(text, limit))


# Nesting deeper than this is no Kubernetes object, report or key file: refused before a
# recursive parser (json, PyYAML's composer) or walker can reach Python's recursion limit.
DEPTH_LIMIT = 100
MIB = 1024 * 1024


@dataclass
class Meter:
    """What a bounded read cost: bytes read from disk, YAML nodes composed (for tests and
    benchmarks: the bounds are sizes, not times)."""

    bytes_read: int = 0
    nodes: int = 0


_KINDS = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
    bytes: "binary data",
}


def kind_of(value: object) -> str:
    """What a parsed value is, in a message's words: `a list`, `a number`, `null`."""
    if value is None:
        return "null"
    return _KINDS.get(type(value), f"a {type(value).__name__}")


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit >= MIB and limit % MIB == 0 else f"{limit} bytes"


def expanded(path: str, where: str) -> Path:
    """`path` with a leading `~` or `~user` expanded; SettingsError (one line) when there is no
    such user or no home directory, or the path holds a NUL byte."""
    if "\x00" in path:
        raise SettingsError(f"{where}: the path holds a NUL byte; expected a file name")
    try:
        return Path(path).expanduser()
    except RuntimeError:
        raise SettingsError(f"{where}: cannot expand ~ (no such user, or no home)") from None


def read_limited(path: Path, limit: int, where: str, meter: Meter | None = None) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them: at most `limit` + 1
    bytes are read. A special file (/dev/zero, a FIFO, a directory, a socket) is refused
    without reading (the open cannot block on a FIFO), and so is a larger file. OSError (the
    caller's to word) when it cannot be opened or read."""
    if "\x00" in str(path):  # os.open would raise ValueError
        raise InputRefused(f"{where}: the path holds a NUL byte; expected a file name")
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a special file (device, FIFO, socket)"
            raise InputRefused(f"{where}: is {kind}; expected a regular file")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(descriptor, min(left, MIB))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
            if meter is not None:
                meter.bytes_read += len(chunk)
    finally:
        os.close(descriptor)
    data = b"".join(chunks)
    if len(data) > limit:
        raise InputRefused(f"{where}: is larger than {_size(limit)}; expected at most that")
    return data


def text_of(data: bytes, where: str) -> str:
    """`data` as UTF-8 text; binary bytes (a NUL, or no UTF-8) are refused."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputRefused(
            f"{where}: byte {error.start} is not UTF-8; expected a text file"
        ) from None
    if "\x00" in text:
        raise InputRefused(
            f"{where}: byte {text.index(chr(0))} is NUL (binary data); expected a text file"
        )
    return text


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth(text: str) -> int:
    """The deepest nesting of `[` and `{` outside JSON strings (linear, no recursion)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    depth = deepest = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def load_json(text: str, where: str, depth_limit: int = DEPTH_LIMIT) -> Any:
    """`json.loads(text)` once its nesting is known to be at most `depth_limit`; ValueError
    (json's own) when it is not JSON."""
    if json_depth(text) > depth_limit:
        raise InputRefused(
            f"{where}: nested deeper than {depth_limit} levels; expected at most {depth_limit}"
        )
    return json.loads(text)


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (`*name`, `<<: *name`) and nesting deeper than its
    limit, counting the nodes it composes."""

    depth_limit = DEPTH_LIMIT
    where = "input"

    def __init__(self, stream: str, meter: Meter) -> None:
        super().__init__(stream)
        self.meter = meter
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            line = event.start_mark.line + 1 if event.start_mark else 0
            raise InputRefused(
                f"{self.where}: line {line}: a YAML alias (*{event.anchor}); expected "
                "plain YAML without aliases"
            )
        self.meter.nodes += 1
        self.depth += 1
        try:
            if self.depth > self.depth_limit:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise InputRefused(
                    f"{self.where}: line {mark.line + 1 if mark else 0}: nested deeper than "
                    f"{self.depth_limit} levels; expected at most {self.depth_limit}"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_yaml(
    text: str, where: str, depth_limit: int = DEPTH_LIMIT, meter: Meter | None = None
) -> list[Any]:
    """Every document in `text` (safe types only), with aliases refused and the depth capped:
    InputRefused for those, yaml.YAMLError (PyYAML's own) when it is not YAML."""
    loader = _BoundedLoader(text, meter if meter is not None else Meter())
    loader.where, loader.depth_limit = where, depth_limit
    try:
        documents = []
        while loader.check_data():  # type: ignore[no-untyped-call]
            documents.append(loader.get_data())
        return documents
    finally:
        loader.dispose()
