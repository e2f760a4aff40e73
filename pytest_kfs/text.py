"""Text from a cluster or a pasted file is data: shown, never obeyed by the terminal (pure)."""

from __future__ import annotations

import unicodedata


def printable(text: str) -> str:
    """`text` with control and format characters (ANSI escapes, carriage returns, bidi
    overrides, newlines) written as escapes, so one line stays one line and nothing in it can
    move the cursor, recolour or reorder what a reader sees. Idempotent."""
    return "".join(
        char if char == "\t" or not unicodedata.category(char).startswith("C")
        else (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        for char in text)
