"""Instruction layer: turns the `instructions` parse of logical lines into shapes.

Each callback runs while the LALR parser reduces a rule (lark's internal
transformer), so no tree is built. The argument shapes follow BuildKit's
dispatch table; see ``grammar.nodes`` for the list.
"""
from __future__ import annotations

from grammar.errors import GrammarError
from grammar._lark_token import Token
from grammar.jsonargs import NotStringArrayError, classify_bracket_text, decode_string_array
from grammar.records import record
from grammar.regexes import compile_regex

_ASCII_BLANKS = compile_regex(r"[\t\x0b\x0c\r ]+")
_WORD_TYPES = frozenset({"NAME_VALUE", "QUOTED_WORD"})


class LineShapeError(GrammarError):
    """A malformed instruction; ``line_index`` is the 0-based logical line."""

    def __init__(self, message: str, token: Token) -> None:
        super().__init__(message)
        self.line_index = (token.line or 1) - 1


@record
class LineShape:
    keyword: str  # lower-cased
    flags: tuple[str, ...]
    args: tuple[str, ...]
    json: bool
    keyword_pos: int  # offset of the keyword in the parsed text
    inner: LineShape | None = None


@record
class _Args:
    values: tuple[str, ...]
    json: bool = False


class ShapeBuilder:
    """Callbacks named after the rules of dockerfile.lark's instruction layer (lark's transformer
    interface: a method per rule, called with the rule's children)."""

    def instructions(self, children: list[LineShape | Token]) -> list[LineShape | None]:
        """One entry per line: its shape, or None for a line with no instruction."""
        entries: list[LineShape | None] = [None]
        for child in children:
            if isinstance(child, Token):  # NL: the next line starts
                entries.append(None)
            else:
                entries[-1] = child
        return entries

    def exec_args(self, children: list[Token]) -> _Args:
        return _maybe_json(children[0], fallback=lambda text: (text,))

    def list_args(self, children: list[Token]) -> _Args:
        first = children[0]
        if first.type in ("EXEC_ARRAY", "BRACKET_TEXT"):
            return _maybe_json(first, fallback=_split_blanks)
        return _Args(tuple(str(token) for token in children))

    def health_args(self, children: list[Token | _Args]) -> _Args:
        kind = str(children[0])
        command = children[1] if len(children) > 1 else _Args(())
        return _Args((kind, *command.values), command.json)

    def exec_form(self, children: list) -> LineShape:
        return _shape(children)

    list_form = health_form = exec_form

    def words_form(self, children: list) -> LineShape:
        return _shape(children, words=lambda tokens: tuple(str(t) for t in tokens if t.type == "WORD"))

    def arg_form(self, children: list) -> LineShape:
        return _shape(children, words=lambda tokens: tuple(str(t) for t in tokens if t.type in _WORD_TYPES))

    def nameval_form(self, children: list) -> LineShape:
        keyword = children[0]
        return _shape(children, words=lambda tokens: _name_values(keyword, tokens))

    def string_form(self, children: list) -> LineShape:
        return _shape(children, words=lambda tokens: tuple(str(t) for t in tokens if t.type == "REST"))

    def unknown_form(self, children: list) -> LineShape:
        return _shape(children, words=lambda tokens: ())  # BuildKit drops the arguments

    def onbuild_form(self, children: list) -> LineShape:
        trigger = children[-1] if isinstance(children[-1], LineShape) else None
        shape = _shape([child for child in children if child is not trigger])
        return LineShape(shape.keyword, shape.flags, (), False, shape.keyword_pos, trigger)


def _shape(children: list, words=None) -> LineShape:
    keyword: Token = children[0]
    flags = tuple(unquote_flag(str(t)) for t in children[1:] if isinstance(t, Token) and t.type == "FLAG")
    rest = [child for child in children[1:] if not (isinstance(child, Token) and child.type in ("FLAG", "FLAGS_END"))]
    if words is not None:
        args = _Args(words(rest))
    else:
        args = rest[0] if rest else _Args(())
    return LineShape(keyword.lower(), flags, args.values, args.json, keyword.start_pos)


def _maybe_json(token: Token, fallback) -> _Args:
    text = str(token)
    if token.type == "EXEC_ARRAY":
        return _Args(decode_string_array(text), True)
    if token.type == "BRACKET_TEXT":
        try:
            strings = classify_bracket_text(text)
        except NotStringArrayError as error:
            raise LineShapeError(str(error), token) from None
        if strings is not None:
            return _Args(strings, True)
    return _Args(fallback(text))


def _split_blanks(text: str) -> tuple[str, ...]:
    return tuple(_ASCII_BLANKS.split(text))


def _name_values(keyword: Token, tokens: list[Token]) -> tuple[str, ...]:
    """ENV/LABEL: ``k=v ...`` triples with sep "=", or the legacy ``KEY value`` with sep ""."""
    words = [str(t) for t in tokens if t.type in _WORD_TYPES]
    if not words:
        return ()
    if tokens[0].type != "NAME_VALUE":
        parts = _ASCII_BLANKS.split("".join(tokens), maxsplit=1)
        if len(parts) < 2:
            raise LineShapeError(f"{keyword.upper()} must have two arguments", keyword)
        return (parts[0], parts[1], "")
    triples: list[str] = []
    for token in tokens:
        if token.type == "QUOTED_WORD":
            message = f"Syntax error - can't find = in {_go_quote(str(token))}. Must be of the form: name=value"
            raise LineShapeError(message, keyword)
        if token.type == "NAME_VALUE":
            name, _, value = token.partition("=")
            triples += (name, value, "=")
    return tuple(triples)


def unquote_flag(word: str) -> str:
    """A ``--flag`` word with quotes and ``\\`` escapes removed.

    BuildKit walks flag words byte by byte and turns each byte into a rune, so
    non-ASCII text comes out as Latin-1 mojibake; that is reproduced here.
    """
    chars = word if word.isascii() else word.encode("utf-8", "surrogatepass").decode("latin-1")
    out: list[str] = []
    quote = ""
    index = 0
    while index < len(chars):
        char = chars[index]
        index += 1
        if char == quote:
            quote = ""
            continue
        if not quote and char in "'\"":
            quote = char
            continue
        if char == "\\":
            if index == len(chars):
                break  # a trailing escape is dropped
            char = chars[index]
            index += 1
        out.append(char)
    return "".join(out)


def _go_quote(text: str) -> str:
    from grammar.dump import go_quote  # local: dump is only needed on this error path

    return go_quote(text)
