"""``parse_nodes``: Dockerfile text -> one ``Node`` per instruction, as BuildKit parses it.

The work is split the way the grammar is:

1. directives at the top pick the escape token (and so the grammar variant);
2. the file layer turns physical lines into logical instructions, heredoc
   bodies included (``grammar.filelex``);
3. the instruction layer parses all logical lines in one LALR run and gives
   each its argument shape (``grammar.lineshapes``).

Both layers run lark's LALR tables, lexers and callbacks through
``grammar.lalrdrive.FastParser``, a tighter loop than lark's own, from plain
tables; lark's own parser is loaded and takes over only when a parse fails, so
syntax errors are lark's.

Errors are reported in the order BuildKit meets them while reading the file.
Lark and the parser modules are imported on first use, to keep
``import grammar`` cheap.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from grammar.directives import DirectiveError, detect_syntax, escape_token, parse_directive
from grammar.errors import DockerfileSyntaxError
from grammar.linesplit import (BOM, LINE_TOO_LONG, cut_before_line, first_overlong_line, go_trim_space,
                               source_lines)
from grammar.nodes import Directives, Node, ParsedFile, ParseWarning
from grammar.records import record

if TYPE_CHECKING:
    from grammar.filelex import LogicalLine
    from grammar.heredocs import HeredocMarker
    from grammar.lalrdrive import FastParser
    from grammar.lineshapes import LineShape

NO_INSTRUCTIONS = "file with no instructions"
EMPTY_CONTINUATION = "Empty continuation line found in: "


@record
class _Source:
    path: str
    lines: tuple[str, ...]

    def error(self, message: str, line: int, end_line: int | None = None, column: int = 1) -> DockerfileSyntaxError:
        line = max(1, line)
        return DockerfileSyntaxError(message, path=self.path, line=line, column=column,
                                     end_line=max(line, end_line or line), source_lines=self.lines)


def parse_nodes(text: str, path: str = "Dockerfile") -> ParsedFile:
    """Parse a whole Dockerfile; raises only DockerfileSyntaxError."""
    text = text.removeprefix(BOM)
    source = _Source(path, source_lines(text))
    overlong = first_overlong_line(text)
    readable = text if overlong is None else cut_before_line(text, overlong)
    try:
        escape = escape_token(readable.split("\n", 5)[:5])
    except DirectiveError as error:
        raise source.error(str(error), error.line) from None
    lines = _logical_lines(readable, escape, source)
    shapes = _shapes(lines, escape, source)
    if lines and lines[-1].problem:
        raise source.error(lines[-1].problem, lines[-1].start_line, lines[-1].end_line)
    if not lines:
        raise source.error(NO_INSTRUCTIONS, len(source.lines))
    if overlong is not None:
        raise source.error(LINE_TOO_LONG, overlong + 1)
    nodes = tuple(_node(line, shape) for line, shape in zip(lines, shapes))
    warnings = tuple(ParseWarning(line.start_line, EMPTY_CONTINUATION + line.text)
                     for line in lines if line.empty_continuation)
    return ParsedFile(path, nodes, _directives(text, escape), warnings, source.lines)


def _logical_lines(text: str, escape: str, source: _Source) -> list[LogicalLine]:
    try:
        return file_parser(escape).parse(text)
    except Exception as error:  # the file grammar accepts any text; this is a safety net
        if not _is_lark_syntax_error(error):
            raise
        raise source.error(f"unexpected text: {error}", error.line, column=error.column) from None


def _shapes(lines: list[LogicalLine], escape: str, source: _Source) -> list[tuple[LineShape | None, str]]:
    """Each logical line's shape, with the trimmed text it was parsed from."""
    from grammar.lineshapes import LineShapeError

    trimmed = [go_trim_space(line.text) for line in lines]
    try:
        shapes = line_parser(escape).parse("\n".join(trimmed)) if lines else []
    except LineShapeError as error:
        failed = lines[error.line_index]
        raise source.error(str(error), failed.start_line, failed.end_line, failed.column) from None
    except Exception as error:  # safety net, as above
        if not isinstance(error, RecursionError) and not _is_lark_syntax_error(error):
            raise
        failed = lines[max(0, getattr(error, "line", 1) - 1)]
        raise source.error(f"cannot parse instruction: {failed.text}", failed.start_line, failed.end_line) from None
    offsets = _line_offsets(trimmed)
    return [(shape, line_text) if shape is None else (_relative(shape, offset), line_text)
            for shape, line_text, offset in zip(shapes, trimmed, offsets)]


