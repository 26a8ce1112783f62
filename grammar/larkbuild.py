"""Generating the parser files that ``pybuild`` runs without importing lark.

``pybuild --check`` must answer in well under 150 ms, start-up included, and
``import lark`` alone (its grammar compiler, LALR analysis, Earley parser...)
costs more than 30 ms, plus a pickle load per parser. So the parsers run on two
generated files:

* ``grammar/_lark_runtime.py``: lark's own stand-alone runtime (lexer, LALR
  parser, transformer plumbing), extracted as ``python -m lark.tools.standalone``
  does, without the grammar data, and with the few edits of ``RUNTIME_EDITS``;
* ``grammar/_lark_token.py``: lark's ``Token`` class, cut out of that runtime
  (which imports it from there), so that parsing needs only this small module;
* ``grammar/_lalr_tables.py``: the tables of the four parsers (escape ``\\`` or
  backtick x start ``dockerfile`` or ``instructions``), plus a fingerprint of the
  ``.lark`` files they were built from, twice: as plain data that
  ``grammar.lalrdrive.FastParser`` runs from (``FAST``, see ``fast_tables``), and
  serialized for lark's own parser (``TABLES``), which is loaded only when a
  parse fails, to raise lark's error;
* ``grammar/_sre_codes.py``: the lexers' regular expressions, and those grammar
  modules compile on import, compiled ahead of time (see ``grammar.regexes``).

Regenerate both after changing a ``.lark`` file or upgrading lark::

    .venv/bin/python -m grammar.larkbuild

tests/grammar/test_standalone.py regenerates them and compares, so they cannot
go stale unnoticed; and ``grammar.larkload`` checks the fingerprint at run time
and builds the tables with lark (slow, cached on disk) if the grammar changed.

This module imports lark; nothing on the parse path imports it.
"""
from __future__ import annotations

import functools
import io
import pickle
import sys
import zlib
from functools import partial
from pathlib import Path
from typing import Any

from grammar.larkload import GRAMMAR_FILES, STARTS, grammar_fingerprint

HERE = Path(__file__).resolve().parent
RUNTIME_FILE = HERE / "_lark_runtime.py"
TOKEN_FILE = HERE / "_lark_token.py"
SRE_CODES_FILE = HERE / "_sre_codes.py"
TABLES_FILE = HERE / "_lalr_tables.py"
# Options the build uses beyond the defaults; the loader passes transformer and postlex.
BUILD_OPTIONS: dict[str, Any] = {"parser": "lalr", "lexer": "contextual"}
# Terminals the file layer's postlexer may emit in any state (see grammar.filelex).
POSTLEX_ALWAYS_ACCEPT = ("COMMENT_LINE", "BLANK_LINE", "CONT_LINE", "TEXT_LINE")
# Options that describe where the grammar came from or was cached, not how to parse: dropped so the
# tables hold only builtin types (no lark class is needed to unpickle them).
_SOURCE_OPTIONS = ("import_paths", "source_path", "cache")
# Edits to lark's runtime code: it must import only the stdlib (tests/test_layering.py), and
# pybuild uses neither lark's optional `regex` module (option regex=True) nor its rich
# rendering of parse trees (it builds no trees). Each edit must apply exactly once, so a
# lark upgrade that changes these lines fails loudly here instead of being half-edited.
RUNTIME_EDITS = (
    ("try:\n    import regex\n    _has_regex = True\nexcept ImportError:\n    _has_regex = False\n",
     "_has_regex = False  # pybuild: lark's optional `regex` module is never used\n"),
    ("            import rich.tree\n            tree = rich.tree.Tree(self.data)\n",
     "            raise NotImplementedError('pybuild: rendering parse trees with rich is not supported')\n"),
    # `import logging` is 5 ms of start-up, and lark logs only while building grammars:
    # set its logger up (as lark does) when something first logs.
    ("import sys, re\nimport logging\n", "import sys, re\n"),
    ('logger: logging.Logger = logging.getLogger("lark")\nlogger.addHandler(logging.StreamHandler())\n'
     "##\n\n##\n\nlogger.setLevel(logging.CRITICAL)\n",
     "class _LazyLogger:  # pybuild: lark's logger, created on first use\n"
     "    _logger = None\n\n"
     "    def __getattr__(self, name):\n"
     "        if _LazyLogger._logger is None:\n"
     "            import logging\n"
     '            created = logging.getLogger("lark")\n'
     "            created.addHandler(logging.StreamHandler())\n"
     "            created.setLevel(logging.CRITICAL)\n"
     "            _LazyLogger._logger = created\n"
     "        return getattr(_LazyLogger._logger, name)\n\n\n"
     "logger = _LazyLogger()\n"),
)


