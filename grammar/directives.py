"""Parser directives (``# escape=``, ``# syntax=``, ``# check=``) at the top of a file.

Two readers exist in BuildKit and both are mirrored here:

* the parser's own, which sees each top-level line left-trimmed and decides
  the escape token (``directive_block`` with ``left_trim=True``);
* ``DetectSyntax`` / ``ParseDirective``, used by the frontend to pick the
  syntax image and lint options. They skip a ``#!`` shebang line, and syntax
  may also be written ``//syntax=`` or as a JSON object.

The block ends at the first line that is not a known ``key=value`` comment.
"""
from __future__ import annotations

import json

from grammar.errors import GrammarError
from grammar.linesplit import BOM, go_trim_left, trim_newline
from grammar.records import record
from grammar.regexes import compile_regex

KNOWN_KEYS = frozenset({"syntax", "check", "escape"})
# Go's RE2 ``\s`` is ASCII [\t\n\f\r ], narrower than Python's.
_DIRECTIVE = compile_regex(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*")
ESCAPE_TOKENS = ("\\", "`")


class DirectiveError(GrammarError):
    """A repeated directive or a bad escape token, with its 1-based line."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@record
class Directive:
    name: str  # lower-cased key
    value: str
    line: int  # 1-based


@record
class DirectiveMatch:
    """What ``DetectSyntax`` returns: the ref is the value up to its first space."""

    ref: str
    cmdline: str
    line: int


def directive_block(lines: list[str], *, comment: str = "#", left_trim: bool = False,
                    first_line: int = 1, strict: bool = True) -> list[Directive]:
    """Directives at the top of ``lines``.

    A repeated key raises DirectiveError, or (``strict=False``, as in
    ``DetectSyntax``) ends the block with what was found before it.
    """
    found: list[Directive] = []
    for number, raw in enumerate(lines, start=first_line):
        text = trim_newline(raw)
        text = go_trim_left(text) if left_trim else text
        directive = _parse_line(text, comment, number)
        if directive is None:
            break
        if any(seen.name == directive.name for seen in found):
            if not strict:
                break
            raise DirectiveError(f"only one {directive.name} parser directive can be used", number)
        found.append(directive)
    return found


def _parse_line(text: str, comment: str, number: int) -> Directive | None:
    if not text.startswith(comment):
        return None
    match = _DIRECTIVE.fullmatch(go_trim_left(text[len(comment):]))
    if match is None or match.group(1).lower() not in KNOWN_KEYS:
        return None
    return Directive(match.group(1).lower(), match.group(2), number)


def escape_token(lines: list[str]) -> str:
    """The escape token the parser will use (default ``\\``)."""
    for directive in directive_block(lines, left_trim=True):
        if directive.name == "escape":
            if directive.value not in ESCAPE_TOKENS:
                message = f"invalid escape token '{directive.value}' does not match ` or \\"
                raise DirectiveError(message, directive.line)
            return directive.value
    return "\\"


def detect_syntax(text: str) -> DirectiveMatch | None:
    """``# syntax=``, ``//syntax=`` or ``{"syntax": ...}``, as the frontend detects it."""
    return _find_directive("syntax", text, any_format=True)


def parse_directive(key: str, text: str) -> DirectiveMatch | None:
    """A ``# key=`` directive only (used for ``check``)."""
    return _find_directive(key, text, any_format=False)


def _find_directive(key: str, text: str, *, any_format: bool) -> DirectiveMatch | None:
    text = text.removeprefix(BOM)
    offset = 0
    first, _, rest = text.partition("\n")
    if first.startswith("#!"):
        text, offset = rest, 1
    comments = ("#", "//") if any_format else ("#",)
    lines = text.split("\n")
    for comment in comments:
        found = directive_block(lines, comment=comment, first_line=offset + 1, strict=False)
        for directive in found:
            if directive.name == key:
                ref = directive.value.split(" ", 1)[0]
                return DirectiveMatch(ref, directive.value, directive.line)
    return _json_directive(key, text, offset) if any_format else None


def _json_directive(key: str, text: str, offset: int) -> DirectiveMatch | None:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    value = document.get(key) if isinstance(document, dict) else None
    return DirectiveMatch(value, value, offset + 1) if isinstance(value, str) else None
