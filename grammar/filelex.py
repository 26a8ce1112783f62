"""File layer: physical-line tokens in, logical instructions out.

``HeredocPostLexer`` sits between lark's lexer and the LALR parser. It follows
the logical lines as they stream by; when an instruction that may carry
heredocs ends, it re-types the following lines as HEREDOC_LINE / HEREDOC_END,
which is what makes heredoc bodies part of the grammar rather than a
separate pass. ``LogicalLineBuilder`` holds the parser callbacks.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from grammar._lark_token import Token

from grammar.heredocs import HeredocMarker, is_terminator
from grammar.linesplit import first_line_text, go_trim_space, next_line_text
from grammar.nodes import Heredoc
from grammar.records import record

LINE_TERMINALS = ("COMMENT_LINE", "BLANK_LINE", "CONT_LINE", "TEXT_LINE")
UNTERMINATED_HEREDOC = "unterminated heredoc"

# Given a logical line: its heredoc markers, or an error message.
HeredocDetector = Callable[[str], "tuple[list[HeredocMarker], str | None]"]


class _MarkedToken(Token):
    """A token carrying what the postlexer learnt (a Token's own slots are fixed)."""

    marker: HeredocMarker | None = None
    problem: str | None = None


@record
class LogicalLine:
    text: str  # continuation lines joined, as BuildKit's `line`
    start_line: int
    end_line: int
    column: int
    heredocs: tuple[Heredoc, ...] = ()
    empty_continuation: bool = False
    doc_comment: str = ""
    problem: str | None = None  # a heredoc error that ends the file here


class HeredocPostLexer:
    always_accept = LINE_TERMINALS

    def __init__(self, detect: HeredocDetector) -> None:
        self.detect = detect

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        tokens = iter(stream)
        pending: list[Token] = []
        for token in tokens:
            if not pending and token.type in ("COMMENT_LINE", "BLANK_LINE"):
                yield token
                continue
            pending.append(token)
            if token.type != "TEXT_LINE":
                yield token  # a continued instruction goes on
                continue
            stop = yield from self._finish(pending, token, tokens)
            pending = []
            if stop:
                return
        if pending:
            yield from self._finish(pending, Token.new_borrow_pos("CONT_EOF", "", pending[-1]), tokens)

    def _finish(self, lines: list[Token], last: Token, tokens: Iterator[Token]):
        """Yield the instruction's last token, then any heredoc bodies. True = stop."""
        line = join_logical_line(lines)[0] if any("<" in token for token in lines) else ""
        if "<<" not in line:
            yield last
            return False
        markers, problem = self.detect(line)
        if problem is not None:
            marked = _MarkedToken.new_borrow_pos(last.type, last, last)
            marked.problem = problem
            yield marked
            return True
        yield last
        previous = last
        for marker in markers:
            previous = yield from self._body(marker, previous, tokens)
        return False

    def _body(self, marker: HeredocMarker, previous: Token, tokens: Iterator[Token]):
        for token in tokens:
            if is_terminator(token, marker):
                yield _end_token(marker, token, token)
                return token
            yield Token.new_borrow_pos("HEREDOC_LINE", token, token)
            previous = token
        end = _end_token(marker, "", previous)
        end.problem = UNTERMINATED_HEREDOC
        yield end
        return previous


def _end_token(marker: HeredocMarker, value: str, position: Token) -> _MarkedToken:
    end = _MarkedToken.new_borrow_pos("HEREDOC_END", value, position)
    end.marker = marker
    return end


def join_logical_line(tokens: list[Token]) -> tuple[str, bool]:
    """BuildKit's logical line from its physical-line tokens, and whether a blank line was skipped."""
    parts = [first_line_text(tokens[0], tokens[0].type == "CONT_LINE")]
    empty_continuation = False
    for token in tokens[1:]:
        if token.type in ("TEXT_LINE", "CONT_LINE"):
            parts.append(next_line_text(token, token.type == "CONT_LINE"))
        elif token.type == "BLANK_LINE":
            empty_continuation = True
    return "".join(parts), empty_continuation


class LogicalLineBuilder:
    """Callbacks named after the rules of dockerfile.lark's file layer (lark's transformer interface:
    a method per rule, called with the rule's children)."""

    def heredoc(self, children: list[Token]) -> tuple[Heredoc, _MarkedToken]:
        end = children[-1]
        marker = end.marker
        content = "".join(children[:-1])
        return Heredoc(marker.name, content, marker.expand, marker.chomp, marker.file_descriptor), end

    def instruction(self, children: list) -> LogicalLine:
        lines = [child for child in children if isinstance(child, Token) and child.type != "CONT_EOF"]
        bodies = [child for child in children if isinstance(child, tuple)]
        text, empty_continuation = join_logical_line(lines)
        marked = [child for child in children if isinstance(child, Token)] + [end for _, end in bodies]
        problems = [getattr(token, "problem", None) for token in marked]
        first = lines[0]
        last_line = bodies[-1][1].line if bodies else lines[-1].line
        column = len(first) - len(first.lstrip(" \t")) + 1
        return LogicalLine(text, first.line, last_line, column, tuple(body for body, _ in bodies),
                           empty_continuation, problem=next((p for p in problems if p), None))

    def dockerfile(self, children: list) -> list[LogicalLine]:
        """Attach doc comments: the top-level comment lines right above each instruction."""
        comments: list[str] = []
        found: list[LogicalLine] = []
        for child in children:
            if isinstance(child, LogicalLine):
                found.append(replace(child, doc_comment="\n".join(comments)) if comments else child)
                comments = []
            elif child.type == "COMMENT_LINE":
                text = go_trim_space(child[1:])
                comments = comments + [text] if text else []
        return found
