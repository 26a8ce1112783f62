"""A tight run loop for the LALR parsers of dockerfile.lark, run from plain tables.

lark's own loop spends most of a parse on plumbing around each token: a lexer
generator per state, a ``LineCounter``, ``Token`` construction through
keyword-checking ``__new__``, a ``ParserState`` method call per token, and a
``Rule`` hashed in Python (``Rule.__hash__``/``__eq__``) at every reduction.
And before the first parse, lark must deserialize its objects (rules, terminals,
lexer configurations: a few thousand of them) and import its runtime.

``FastParser`` runs the *same* parse from plain data that ``grammar.larkbuild``
extracts from lark's loaded parser (``grammar._lalr_tables.FAST``, see
``larkbuild.fast_tables``): lark's LALR table, lark's contextual lexers (per
parser state, the terminals lark tries, in lark's order), lark's rule callbacks
(the transformer's methods and lark's child filters) and the same postlexer, in
the same order, with lark's own ``Token`` class and the same positions. Only the
loop is different, and a successful parse never imports lark's runtime.

Anything the loop does not handle itself (a text no scanner matches, a token the
table has no action for, a rule shape it does not rebuild) makes it start over
with lark's own parser, loaded then, so every syntax error is exactly the one
lark raises. Callbacks run in the same order as under lark, so an exception
raised by a callback is the same too and passes straight through.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from grammar._lark_token import Token
from grammar.regexes import compile_regex

_new_str = str.__new__


class _Inline(list):
    """The children of an inlined rule (``_name``), for the parent rule to splice in.

    lark wraps them in a ``Tree`` that the parent's child filter then unpacks; a
    list does the same job without building the tree (``children`` keeps the
    ``Tree`` interface for callbacks of lark's own).
    """

    __slots__ = ()

    @property
    def children(self) -> list:
        return self


class _Handover(Exception):
    """The fast loop cannot go on: lark's own parse takes over (and raises the error)."""


def _hand_over(children: list) -> Any:
    raise _Handover


def rule_callback(spec: tuple | None, transformer: Any) -> Callable[[list], Any]:
    """lark's reduction callback for a rule of ``larkbuild.fast_tables``, minus the trees of inlined rules.

    lark's callback is a chain: an optional child filter (drops filtered-out
    tokens, splices in the children of inlined rules), then the transformer's
    method, or a ``Tree`` for a rule without one. The same chain is rebuilt here
    with ``_Inline`` lists in place of the inlined rules' trees. A rule whose
    result would be a ``Tree`` (or a chain of another shape, ``spec`` None)
    hands the parse over to lark.
    """
    if spec is None:
        return _hand_over
    _, size, name, inlinable, include = spec
    builder = getattr(transformer, name, None)
    if builder is None:
        if not inlinable:
            return _hand_over  # lark builds a Tree that stays in the result
        builder = _Inline
    if include is None:
        return builder
    if not any(expand for _, expand in include):
        indices = [index for index, _ in include]
        if indices == list(range(size)):
            return builder
        return lambda children: builder([children[index] for index in indices])

    if include[0] == (0, True) and not any(expand for _, expand in include[1:]):
        rest = [index for index, _ in include[1:]]  # the usual shape: `__x_star: __x_star X`

        def spliced(children: list) -> Any:
            kept = children[0]
            kept = kept if kept.__class__ is _Inline else _Inline(kept.children)
            kept += [children[index] for index in rest]  # lark extends the child's list in place too
            return kept if builder is _Inline else builder(kept)

        return spliced

    def filtered(children: list) -> Any:
        kept: list = []
        for index, expand in include:
            child = children[index]
            if expand:
                kept += child if child.__class__ is _Inline else child.children
            else:
                kept.append(child)
        return builder(kept)

    return filtered


class FastParser:
    """Parses like lark's ``parse(text)`` for one LALR parser with a contextual lexer.

    ``tables``: that parser's ``larkbuild.fast_tables``; ``transformer`` and
    ``postlex``: as given to lark; ``open_lark``: loads lark's own parser, with the
    same transformer and postlexer, for a parse the loop hands over.
    """

    def __init__(self, tables: dict[str, Any], transformer: Any, postlex: Any, open_lark: Callable[[], Any]) -> None:
        self._tables = tables
        self._open_lark = open_lark
        self._lark_parser: Any = None
        self._postlex = postlex
        self._start_state = tables["start"]
        self._end_state = tables["end"]
        reductions = [(spec[1], spec[0], rule_callback(spec, transformer)) if spec else (0, "", _hand_over)
                      for spec in tables["rules"]]
        # per state: terminal or rule name -> the state to shift to (an int) or (size, origin, callback)
        self._actions = [{symbol: action if action >= 0 else reductions[~action] for symbol, action in row.items()}
                         for row in tables["actions"]]
        self._token_callbacks = {name: found for name in tables["terminal_names"]
                                 if (found := getattr(transformer, name, None)) is not None}
        self._newline_types = frozenset(tables["newline_types"])
        self._matchers: dict[int, tuple] = {}  # index in tables["patterns"] -> (match function, terminal name)
        self._by_scanner: dict[int, tuple] = {}  # index in tables["scanners"] -> compiled scanner
        self._scanners: dict[int, tuple] = {}  # parser state -> compiled scanner

    @property
    def _lark(self) -> Any:
        """lark's own parser for the same grammar (loaded on first use: a parse that failed here)."""
        if self._lark_parser is None:
            self._lark_parser = self._open_lark()
        return self._lark_parser

    def parse(self, text: str) -> Any:
        try:
            return self._parse(text)
        except _Handover:
            return self._lark.parse(text)

    def _scanner(self, state: int) -> tuple:
        """(match functions with their terminal names, unless-callbacks) of ``state``'s lexer.

        lark's scanner compiles one alternation of all the state's terminals,
        ``(?P<A>a)|(?P<B>b)|...``, per state: most of a first parse's time would
        go into compiling those, although the same terminals recur in all of
        them. An alternation matches with its first alternative that matches, so
        trying each terminal's own pattern in the same order finds the same
        token; those patterns compile once each, on first use, and a state has
        only a few terminals. Compiled ahead of time (``grammar.regexes``), they
        cost next to nothing.
        """
        index = self._tables["state_scanners"][state]
        found = self._by_scanner.get(index)
        if found is None:
            spec = self._tables["scanners"][index]
            if spec is None:
                raise _Handover  # a lexer option pybuild does not use; lark handles it if one ever does
            order, keywords = spec
            matchers = tuple(self._matcher(at) for at in order)
            flags = self._tables["regex_flags"]
            unless = {kind: _unless_callback(alternatives, flags) for kind, alternatives in keywords.items()}
            found = self._by_scanner[index] = (matchers, unless)
        self._scanners[state] = found
        return found

    def _matcher(self, index: int) -> tuple[Callable[[str, int], re.Match[str] | None], str]:
        """The match function and terminal name of ``tables["patterns"][index]`` (compiled once)."""
        found = self._matchers.get(index)
        if found is None:
            name, regexp = self._tables["patterns"][index]
            found = self._matchers[index] = (compile_regex(regexp, self._tables["regex_flags"]).match, name)
        return found

    def _tokens(self, text: str, states: list[int]):
        """lark's contextual lexing: the scanner of the parser's current state, one token at a time."""
        scanners = self._scanners
        newline_types = self._newline_types
        pos, end, line, line_start = 0, len(text), 1, 0
        while pos < end:
            state = states[-1]
            matchers, unless = scanners.get(state) or self._scanner(state)
            for match, kind in matchers:
                found = match(text, pos)
                if found:
                    break
            else:
                raise _Handover
            value = found.group()
            token = _new_str(Token, value)
            token.type = kind
            token.value = value
            token.start_pos = pos
            token.line = line
            token.column = pos - line_start + 1
            if kind in newline_types:
                newlines = value.count("\n")
                if newlines:
                    line += newlines
                    line_start = pos + value.rindex("\n") + 1
            pos += len(value)
            token.end_line = line
            token.end_column = pos - line_start + 1
            token.end_pos = pos
            if unless and kind in unless:
                token = unless[kind](token)
            yield token

    def _parse(self, text: str) -> Any:
        actions = self._actions
        token_callbacks = self._token_callbacks
        states = [self._start_state]
        values: list = []
        tokens = self._tokens(text, states)
        if self._postlex is not None:
            tokens = self._postlex.process(tokens)
        for token in tokens:
            kind = token.type
            while True:
                action = actions[states[-1]].get(kind)
                if action is None:
                    raise _Handover
                if action.__class__ is int:
                    states.append(action)
                    values.append(token_callbacks[kind](token) if kind in token_callbacks else token)
                    break
                _reduce(action, states, values, actions)
        end_state = self._end_state
        while True:
            action = actions[states[-1]].get("$END")
            if action is None or action.__class__ is int:
                raise _Handover
            _reduce(action, states, values, actions)
            if states[-1] == end_state:
                return values[-1]


def _unless_callback(alternatives: tuple[tuple[str, str], ...], flags: int) -> Callable[[Token], Token]:
    """lark's ``UnlessCallback``: a token whose whole text is one of the keywords takes the keyword's type."""
    keywords = compile_regex("|".join(f"(?P<{name}>{regexp})" for name, regexp in alternatives), flags)

    def retype(token: Token) -> Token:
        found = keywords.fullmatch(token.value)
        if found is not None:
            token.type = found.lastgroup
        return token

    return retype


def _reduce(action: tuple[int, str, Any], states: list[int], values: list[Any], actions: Any) -> None:
    """Pop a rule's children, push what its callback makes of them and the state to go to."""
    size, origin, callback = action
    if size:
        children = values[-size:]
        del states[-size:]
        del values[-size:]
    else:
        children = []
    values.append(callback(children))
    states.append(actions[states[-1]][origin])
