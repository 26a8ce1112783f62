"""How instruction-level problems become ``DockerfileSyntaxError``.

Helpers deep in flag, mount or chmod parsing do not know the file they are
reading, so they raise ``InstructionError`` with BuildKit's bare message; the
caller that holds the instruction's span turns it into a located error.
"""
from __future__ import annotations

from collections.abc import Sequence

from grammar.ast import Span
from grammar.errors import DockerfileSyntaxError, GrammarError


class InstructionError(GrammarError):
    """An instruction is invalid; the message is BuildKit's, without location."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def located(message: str, span: Span, path: str, source_lines: Sequence[str]) -> DockerfileSyntaxError:
    """A ``DockerfileSyntaxError`` that marks the whole instruction at ``span``."""
    return DockerfileSyntaxError(
        message,
        path=path,
        line=span.line,
        column=span.column,
        end_line=span.end_line,
        source_lines=source_lines,
    )
