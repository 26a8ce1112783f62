"""Exec-form JSON arrays, decoded the way Go's encoding/json decodes them.

The grammar's EXEC_ARRAY terminal already accepts exactly the arrays of JSON
strings. Text that only *starts* with ``[`` is classified here: another valid
JSON array is an error (``CMD ["a", 1]``), anything else falls back to the
shell or word form, as BuildKit's ``parseMaybeJSON`` does.
"""
from __future__ import annotations

import json
import math

from grammar.errors import GrammarError
from grammar.regexes import compile_regex

NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"
# Go's decoder turns unpaired surrogate escapes (\ud800) into U+FFFD.
_LONE_SURROGATE = compile_regex("[\ud800-\udfff]")


class NotStringArrayError(GrammarError):
    def __init__(self) -> None:
        super().__init__(NOT_STRING_ARRAY)


class _InvalidForGo(ValueError):
    """Valid for Python's json but not for Go's (NaN, numbers beyond float64)."""


def decode_string_array(text: str) -> tuple[str, ...]:
    """Decode an array the grammar has already checked to hold only strings."""
    return tuple(_LONE_SURROGATE.sub("\ufffd", item) for item in json.loads(text))


def classify_bracket_text(text: str) -> tuple[str, ...] | None:
    """The strings of a JSON array, None if ``text`` is not JSON at all.

    Raises NotStringArrayError for a valid array holding anything but strings.
    """
    try:
        value = json.loads(text, parse_constant=_reject, parse_float=_go_number, parse_int=_go_number)
    except (ValueError, _InvalidForGo):
        return None
    except RecursionError:
        raise NotStringArrayError() from None  # nested deeper than Python recurses: not strings
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise NotStringArrayError()
    return tuple(_LONE_SURROGATE.sub("\ufffd", item) for item in value)


def _reject(constant: str) -> float:
    raise _InvalidForGo(constant)


def _go_number(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise _InvalidForGo(text)  # float64 overflow is a decode error in Go
    return number