class _AlwaysAccept:
    """Stands in for the file layer's postlexer while the tables are built (only
    ``always_accept`` matters then)."""

    always_accept = POSTLEX_ALWAYS_ACCEPT

    def process(self, stream: Any) -> Any:
        return stream


def _postlex(start: str) -> _AlwaysAccept | None:
    return _AlwaysAccept() if start == "dockerfile" else None


def build_tables(escape: str, start: str, cache: str | bool = False) -> dict[str, Any]:
    """The serialized parser (``{"data": ..., "memo": ...}``) for one grammar variant and start."""
    from lark import Lark, Token
    from lark.lark import _LOAD_ALLOWED_OPTIONS

    postlex = _postlex(start)
    parser = Lark.open_from_package("grammar", GRAMMAR_FILES[escape], ("",), start=start, postlex=postlex,
                                    cache=cache, **BUILD_OPTIONS)
    buffer = io.BytesIO()
    parser.save(buffer, _LOAD_ALLOWED_OPTIONS)
    tables = pickle.loads(buffer.getvalue())
    for name in _SOURCE_OPTIONS:
        tables["data"]["options"].pop(name, None)
    parser_data = tables["data"]["parser"]
    parser_data["parser"] = canonical_parse_table(parser_data["parser"])
    tables = _plain(tables, Token)
    _one_unbounded_width(tables["memo"])
    return tables


# sre reports an unbounded regex width as 2**32-1 on some CPython 3.11 builds (Debian's
# 3.11.2) and 2**64 on others (3.11.5 and later). lark only compares widths to order
# terminals, so every unbounded width is stored as one value: the tables are then the same
# bytes whichever interpreter built them.
_UNBOUNDED_WIDTH = 2**32 - 1


def _one_unbounded_width(memo: dict[int, Any]) -> None:
    for terminal in memo.values():
        width = terminal.get("pattern", {}).get("_width")
        if width is not None and width[1] > _UNBOUNDED_WIDTH:
            width[1] = _UNBOUNDED_WIDTH


def canonical_parse_table(table: dict[str, Any]) -> dict[str, Any]:
    """The serialized LALR table with its states and tokens renumbered in a fixed order.

    lark numbers states in the iteration order of a set of objects hashed by identity,
    so two builds of the same grammar differ by a relabelling. Here tokens are
    numbered by name, and states breadth-first from the start states, following
    shifts in token order: the same grammar always gives the same bytes.
    """
    names = table["tokens"]  # index -> symbol name
    token_index = {name: index for index, name in enumerate(sorted(names.values()))}
    states = table["states"]
    order: dict[int, int] = {}
    queue = [table["start_states"][start] for start in sorted(table["start_states"])]
    while queue:
        state = queue.pop(0)
        if state in order:
            continue
        order[state] = len(order)
        actions = sorted(states[state].items(), key=lambda item: token_index[names[item[0]]])
        queue += [arg for _, (action, arg) in actions if action == 0 and arg not in order]
    if len(order) != len(states):
        raise AssertionError("LALR states unreachable from the start states")
    renumbered = {
        order[state]: {
            token_index[names[token]]: (action, order[arg] if action == 0 else arg)
            for token, (action, arg) in sorted(states[state].items(), key=lambda item: token_index[names[item[0]]])
        }
        for state in sorted(states, key=order.__getitem__)
    }
    return {
        **table,
        "tokens": {index: name for name, index in token_index.items()},
        "states": renumbered,
        "start_states": {start: order[state] for start, state in table["start_states"].items()},
        "end_states": {start: order[state] for start, state in table["end_states"].items()},
    }


