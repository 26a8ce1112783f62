"""Go's text primitives, where Python's differ in ways BuildKit users could notice.

``str.isspace`` also accepts the ASCII separators U+001C..U+001F, which Go's
``unicode.IsSpace`` does not, and ``repr`` does not quote like ``strconv.Quote``.
"""
from __future__ import annotations

# Go's unicode.IsSpace for Latin-1; above that both languages follow White_Space.
_LATIN1_SPACES = frozenset(" \t\n\v\f\r\x85\xa0")
# Go's strconv.ParseBool: its words and their values; any other word is its syntax error.
GO_BOOLS: dict[str, bool] = {**dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
                             **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False)}
_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def is_space(ch: str) -> bool:
    """Go ``unicode.IsSpace`` for one character."""
    if ch <= "\xff":
        return ch in _LATIN1_SPACES
    return ch.isspace()


def is_name_char(ch: str) -> bool:
    """Go ``unicode.IsLetter(ch) || unicode.IsDigit(ch) || ch == '_'`` (L* and Nd, narrower than isalnum)."""
    return ch == "_" or ch.isalpha() or ch.isdecimal()


def trim_space(text: str) -> str:
    """Go ``strings.TrimSpace``."""
    start, end = 0, len(text)
    while start < end and is_space(text[start]):
        start += 1
    while end > start and is_space(text[end - 1]):
        end -= 1
    return text[start:end]


def quote(text: str) -> str:
    """Go ``strconv.Quote`` (``%q``), as used in BuildKit error messages."""
    out = ['"']
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ch < " " or ch == "\x7f":
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)
