"""A tight run loop for the stand-alone lark LALR parsers of ``grammar.larkload``.

lark's own loop spends most of a parse on plumbing around each token: a lexer
generator per state, a ``LineCounter``, ``Token`` construction through
keyword-checking ``__new__``, a ``ParserState`` method call per token, and a
``Rule`` hashed in Python (``Rule.__hash__``/``__eq__``) at every reduction.
``FastParser`` runs the *same* parse: lark's LALR table, lark's contextual
lexers (one compiled scanner per parser state, built by lark), lark's rule
callbacks (the transformer and lark's child filters) and the same postlexer,
in the same order, with tokens that carry the same positions. Only the loop is
different.

Anything the loop does not handle itself (a text no scanner matches, a token the
table has no action for) makes it start over with lark's own ``parse``, so every
syntax error is exactly the one lark raises. Callbacks run in the same order as
under lark, so an exception raised by a callback is the same too and passes
straight through.
"""
from __future__ import annotations

from typing import Any

from grammar._lark_runtime import (ChildFilter, ChildFilterLALR_NoPlaceholders, PostLexConnector, Shift, Token,
                                   _create_unless)

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


def rule_callback(rule: Any, callback: Any, transformer: Any) -> Any:
    """lark's reduction ``callback`` for ``rule``, minus the trees of inlined rules.

    lark's callback is a chain: an optional child filter (drops filtered-out
    tokens, splices in the children of inlined rules), then the transformer's
    method, or a ``Tree`` for a rule without one. The same chain is rebuilt here
    with ``_Inline`` lists in place of those trees. A chain of any other shape
    (``?rule``, ``propagate_positions``...) is kept as lark built it.
    """
    if type(callback) is ChildFilterLALR_NoPlaceholders:
        include, builder = callback.to_include, callback.node_builder
    elif isinstance(callback, ChildFilter) or type(callback).__module__ == ChildFilter.__module__:
        return callback  # a wrapper this driver does not rebuild
    else:
        include, builder = None, callback
    name = rule.alias or rule.options.template_source or rule.origin.name
    if getattr(transformer, name, None) is None:
        if not rule.origin.name.startswith("_") or rule.alias or rule.options.expand1:
            return callback  # lark builds a Tree that stays in the result
        builder = _Inline
    if include is None:
        return builder
    if not any(expand for _, expand in include):
        indices = [index for index, _ in include]
        if indices == list(range(len(rule.expansion))):
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


class _Handover(Exception):
    """The fast loop cannot go on: lark's own parse takes over (and raises the error)."""


class FastParser:
    """Parses like ``lark.parse(text)`` for a stand-alone LALR ``Lark`` with a contextual lexer."""

    def __init__(self, lark: Any) -> None:
        frontend = lark.parser
        parser = frontend.parser.parser  # lark's _Parser
        table = parser.parse_table
        (start,) = frontend.parser_conf.start
        self._lark = lark
        self._start_state = table.start_states[start]
        self._end_state = table.end_states[start]
        lexer = frontend.lexer
        self._postlex = None
        if isinstance(lexer, PostLexConnector):
            self._postlex = lexer.postlexer
            lexer = lexer.lexer
        self._state_lexers = lexer.lexers  # parser state -> lark BasicLexer (scanner compiled on first use)
        self._scanners: dict[int, tuple] = {}  # parser state -> its lexer's scanner
        self._by_lexer: dict[int, tuple] = {}  # id(lark lexer) -> scanner (states share lexers)
        transformer = lark.options.transformer
        callbacks = {rule: (f if isinstance(rule, str) else rule_callback(rule, f, transformer))
                     for rule, f in parser.callbacks.items()}
        self._token_callbacks = {name: f for name, f in callbacks.items() if isinstance(name, str)}
        reductions: dict[Any, tuple] = {}
        self._actions: dict[int, dict[str, Any]] = {}
        for state, actions in table.states.items():
            converted = {}
            for symbol, (action, arg) in actions.items():
                if action is Shift:
                    converted[symbol] = arg
                else:
                    reduction = reductions.get(arg)
                    if reduction is None:
                        reduction = reductions[arg] = (len(arg.expansion), arg.origin.name, callbacks[arg])
                    converted[symbol] = reduction
            self._actions[state] = converted

    def parse(self, text: str) -> Any:
        try:
            return self._parse(text)
        except _Handover:
            return self._lark.parse(text)

    def _scanner(self, state: int) -> tuple:
        """(match functions with their terminal names, unless-callbacks, newline types) of ``state``'s lexer.

        lark's scanner compiles one alternation of all the state's terminals,
        ``(?P<A>a)|(?P<B>b)|...``, per state: most of a first parse's time goes
        into compiling those, although the same 29 terminals recur in all of them.
        An alternation matches with its first alternative that matches, so
        trying each terminal's own pattern in the same order finds the same
        token; those patterns compile once (``re``'s cache shares them between
        states and with lark's own checks), and a state has only a few terminals.
        """
        lexer = self._state_lexers[state]
        if lexer.ignore_types:
            raise _Handover  # no grammar here ignores terminals; lark handles it if one ever does
        found = self._by_lexer.get(id(lexer))
        if found is None:
            if lexer.user_callbacks or lexer.use_bytes:
                raise _Handover  # lark's lexer options pybuild does not use
            terminals, unless = _create_unless(lexer.terminals, lexer.g_regex_flags, lexer.re, False)
            flags, compile_ = lexer.g_regex_flags, lexer.re.compile
            matchers = tuple((compile_(terminal.pattern.to_regexp(), flags).match, terminal.name)
                             for terminal in terminals)
            found = self._by_lexer[id(lexer)] = (matchers, unless, lexer.newline_types)
        self._scanners[state] = found
        return found

    def _tokens(self, text: str, states: list[int]):
        """lark's contextual lexing: the scanner of the parser's current state, one token at a time."""
        scanners = self._scanners
        pos, end, line, line_start = 0, len(text), 1, 0
        while pos < end:
            state = states[-1]
            matchers, unless, newline_types = scanners.get(state) or self._scanner(state)
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