def fast_tables(serialized: dict[str, Any], start: str) -> dict[str, Any]:
    """What ``grammar.lalrdrive.FastParser`` needs of the parser ``serialized``, as plain data.

    The parser is loaded as ``grammar.larkload`` loads it for lark's own parse, so
    both run the same table, the same per-state lexers and the same rules:

    * ``start``/``end``: the LALR start and end states;
    * ``actions``: per state, terminal or rule name -> the state to shift to (>= 0)
      or ``~index`` of the rule to reduce by (< 0);
    * ``rules``: per rule, ``(origin, size, callback name, inlinable, include)``:
      the transformer method lark would call (``rule.alias``, template or origin),
      whether lark splices the rule's children into its parent's (``_name`` rules),
      and lark's child filter, ``((index, expand), ...)``, or None when lark keeps
      all children; None for the whole entry when lark wraps the callback in
      something else (``?rule``, ``propagate_positions``...): FastParser hands
      such a parse over to lark;
    * ``patterns``: ``(terminal name, regexp)`` of every terminal a state lexes;
      ``regex_flags``: the flags they are compiled with;
    * ``scanners``: per distinct state lexer, ``(pattern indices in the order lark
      tries them, unless)``, where ``unless`` maps a terminal to the
      ``(terminal name, regexp)`` of the keywords it may turn out to be (lark's
      ``UnlessCallback``); None for a lexer FastParser does not run (ignored
      terminals, user callbacks, bytes);
    * ``state_scanners``: per state, its index into ``scanners``;
    * ``newline_types``: terminals whose text may hold a line break;
    * ``terminal_names``: every terminal (a transformer method of that name is a
      token callback).
    """
    from grammar._lark_runtime import (ChildFilterLALR_NoPlaceholders, Lark, PostLexConnector, Shift,
                                       _create_unless)

    parser = Lark._load_from_dict(serialized["data"], serialized["memo"], postlex=_postlex(start))
    frontend = parser.parser
    table = frontend.parser.parser.parse_table
    callbacks = frontend.parser.parser.callbacks
    lexer = frontend.lexer
    if isinstance(lexer, PostLexConnector):
        lexer = lexer.lexer
    if sorted(table.states) != list(range(len(table.states))):
        raise AssertionError("LALR states are not numbered 0..n-1 (see canonical_parse_table)")

    rules: list[Any] = []
    rule_index: dict[Any, int] = {}
    actions = []
    for state in range(len(table.states)):
        row = {}
        for symbol, (action, arg) in table.states[state].items():
            if action is Shift:
                row[symbol] = arg
                continue
            if arg not in rule_index:
                rule_index[arg] = len(rules)
                rules.append(_rule_spec(arg, callbacks[arg], ChildFilterLALR_NoPlaceholders))
            row[symbol] = ~rule_index[arg]
        actions.append(row)

    patterns: list[tuple[str, str]] = []
    scanners: list[Any] = []
    scanner_of_lexer: dict[int, int] = {}
    state_scanners = []
    newline_types: set[str] = set()
    for state in range(len(table.states)):
        state_lexer = lexer.lexers[state]
        if id(state_lexer) not in scanner_of_lexer:
            scanner_of_lexer[id(state_lexer)] = len(scanners)
            scanners.append(_scanner_spec(state_lexer, patterns, _create_unless))
            newline_types |= state_lexer.newline_types
        state_scanners.append(scanner_of_lexer[id(state_lexer)])
    (start_symbol,) = frontend.parser_conf.start
    return {
        "start": table.start_states[start_symbol],
        "end": table.end_states[start_symbol],
        "actions": tuple(actions),
        "rules": tuple(rules),
        "patterns": tuple(patterns),
        "regex_flags": lexer.root_lexer.g_regex_flags,
        "scanners": tuple(scanners),
        "state_scanners": tuple(state_scanners),
        "newline_types": tuple(sorted(newline_types)),
        "terminal_names": tuple(sorted(terminal.name for terminal in parser.terminals)),
    }


def _rule_spec(rule: Any, callback: Any, child_filter: type) -> tuple | None:
    """``(origin, size, callback name, inlinable, include)`` of a rule, see ``fast_tables``."""
    from functools import partial as partial_type

    include = None
    if type(callback) is child_filter:
        include = tuple((index, bool(expand)) for index, expand in callback.to_include)
        callback = callback.node_builder
    if type(callback) is not partial_type or rule.options.expand1:
        return None  # a wrapper (ExpandSingleChild, PropagatePositions...) around lark's tree builder
    name = str(rule.alias or rule.options.template_source or rule.origin.name)
    inlinable = rule.origin.name.startswith("_") and not rule.alias
    return (str(rule.origin.name), len(rule.expansion), name, inlinable, include)


def _scanner_spec(lexer: Any, patterns: list[tuple[str, str]], create_unless: Any) -> tuple | None:
    """One state lexer as ``(pattern indices, unless)``, adding its terminals to ``patterns``."""
    if lexer.ignore_types or lexer.user_callbacks or lexer.use_bytes:
        return None
    terminals, unless = create_unless(lexer.terminals, lexer.g_regex_flags, lexer.re, False)

    def index(terminal: Any) -> int:
        pattern = (terminal.name, terminal.pattern.to_regexp())
        if pattern not in patterns:
            patterns.append(pattern)
        return patterns.index(pattern)

    keywords = {kind: tuple((t.name, t.pattern.to_regexp()) for t in callback.scanner.terminals)
                for kind, callback in sorted(unless.items())}
    return tuple(index(terminal) for terminal in terminals), keywords


