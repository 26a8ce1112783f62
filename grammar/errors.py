"""Errors raised by the grammar package.

Every user-facing error carries the Dockerfile path and a 1-based line so the
CLI can print ``FILE:LINE: message`` followed by a BuildKit-style snippet.
"""
from __future__ import annotations

from collections.abc import Sequence

SNIPPET_RULE = "-" * 20


class GrammarError(Exception):
    """Root of every error raised by ``grammar``."""


class DockerfileSyntaxError(GrammarError):
    """The Dockerfile text (or an instruction in it) is malformed.

    ``end_line`` lets a multi-line instruction be marked as a whole, the way
    BuildKit marks every line of the failing instruction with ``>>>``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str = "Dockerfile",
        line: int = 0,
        column: int = 0,
        end_line: int | None = None,
        source_lines: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.end_line = end_line if end_line is not None else line
        self.source_lines = tuple(source_lines)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"

    def snippet(self) -> str:
        """The lines around the error, as BuildKit prints them."""
        return render_snippet(self.path, self.source_lines, self.line, self.end_line)


class ExpansionError(GrammarError):
    """A word could not be expanded (bad ``${...}`` syntax or ``${X:?msg}``)."""


class IgnorePatternError(GrammarError):
    """A ``.dockerignore`` / ``--exclude`` pattern is not valid."""


def render_snippet(path: str, lines: Sequence[str], start: int, end: int, context: int = 2) -> str:
    """Render ``lines[start..end]`` (1-based, inclusive) with ``>>>`` marks and some context."""
    if not lines or start < 1:
        return ""
    end = max(min(end, len(lines)), start)
    first = max(1, start - context)
    last = min(len(lines), end + context)
    width = len(str(last))
    out = [f"{path}:{start}" if start == end else f"{path}:{start}-{end}", SNIPPET_RULE]
    for number in range(first, last + 1):
        mark = ">>>" if start <= number <= end else "   "
        out.append(f" {number:>{width}} | {mark} {lines[number - 1]}".rstrip())
    out.append(SNIPPET_RULE)
    return "\n".join(out)
