"""Text from a cluster or a pasted file is data: shown, never obeyed (pure).

One layer per output: `printable` for terminals (and anything line-based), `markdown` and
`markdown_code` for the GitHub step summary; HTML and JUnit escape with their own libraries.
`capped` bounds every string from a cluster before it reaches a report.
"""

from __future__ import annotations

import re
import unicodedata

# A failure message, an event, a log line quoted in a report: long enough to read, never a
# megabyte (a hostile or runaway message otherwise fills every report).
TEXT_LIMIT = 2000
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")
_BACKTICKS = re.compile(r"`+")


def printable(text: str) -> str:
    """`text` with control and format characters (ANSI escapes, carriage returns, bidi
    overrides, newlines) written as escapes, so one line stays one line and nothing in it can
    move the cursor, recolour or reorder what a reader sees. Idempotent."""
    return "".join(
        char
        if char == "\t" or not unicodedata.category(char).startswith("C")
        else (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        for char in text
    )


def capped(text: str, limit: int = TEXT_LIMIT) -> str:
    """At most `limit` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


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