def sre_arguments(regexp: str, flags: int) -> tuple:
    """What ``re.compile(regexp, flags)`` passes to ``_sre.compile`` after the pattern itself.

    ``re`` parses and compiles a pattern to the regular expression engine's code
    in Python (~0.2 ms a pattern); ``_sre.compile`` only wraps that code. The code
    depends on the engine's version (``_sre.MAGIC``), stored with it.
    """
    from re import _compiler, _parser  # type: ignore[attr-defined]

    parsed = _parser.parse(regexp, flags)
    code = _compiler._code(parsed, flags)
    group_index = dict(parsed.state.groupdict)
    index_group: list[str | None] = [None] * parsed.state.groups
    for name, index in group_index.items():
        index_group[index] = name
    code = tuple(int(op) for op in code)  # opcodes are named ints: written as plain numbers
    return int(flags | parsed.state.flags), code, parsed.state.groups - 1, group_index, tuple(index_group)


def _plain(value: Any, token_class: type) -> Any:
    """``value`` with lark Tokens (rule template names) turned into plain strings."""
    if isinstance(value, token_class):
        return str(value)
    if isinstance(value, dict):
        return {_plain(k, token_class): _plain(v, token_class) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(item, token_class) for item in value]
    if isinstance(value, tuple):
        return tuple(_plain(item, token_class) for item in value)
    return value


def encode_tables(tables: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=4)
    pickler.fast = True  # no memo: equal data gives equal bytes, whatever objects happen to be shared
    pickler.dump(tables)
    return zlib.compress(buffer.getvalue(), 9)


def runtime_source() -> str:
    """lark's stand-alone runtime, as ``lark.tools.standalone`` writes it before the grammar data,
    importing its ``Token`` class from ``grammar._lark_token`` (see ``token_source``)."""
    source = _lark_runtime_source()
    start, end = _token_class_span(source)
    return source[:start] + "from grammar._lark_token import Token\n" + source[end:]


def token_source() -> str:
    """lark's ``Token`` class on its own: the parse path needs it, not the rest of the runtime."""
    import lark

    source = _lark_runtime_source()
    start, end = _token_class_span(source)
    return (
        "# This file was generated by `python -m grammar.larkbuild`: the Token class of Lark v%s's\n"
        "# stand-alone runtime (MPL-2.0, see grammar/_lark_runtime.py). Do not edit.\n"
        "# ruff: noqa\n" % lark.__version__
        + '"""lark\'s Token, shared by grammar.lalrdrive\'s parse and lark\'s (grammar._lark_runtime)."""\n'
        "from __future__ import annotations  # typing's Optional[...] would cost ~2 ms at import\n\n"
        "import warnings\n"
        "from typing import Any, Optional, Type, TypeVar, overload\n\n"
        "_T = TypeVar('_T', bound=\"Token\")\n\n\n"
        + source[start:end]
    )


def _token_class_span(source: str) -> tuple[int, int]:
    """Where ``class Token(str):`` starts and where its body ends in the runtime's source."""
    header = "\nclass Token(str):\n"
    if source.count(header) != 1:
        raise RuntimeError("lark's runtime changed: cannot find its Token class")
    start = source.index(header) + 1
    end = start + len(header) - 1
    for line in source[end:].splitlines(True):
        if line.strip() and not line[0].isspace():
            break
        end += len(line)
    return start, end


def _lark_runtime_source() -> str:
    import lark
    from lark.tools.standalone import EXTRACT_STANDALONE_FILES, extract_sections, strip_docstrings

    lark_dir = Path(lark.__file__).resolve().parent
    parts = [
        "# This file was generated by `python -m grammar.larkbuild` from Lark v%s's stand-alone\n"
        "# generator (lark/tools/standalone.py, MPL-2.0, see the licence note below). Do not edit.\n"
        "# ruff: noqa\n" % lark.__version__,
        "__version__ = %r\n\n" % lark.__version__,
    ]
    for index, name in enumerate(EXTRACT_STANDALONE_FILES):
        code = extract_sections((lark_dir / name).read_text().splitlines(True))["standalone"]
        if index:
            code = strip_docstrings(partial(next, iter(code.splitlines(True))))
        parts.append(code + "\n")
    source = "".join(parts)
    for old, new in RUNTIME_EDITS:
        if source.count(old) != 1:
            raise RuntimeError(f"lark {lark.__version__}'s runtime changed: cannot apply the edit of {old!r}")
        source = source.replace(old, new)
    return source


