"""Heredoc markers (``<<EOF``, ``<<-EOF``, ``3<<"EOF"``) and their bodies.

Which instructions may carry heredocs, and where a body ends, is decided by
the file layer (``grammar.filelex``). This module answers the word-level
questions: is this word a marker, what is its name, is the body expanded?
"""
from __future__ import annotations

import re

from grammar.errors import GrammarError
from grammar.records import record
from grammar.regexes import compile_regex
from grammar.shellscan import ShellLexError, shell_words

HEREDOC_KEYWORDS = frozenset({"run", "copy", "add"})
# Go's \d and \s are ASCII-only.
_MARKER = compile_regex(r"([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)", re.DOTALL)
_LEADING_TABS = compile_regex(r"^\t+", re.MULTILINE)
_MAX_FD = 2**64 - 1  # strconv.ParseUint saturates on overflow


class HeredocWordError(GrammarError):
    """A marker whose name cannot be lexed (for example ``<<'EOF``)."""


@record
class HeredocMarker:
    name: str
    expand: bool
    chomp: bool
    file_descriptor: int


def parse_heredoc(word: str) -> HeredocMarker | None:
    """The marker in ``word``, None if it is not one; HeredocWordError if malformed."""
    match = _MARKER.fullmatch(word)
    if match is None or not match.group(3):
        return None
    rest = match.group(3)
    try:
        words = shell_words(rest, raw_quotes=False, raw_escapes=False)
        if len(words) != 1:
            return None
        raw_words = shell_words(rest, raw_quotes=True, raw_escapes=False)
    except ShellLexError as error:
        raise HeredocWordError(str(error)) from None
    if len(raw_words) != 1:
        raise HeredocWordError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    # Quotes that vanish when quotes are processed mean part of the name was quoted.
    expand = _quote_count(words[0]) == _quote_count(raw_words[0])
    return HeredocMarker(words[0], expand, match.group(2) == "-", _file_descriptor(match.group(1)))


def heredocs_from_line(line: str) -> list[HeredocMarker]:
    """Every marker in an instruction line, in order (quoted ``"<<EOF"`` is not one)."""
    try:
        words = shell_words(line, raw_quotes=True, raw_escapes=True)
    except ShellLexError:
        return []  # BuildKit ignores a line it cannot lex: no heredocs
    markers = (parse_heredoc(word) for word in words)
    return [marker for marker in markers if marker is not None]


def chomp_heredoc_content(content: str) -> str:
    """``<<-``: strip leading tabs (only tabs) from every line of the body."""
    return _LEADING_TABS.sub("", content)


def is_terminator(raw_line: str, marker: HeredocMarker) -> bool:
    line = raw_line.rstrip("\r\n")
    if marker.chomp:
        line = line.lstrip("\t")
    return line == marker.name


def _quote_count(word: str) -> int:
    return word.count("'") + word.count('"')


def _file_descriptor(digits: str) -> int:
    return min(int(digits), _MAX_FD) if digits else 0
