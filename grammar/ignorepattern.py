"""One ``.dockerignore`` pattern, compiled the way moby/patternmatcher does it.

A pattern is first checked with Go ``filepath.Match`` syntax rules, then
translated (like upstream's ``Pattern.compile``) into an exact, prefix or
suffix string test, or into a Go (RE2) regexp. That regexp is then turned into
an equivalent Python one: RE2 and Python agree on everything the translation
emits, except escapes and POSIX classes that a user may sneak in through
``\\x`` and ``[...]``, which are mapped here. The few RE2 features Python
cannot express (``\\pL``, ``\\Q..\\E``, ``\\C``, negated POSIX classes) are
rejected with ``IgnorePatternError`` instead of silently matching differently.
"""
from __future__ import annotations

import re
import warnings
from typing import Literal

from grammar.errors import IgnorePatternError
from grammar.records import record

MatchType = Literal["exact", "prefix", "suffix", "regexp"]

BAD_PATTERN = "syntax error in pattern"  # Go's filepath.ErrBadPattern text
_REGEX_LITERALS = frozenset(".+()|{}$")  # upstream escapes exactly these (not ^)
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_OCTAL = "01234567"


@record
class IgnorePattern:
    """A cleaned pattern (without its ``!``) and how to test a path against it."""

    text: str
    exclusion: bool
    match_type: MatchType
    regex: re.Pattern[str] | None

    @classmethod
    def compile(cls, text: str, *, exclusion: bool) -> IgnorePattern:
        check_glob_syntax(text)
        match_type, go_source = translate(text)
        regex = python_regex(go_source) if match_type == "regexp" else None
        return cls(text, exclusion, match_type, regex)

    def matches(self, path: str) -> bool:
        """Whether ``path`` itself (slash-separated, context-relative) matches."""
        if self.match_type == "exact":
            return path == self.text
        if self.match_type == "prefix":
            return path.startswith(self.text[:-2])
        if self.match_type == "suffix":
            suffix = self.text[2:]
            # "**/foo" also matches "foo" at the root.
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        assert self.regex is not None
        return self.regex.match(path) is not None


def check_glob_syntax(pattern: str) -> None:
    """Raise ``IgnorePatternError`` where Go ``filepath.Match`` reports ErrBadPattern (unix rules)."""
    i, end = 0, len(pattern)
    while i < end:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= end:
                raise IgnorePatternError(BAD_PATTERN)
            i += 2
        elif ch == "[":
            i = _skip_class(pattern, i + 1)
        else:
            i += 1


def _skip_class(pattern: str, i: int) -> int:
    """Validate a ``[...]`` body starting at ``i``; return the index after ``]``."""
    if pattern.startswith("^", i):
        i += 1
    ranges = 0
    while True:
        if ranges and pattern.startswith("]", i):
            return i + 1
        i = _skip_class_char(pattern, i)
        if pattern[i] == "-":
            i = _skip_class_char(pattern, i + 1)
        ranges += 1


def _skip_class_char(pattern: str, i: int) -> int:
    # Go getEsc: an unescaped '-' or ']' cannot start a range, and the class must go on.
    end = len(pattern)
    if i >= end or pattern[i] in "-]":
        raise IgnorePatternError(BAD_PATTERN)
    if pattern[i] == "\\":
        i += 1
        if i >= end:
            raise IgnorePatternError(BAD_PATTERN)
    i += 1
    if i >= end:
        raise IgnorePatternError(BAD_PATTERN)
    return i


def translate(pattern: str, separator: str = "/") -> tuple[MatchType, str]:
    """Upstream ``Pattern.compile``: the match type, and the Go regexp source for "regexp"."""
    sep = "\\\\" if separator == "\\" else separator
    out = ["^"]
    kind: MatchType = "exact"
    i = 1 if pattern.startswith("\ufeff") else 0  # Go's text/scanner skips a BOM
    end = len(pattern)
    first = True
    while i < end:
        ch = pattern[i]
        i += 1
        if ch == "*" and i < end and pattern[i] == "*":
            i += 1
            if i < end and pattern[i] == separator:
                i += 1  # "**/" behaves as "**"
            if i < end:
                out.append(f"(.*{sep})?")  # any number of whole directories, even none
                kind = "regexp"
            elif kind == "exact":
                kind = "prefix"
            else:
                out.append(".*")
                kind = "regexp"
            if first:
                kind = "suffix"
        elif ch == "*":
            out.append(f"[^{sep}]*")
            kind = "regexp"
        elif ch == "?":
            out.append(f"[^{sep}]")
            kind = "regexp"
        elif ch in _REGEX_LITERALS:
            out.append("\\" + ch)
        elif ch == "\\":
            if separator == "\\":
                out.append(sep)  # Windows: a backslash is the separator, never an escape
            elif i < end:
                out.append("\\" + pattern[i])
                i += 1
                kind = "regexp"
            else:
                out.append("\\")  # unreachable after check_glob_syntax; kept as upstream
        elif ch == "[" or ch == "]":
            out.append(ch)
            kind = "regexp"
        else:
            out.append(ch)
        first = False
    if kind != "regexp":
        return kind, ""
    out.append("$")
    return kind, "".join(out)


