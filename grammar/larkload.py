"""Building the LALR parsers from dockerfile.lark, with an on-disk table cache.

Lark is imported lazily by the callers of this module, so importing
``grammar`` stays cheap. The cache is a pickle, so it lives in our own user
cache directory rather than the shared temp dir.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lark import Lark, __version__ as lark_version

GRAMMAR_FILES = {"\\": "dockerfile.lark", "`": "dockerfile_backtick.lark"}


def open_grammar(escape: str, start: str, **options: Any) -> Lark:
    """One LALR parser for ``start`` in the grammar that matches ``escape``."""
    grammar_file = GRAMMAR_FILES[escape]
    return Lark.open_from_package(
        "grammar",
        grammar_file,
        ("",),
        parser="lalr",
        lexer="contextual",
        start=start,
        cache=_cache_file(grammar_file, start),
        **options,
    )


def _cache_file(grammar_file: str, start: str) -> str | bool:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    directory = Path(base) / "pybuild" / "lark"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False  # read-only home: build the tables in memory every time
    stem = grammar_file.removesuffix(".lark")
    return str(directory / f"{stem}-{start}-{lark_version}.lalr")