@functools.cache
def _all_tables() -> tuple[dict[tuple[str, str], Any], dict[tuple[str, str], Any]]:
    """(escape, start) -> serialized tables, and -> fast tables, of the four parsers."""
    serialized = {(escape, start): build_tables(escape, start) for escape in GRAMMAR_FILES for start in STARTS}
    return serialized, {key: fast_tables(tables, key[1]) for key, tables in serialized.items()}


def tables_source() -> str:
    import lark

    lines = [
        '"""LALR tables for grammar.larkload. Generated by `python -m grammar.larkbuild`: do not edit."""',
        "",
        f"LARK_VERSION = {lark.__version__!r}",
        f"PYTHON_VERSION = {tuple(sys.version_info[:2])!r}",
        f"FINGERPRINT = {grammar_fingerprint()!r}  # of the .lark files, see grammar.larkload",
        "",
        "# (escape token, start symbol) -> zlib(pickle({'data': ..., 'memo': ...})), as a bytes literal:",
        "# compiling it costs next to nothing, and reading it needs no base64 decoding (nor import).",
        "# Only lark's own parse (a syntax error) loads these.",
        "TABLES = {",
    ]
    serialized, fast = _all_tables()
    for (escape, start), tables in serialized.items():
        encoded = encode_tables(tables)
        chunks = [encoded[i:i + 64] for i in range(0, len(encoded), 64)]
        lines.append(f"    ({escape!r}, {start!r}): (")
        lines += [f"        {chunk!r}" for chunk in chunks]
        lines.append("    ),")
    lines.append("}")
    lines += ["", "# (escape token, start symbol) -> what grammar.lalrdrive.FastParser runs, see larkbuild.fast_tables.",
              "FAST = {"]
    for (escape, start), tables in fast.items():
        lines.append(f"    ({escape!r}, {start!r}): {{")
        for name, value in tables.items():
            if isinstance(value, tuple) and len(value) > 1 and not all(isinstance(item, str) for item in value):
                lines.append(f"        {name!r}: (")
                lines += [f"            {item!r}," for item in value]
                lines.append("        ),")
            else:
                lines.append(f"        {name!r}: {value!r},")
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def sre_codes_source() -> str:
    """``grammar/_sre_codes.py``: the engine code of the lexers' patterns and of the patterns grammar
    modules compile on import (see ``grammar.regexes``)."""
    import _sre

    _, fast = _all_tables()
    patterns = {(regexp, tables["regex_flags"]) for tables in fast.values() for _, regexp in tables["patterns"]}
    patterns |= _patterns_compiled_on_import()
    lines = [
        '"""Regular expressions compiled ahead of time, for grammar.regexes. Generated by',
        '`python -m grammar.larkbuild`: do not edit."""',
        "",
        f"PYTHON_VERSION = {tuple(sys.version_info[:2])!r}",
        f"SRE_MAGIC = {_sre.MAGIC!r}  # the regular expression engine's version: the code is valid for it only",
        "",
        "# (pattern, flags) -> what re.compile passes to _sre.compile after the pattern, see larkbuild.sre_arguments",
        "ARGUMENTS = {",
    ]
    lines += [f"    {pattern!r}: {sre_arguments(*pattern)!r}," for pattern in sorted(patterns)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _patterns_compiled_on_import() -> set[tuple[str, int]]:
    """What the grammar modules pass to ``grammar.regexes.compile_regex`` when imported (in a fresh process,
    so that nothing this one did adds to it)."""
    code = ("import importlib, pkgutil, grammar, grammar.regexes as r\n"
            "for info in pkgutil.iter_modules(grammar.__path__):\n"
            "    if not info.name.startswith('_') and info.name != 'larkbuild':\n"
            "        importlib.import_module('grammar.' + info.name)\n"
            "print(sorted(r.REQUESTED))\n")
    import ast
    import subprocess

    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=HERE.parent).stdout
    return set(ast.literal_eval(found))


def generate() -> dict[Path, str]:
    """The generated files' contents (the same bytes on every run, see ``canonical_parse_table``)."""
    return {RUNTIME_FILE: runtime_source(), TOKEN_FILE: token_source(), TABLES_FILE: tables_source(),
            SRE_CODES_FILE: sre_codes_source()}


def main() -> None:
    for path, text in generate().items():
        path.write_text(text)
        print(f"wrote {path} ({len(text)} characters)")


if __name__ == "__main__":
    main()
