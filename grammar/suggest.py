"""BuildKit's "(did you mean X?)" hints, as ``util/suggest`` computes them.

The closest option within an edit distance of 2 wins; an exact match means the
error was not about a typo, so no hint is given.
"""
from __future__ import annotations

from collections.abc import Iterable

# BuildKit (like HCL) only suggests options closer than this many edits.
_MAX_DISTANCE = 3


def levenshtein(a: str, b: str) -> int:
    """The number of single-character edits that turn ``a`` into ``b``."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost))
        previous = current
    return previous[-1]


def closest(value: str, options: Iterable[str], *, case_sensitive: bool = True) -> str | None:
    """The option BuildKit would suggest for ``value``, or None."""
    wanted = value if case_sensitive else value.lower()
    best: str | None = None
    best_distance = _MAX_DISTANCE
    # Sorted so that ties resolve the same way on every run (Go iterates a map).
    for option in sorted(options):
        candidate = option if case_sensitive else option.lower()
        if candidate == wanted:
            return None
        distance = levenshtein(wanted, candidate)
        if distance < best_distance:
            best, best_distance = _match_case(candidate, value, case_sensitive), distance
    return best


def with_hint(message: str, value: str, options: Iterable[str], *, case_sensitive: bool = True) -> str:
    """``message`` plus `` (did you mean X?)`` when a close option exists."""
    match = closest(value, options, case_sensitive=case_sensitive)
    return message if match is None else f"{message} (did you mean {match}?)"


def _match_case(option: str, original: str, case_sensitive: bool) -> str:
    # BuildKit echoes the user's casing style: "RUNN" suggests "RUN", "runn" suggests "run".
    if case_sensitive:
        return option
    if original == original.lower():
        return option.lower()
    if original == original.upper():
        return option.upper()
    return option
