"""``compile_regex``: ``re.compile`` for the grammar's fixed patterns, compiled ahead of time.

``re`` parses a pattern and compiles it to the regular expression engine's code
in Python, 0.1 to 1 ms a pattern; the engine itself (``_sre.compile``) only wraps
that code in a ``Pattern``. ``pybuild --check`` needs some fifty patterns (the
lexers' and the modules'), so their code is generated ahead of time into
``grammar/_sre_codes.py`` by ``python -m grammar.larkbuild``, with the engine's
version: another Python (another ``_sre.MAGIC``) or a pattern that is not there
(a grammar edited since) compiles with ``re`` as usual. Either way the result is
the ``Pattern`` ``re.compile`` makes: equal code, flags and groups
(tests/grammar/test_standalone.py compares them).
"""
from __future__ import annotations

import re
import sys

import _sre

from grammar import _sre_codes

_USABLE = _sre_codes.SRE_MAGIC == _sre.MAGIC and _sre_codes.PYTHON_VERSION == sys.version_info[:2]
# (pattern, flags) of every call, so that the generator can list the patterns modules compile on import.
REQUESTED: set[tuple[str, int]] = set()


def compile_regex(regexp: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(regexp, flags)``, from the engine code compiled ahead of time if it is there."""
    key = (regexp, int(flags))
    REQUESTED.add(key)
    arguments = _sre_codes.ARGUMENTS.get(key) if _USABLE else None
    if arguments is None:
        return re.compile(regexp, flags)
    final_flags, code, groups, group_index, index_group = arguments
    return _sre.compile(regexp, final_flags, list(code), groups, group_index, index_group)
