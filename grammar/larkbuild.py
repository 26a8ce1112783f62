"""Generating the parser files that ``pybuild`` runs without importing lark.

``pybuild --check`` must answer in well under 150 ms, start-up included, and
``import lark`` alone (its grammar compiler, LALR analysis, Earley parser...)
costs more than 30 ms, plus a pickle load per parser. So the parsers run on two
generated files:

* ``grammar/_lark_runtime.py``: lark's own stand-alone runtime (lexer, LALR
  parser, transformer plumbing), extracted as ``python -m lark.tools.standalone``
  does, without the grammar data, and with the few edits of ``RUNTIME_EDITS``;
* ``grammar/_lalr_tables.py``: the serialized LALR tables of the four parsers
  (escape ``\\`` or backtick x start ``dockerfile`` or ``instructions``),
  compressed, plus a fingerprint of the ``.lark`` files they were built from.

Regenerate both after changing a ``.lark`` file or upgrading lark::

    .venv/bin/python -m grammar.larkbuild

tests/grammar/test_standalone.py regenerates them and compares, so they cannot
go stale unnoticed; and ``grammar.larkload`` checks the fingerprint at run time
and builds the tables with lark (slow, cached on disk) if the grammar changed.

This module imports lark; nothing on the parse path imports it.
"""
from __future__ import annotations

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


def build_tables(escape: str, start: str, cache: str | bool = False) -> dict[str, Any]:
    """The serialized parser (``{"data": ..., "memo": ...}``) for one grammar variant and start."""
    from lark import Lark, Token
    from lark.lark import _LOAD_ALLOWED_OPTIONS

    postlex = _AlwaysAccept() if start == "dockerfile" else None
    parser = Lark.open_from_package("grammar", GRAMMAR_FILES[escape], ("",), start=start, postlex=postlex,
                                    cache=cache, **BUILD_OPTIONS)
    buffer = io.BytesIO()
    parser.save(buffer, _LOAD_ALLOWED_OPTIONS)
    tables = pickle.loads(buffer.getvalue())
    for name in _SOURCE_OPTIONS:
        tables["data"]["options"].pop(name, None)
    parser_data = tables["data"]["parser"]
    parser_data["parser"] = canonical_parse_table(parser_data["parser"])
    return _plain(tables, Token)


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
    """lark's stand-alone runtime, as ``lark.tools.standalone`` writes it before the grammar data."""
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


def tables_source() -> str:
    import lark

    lines = [
        '"""Serialized LALR tables for grammar.larkload. Generated by `python -m grammar.larkbuild`: do not edit."""',
        "",
        f"LARK_VERSION = {lark.__version__!r}",
        f"PYTHON_VERSION = {tuple(sys.version_info[:2])!r}",
        f"FINGERPRINT = {grammar_fingerprint()!r}  # of the .lark files, see grammar.larkload",
        "",
        "# (escape token, start symbol) -> zlib(pickle({'data': ..., 'memo': ...})), as a bytes literal:",
        "# compiling it costs next to nothing, and reading it needs no base64 decoding (nor import).",
        "TABLES = {",
    ]
    for escape in GRAMMAR_FILES:
        for start in STARTS:
            encoded = encode_tables(build_tables(escape, start))
            chunks = [encoded[i:i + 64] for i in range(0, len(encoded), 64)]
            lines.append(f"    ({escape!r}, {start!r}): (")
            lines += [f"        {chunk!r}" for chunk in chunks]
            lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def generate() -> dict[Path, str]:
    """The generated files' contents (the same bytes on every run, see ``canonical_parse_table``)."""
    return {RUNTIME_FILE: runtime_source(), TABLES_FILE: tables_source()}


def main() -> None:
    for path, text in generate().items():
        path.write_text(text)
        print(f"wrote {path} ({len(text)} characters)")


if __name__ == "__main__":
    main()
