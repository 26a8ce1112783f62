"""What every instruction parser gets: the node, its span and its checked flags.

``Request`` mirrors BuildKit's ``parseRequest``: the raw node plus helpers to
parse the flags an instruction accepts and to shape exec/shell arguments.
"""
from __future__ import annotations

from collections.abc import Sequence

from grammar.ast import Command, ExecForm, InlineFile, ShellForm, Span
from grammar.failures import InstructionError
from grammar.flags import FlagSpecs, ParsedFlags, flag_specs, locate_flags, parse_flags
from grammar.nodes import Node
from grammar.records import record


@record
class Request:
    node: Node
    span: Span
    source_lines: tuple[str, ...]
    labs: bool = False

    @property
    def args(self) -> tuple[str, ...]:
        return self.node.args

    @property
    def source(self) -> str:
        return self.node.original

    def flags(self, specs: FlagSpecs | None = None) -> ParsedFlags:
        """Check the node's flags against ``specs`` (default: the keyword's own)."""
        allowed = flag_specs(self.node.keyword, labs=self.labs) if specs is None else specs
        spans = locate_flags(self.node.flags, self.node.start_line, self.node.end_line, self.source_lines)
        return parse_flags(self.node.flags, spans, allowed)

    def no_flags(self) -> ParsedFlags:
        """For instructions that accept none: any flag is ``unknown flag``."""
        return self.flags({})

    def inline_files(self) -> tuple[InlineFile, ...]:
        """Heredoc bodies as RUN sees them: raw, with the chomp flag kept for later."""
        return tuple(
            InlineFile(doc.name, doc.content, doc.expand, doc.chomp, doc.file_descriptor)
            for doc in self.node.heredocs
        )


def span_of(node: Node, source_lines: Sequence[str]) -> Span:
    """The instruction's extent; the end column is just past its last line."""
    end_column = len(source_lines[node.end_line - 1]) + 1 if 0 < node.end_line <= len(source_lines) else 1
    return Span(node.start_line, node.column, node.end_line, end_column)


def handle_json_args(args: Sequence[str], json: bool) -> tuple[str, ...]:
    """BuildKit's ``handleJSONArgs``: exec form as is, shell form joined into one string."""
    if not args:
        return ()
    return tuple(args) if json else (" ".join(args),)


def command_of(args: Sequence[str], json: bool) -> Command:
    words = handle_json_args(args, json)
    return ExecForm(words) if json else ShellForm(words[0] if words else "")


def require_exactly_one(request: Request, name: str) -> str:
    if len(request.args) != 1:
        raise InstructionError(f"{name} requires exactly one argument")
    return request.args[0]


def require_at_least_one(request: Request, name: str) -> None:
    if not request.args:
        raise InstructionError(f"{name} requires at least one argument")
