"""Loading the LALR parsers of dockerfile.lark without importing lark.

``grammar.lalrdrive.FastParser`` parses from plain tables built ahead of time
(``grammar._lalr_tables.FAST``, see ``fast_tables``). Only when it hands a parse
over (a syntax error) is lark's own parser loaded (``open_grammar``): lark's
stand-alone runtime (``grammar._lark_runtime``) with the same tables in lark's
serialized form (``_lalr_tables.TABLES``), a zlib/pickle decode and lark's own
deserialization, exactly what lark does with its table cache.
``grammar.larkbuild`` generates all of these.

If a ``.lark`` file no longer matches the fingerprint the tables were built from
(someone edited the grammar and has not run ``python -m grammar.larkbuild`` yet),
the tables are built with lark instead, cached under the user's cache directory.
That is slow but correct; tests/grammar/test_standalone.py fails until the files
are regenerated.
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

GRAMMAR_FILES = {"\\": "dockerfile.lark", "`": "dockerfile_backtick.lark"}
STARTS = ("dockerfile", "instructions")
_HERE = Path(__file__).resolve().parent


def open_grammar(escape: str, start: str, **options: Any) -> Any:
    """One LALR parser (a stand-alone ``Lark``) for ``start`` in the grammar that matches ``escape``."""
    from grammar._lark_runtime import Lark

    serialized = tables(escape, start)
    return Lark._load_from_dict(serialized["data"], serialized["memo"], **options)  # as Lark_StandAlone() does


def fast_tables(escape: str, start: str) -> dict[str, Any]:
    """The plain tables ``grammar.lalrdrive.FastParser`` runs for ``start`` in the grammar that matches ``escape``."""
    from grammar import _lalr_tables

    if _tables_are_current():
        return _lalr_tables.FAST[(escape, start)]
    from grammar.larkbuild import fast_tables as build_fast_tables  # the grammar changed: build with lark (slow)

    return build_fast_tables(tables(escape, start), start)


def grammar_fingerprint() -> str:
    """A cheap checksum of the grammar files (CRC-32: this detects edits, it is no security measure)."""
    checksum = 0
    for name in sorted(GRAMMAR_FILES.values()):
        checksum = zlib.crc32(name.encode() + b"\0" + (_HERE / name).read_bytes(), checksum)
    return f"crc32:{checksum:08x}"


def tables(escape: str, start: str) -> dict[str, Any]:
    """The serialized parser (``{"data": ..., "memo": ...}``) for ``escape`` and ``start``."""
    from grammar import _lalr_tables

    if _tables_are_current():
        import pickle

        return pickle.loads(zlib.decompress(_lalr_tables.TABLES[(escape, start)]))
    from grammar.larkbuild import build_tables  # the grammar changed: build with lark (slow)

    return build_tables(escape, start, cache=_cache_file(GRAMMAR_FILES[escape], start))


def _tables_are_current() -> bool:
    from grammar import _lalr_tables

    return _lalr_tables.FINGERPRINT == grammar_fingerprint()


def _cache_file(grammar_file: str, start: str) -> str | bool:
    from lark import __version__ as lark_version

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    directory = Path(base) / "pybuild" / "lark"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False  # read-only home: build the tables in memory every time
    stem = grammar_file.removesuffix(".lark")
    return str(directory / f"{stem}-{start}-{lark_version}.lalr")
