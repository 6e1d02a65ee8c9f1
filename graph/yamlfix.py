"""Repairs for model yaml pasted from a web page, applied only when PyYAML rejects the text as is.

What blogs do to yaml (seen in the seed articles): the `backbone:` / `head:` flow lists lose their
indentation and arrive at column 0 (PyYAML then reads `[[-1, 1, ...` as a key and fails); non-
breaking spaces stand in for spaces; quotes turn typographic. Each repair that was needed is
reported, so the page can tell the user what was changed.
"""
from __future__ import annotations

import re

_KEY_ONLY = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(#.*)?$")   # `backbone:` with its value below
_ANY_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                         "\u00a0": " ", "\u3000": " ", "\t": "  "})


def _indent_flow_lists(lines: list[str]) -> tuple[list[str], list[str]]:
    out, fixed, key = [], [], None
    for line in lines:
        m = _KEY_ONLY.match(line)
        if m:
            key = m.group(1)
        elif _ANY_KEY.match(line):
            key = None
        elif key and line[:1] in "[]":
            line = "  " + line
            if key not in fixed:
                fixed.append(key)
        out.append(line)
    return out, fixed


def repair(text: str) -> tuple[str, list[str]]:
    """Return the repaired text and one note per kind of repair made (empty if none was needed)."""
    notes = []
    cleaned = text.translate(_QUOTES)
    if cleaned != text:
        notes.append("replaced typographic quotes, tabs or non-breaking spaces")
    lines, fixed = _indent_flow_lists(cleaned.splitlines())
    if fixed:
        notes.append(f"indented the {' / '.join(fixed)} list{'s' if len(fixed) > 1 else ''} "
                     f"pasted at column 0")
    return "\n".join(lines) + "\n", notes
