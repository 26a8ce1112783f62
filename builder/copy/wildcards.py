"""Go ``filepath.Match`` and the wildcard helpers of fsutil's copy (``splitWildcards``).

``*`` and ``?`` never match ``/``; ``[...]`` classes (``^`` negates, ``\\`` escapes)
may. A malformed pattern matches nothing, as BuildKit ignores ``ErrBadPattern``.
"""
from __future__ import annotations

import re
from functools import lru_cache


def contains_wildcards(text: str) -> bool:
    """Whether ``text`` has an unescaped ``*``, ``?`` or ``[``."""
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char in "*?[":
            return True
        index += 1
    return False


def split_wildcards(path: str) -> tuple[str, str]:
    """(the components before the first wildcard one, the rest), each joined with ``/``."""
    parts = path.split("/")
    for index, part in enumerate(parts):
        if contains_wildcards(part):
            head = "/".join(parts[:index]) or ("/" if path.startswith("/") else "")
            return head, "/".join(part for part in parts[index:] if part)
    return path, ""


def go_match(pattern: str, name: str) -> bool:
    """``filepath.Match(pattern, name)`` with errors counted as no match."""
    compiled = _compile(pattern)
    return compiled is not None and compiled.fullmatch(name) is not None


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str] | None:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            if index + 1 >= len(pattern):
                return None
            index += 1
            out.append(re.escape(pattern[index]))
        elif char == "[":
            parsed = _character_class(pattern, index + 1)
            if parsed is None:
                return None
            text, index = parsed
            out.append(text)
            continue
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out), re.DOTALL)


def _character_class(pattern: str, index: int) -> tuple[str, int] | None:
    """The regex for a class starting after ``[`` and the index after its ``]``."""
    negated = index < len(pattern) and pattern[index] == "^"
    if negated:
        index += 1
    ranges: list[str] = []
    while True:
        if index < len(pattern) and pattern[index] == "]" and ranges:
            index += 1
            break
        low = _class_char(pattern, index)
        if low is None:
            return None
        low_char, index = low
        high_char = low_char
        if index < len(pattern) and pattern[index] == "-":
            high = _class_char(pattern, index + 1)
            if high is None:
                return None
            high_char, index = high
        # Go accepts a reversed range and simply never matches it.
        ranges.append(f"{re.escape(low_char)}-{re.escape(high_char)}" if low_char <= high_char else "(?!)")
    body = "".join(item for item in ranges if item != "(?!)")
    if not body:
        return ("." if negated else "(?!)"), index
    return (f"[^{body}]" if negated else f"[{body}]"), index


def _class_char(pattern: str, index: int) -> tuple[str, int] | None:
    """Go's ``getEsc``: one (possibly escaped) class character; ``-``/``]`` unescaped are errors."""
    if index >= len(pattern) or pattern[index] in "-]":
        return None
    if pattern[index] == "\\":
        index += 1
        if index >= len(pattern):
            return None
    return pattern[index], index + 1