def _line_offsets(trimmed: list[str]) -> list[int]:
    offsets, position = [], 0
    for line in trimmed:
        offsets.append(position)
        position += len(line) + 1
    return offsets


def _relative(shape: LineShape, offset: int) -> LineShape:
    """Make ``keyword_pos`` count from the start of the instruction's own line."""
    if shape.inner is None:
        return shape
    from dataclasses import replace

    return replace(shape, inner=replace(shape.inner, keyword_pos=shape.inner.keyword_pos - offset))


def _node(line: LogicalLine, parsed: tuple[LineShape | None, str]) -> Node:
    shape, trimmed = parsed
    bodies = "".join(f"{heredoc.content}{heredoc.name}\n" for heredoc in line.heredocs)
    original = f"{line.text}\n{bodies}" if line.heredocs else line.text
    common = dict(heredocs=line.heredocs, start_line=line.start_line, end_line=line.end_line, column=line.column)
    if shape is None:  # a line that is blank once trimmed, e.g. only a continuation
        return Node("", (), (), False, original=original, doc_comment=line.doc_comment, **common)
    inner = shape.inner
    trigger = None
    if inner is not None:
        trigger = Node(inner.keyword, inner.args, inner.flags, inner.json,
                       original=trimmed[inner.keyword_pos:], **common)
    return Node(shape.keyword, shape.args, shape.flags, shape.json, original=original, inner=trigger,
                doc_comment=line.doc_comment, **common)


def _directives(text: str, escape: str) -> Directives:
    syntax = detect_syntax(text)
    check = parse_directive("check", text)
    return Directives(escape=escape, syntax=syntax.ref if syntax else None, check=check.ref if check else None,
                      syntax_line=syntax.line if syntax else 0)


@functools.cache
def line_parser(escape: str) -> FastParser:
    """The instruction layer's parser (start ``instructions``)."""
    from grammar.lineshapes import ShapeBuilder

    return _parser(escape, "instructions", ShapeBuilder(), None)


@functools.cache
def file_parser(escape: str) -> FastParser:
    """The file layer's parser (start ``dockerfile``), with the heredoc postlexer."""
    from grammar.filelex import HeredocPostLexer, LogicalLineBuilder

    detector = functools.partial(_detect_heredocs, escape)
    return _parser(escape, "dockerfile", LogicalLineBuilder(), HeredocPostLexer(detector))


def _parser(escape: str, start: str, transformer: object, postlex: object | None) -> FastParser:
    from grammar.lalrdrive import FastParser
    from grammar.larkload import fast_tables, open_grammar

    options = {"transformer": transformer} if postlex is None else {"transformer": transformer, "postlex": postlex}
    return FastParser(fast_tables(escape, start), transformer, postlex,
                      functools.partial(open_grammar, escape, start, **options))


def _is_lark_syntax_error(error: Exception) -> bool:
    """Whether lark's own parse raised ``error`` for a text it cannot parse.

    Only a parse that failed loads lark's runtime, so only then is the class there to check against.
    """
    from sys import modules

    runtime = modules.get("grammar._lark_runtime")
    return runtime is not None and isinstance(error, runtime.UnexpectedInput)


def _detect_heredocs(escape: str, line: str) -> tuple[list[HeredocMarker], str | None]:
    """Heredoc markers of an instruction that may carry them (RUN/COPY/ADD, also under ONBUILD)."""
    from grammar.heredocs import HEREDOC_KEYWORDS, HeredocWordError, heredocs_from_line
    from grammar.lineshapes import LineShapeError

    try:
        shape = line_parser(escape).parse(go_trim_space(line))[0]
    except (LineShapeError, RecursionError):
        return [], None  # the instruction layer reports this line's error in order
    except Exception as error:
        if not _is_lark_syntax_error(error):
            raise
        return [], None
    if shape is not None and shape.keyword == "onbuild" and shape.inner is not None:
        shape = shape.inner
    if shape is None or shape.keyword not in HEREDOC_KEYWORDS or shape.json:
        return [], None
    try:
        return heredocs_from_line(line), None
    except HeredocWordError as error:
        return [], str(error)