def python_regex(go_source: str) -> re.Pattern[str]:
    """Compile a regexp made by ``translate`` with RE2's meaning."""
    assert go_source.endswith("$")
    body = _convert_re2(go_source[:-1])
    try:
        with warnings.catch_warnings():
            # Python warns about future set syntax ("[[", "--") that RE2 reads literally.
            warnings.simplefilter("ignore", FutureWarning)
            return re.compile(body + r"\Z", re.ASCII)
    except re.error as err:
        raise IgnorePatternError(f"{BAD_PATTERN}: {err}") from None


def _convert_re2(source: str) -> str:
    out: list[str] = []
    i, end = 0, len(source)
    in_class = False
    class_body_start = 0
    while i < end:
        ch = source[i]
        if ch == "\\":
            escape, i = _convert_escape(source, i + 1, in_class)
            out.append(escape)
            continue
        i += 1
        if not in_class:
            if ch == "[":
                in_class = True
                if source.startswith("^", i):
                    out.append("[^")
                    i += 1
                else:
                    out.append("[")
                class_body_start = i
                continue
        elif ch == "]" and i - 1 > class_body_start:
            in_class = False
        elif ch == "[" and source.startswith(":", i):
            named, i = _convert_posix_class(source, i + 1)
            out.append(named)
            continue
        elif ch in "[&|~":
            ch = "\\" + ch  # literal in RE2; Python would read set operations
        out.append(ch)
    return "".join(out)


def _convert_posix_class(source: str, i: int) -> tuple[str, int]:
    close = source.find(":]", i)
    name = source[i:close] if close >= 0 else ""
    if name.startswith("^"):
        raise IgnorePatternError(f"{BAD_PATTERN}: negated POSIX class [:{name}:] is not supported")
    if name not in _POSIX_CLASSES:
        raise IgnorePatternError(f"{BAD_PATTERN}: invalid character class range")
    return _POSIX_CLASSES[name], close + 2


def _convert_escape(source: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the RE2 escape whose letter is at ``i``; return it and the next index."""
    if i >= len(source):
        raise IgnorePatternError(f"{BAD_PATTERN}: trailing backslash")
    ch = source[i]
    if ch < "\x80" and not ch.isalnum():
        return "\\" + ch, i + 1  # escaped punctuation is literal in both
    if ch in "dDsSwWaftnrv" or (not in_class and ch in "bBA"):
        return "\\" + ch, i + 1
    if ch == "z" and not in_class:
        return "\\Z", i + 1
    if ch == "x":
        return _convert_hex(source, i + 1)
    if ch in _OCTAL:
        digits = ch
        while len(digits) < 3 and i + len(digits) < len(source) and source[i + len(digits)] in _OCTAL:
            digits += source[i + len(digits)]
        if ch != "0" and len(digits) == 1:
            raise IgnorePatternError(f"{BAD_PATTERN}: invalid escape sequence \\{ch}")  # a backreference
        return f"\\U{int(digits, 8):08x}", i + len(digits)
    if ch in "pPQEC":
        raise IgnorePatternError(f"{BAD_PATTERN}: \\{ch} is not supported")
    raise IgnorePatternError(f"{BAD_PATTERN}: invalid escape sequence \\{ch}")


def _convert_hex(source: str, i: int) -> tuple[str, int]:
    """RE2 ``\\xHH`` or ``\\x{H...}`` as a Python ``\\U`` escape."""
    if source.startswith("{", i):
        close = source.find("}", i)
        digits, after = (source[i + 1 : close], close + 1) if close > i else ("", i)
    else:
        digits, after = source[i : i + 2], i + 2
        if len(digits) != 2:
            digits = ""
    try:
        value = int(digits, 16) if digits.isalnum() and digits.isascii() else -1
    except ValueError:
        value = -1
    if not 0 <= value <= 0x10FFFF:
        raise IgnorePatternError(f"{BAD_PATTERN}: invalid escape sequence \\x")
    return f"\\U{value:08x}", after
