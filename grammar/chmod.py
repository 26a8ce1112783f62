"""``COPY/ADD --chmod``: octal (``0644``) or chmod(1) symbolic (``u+x,g-w``) modes.

BuildKit tries octal first; anything that starts with a digit but is not an
octal number up to 07777 gets the historic "invalid chmod parameter" message.
Other strings are read with the BSD ``setmode`` grammar::

    mode   ::= clause [, clause ...]
    clause ::= [who ...] action [action ...]
    action ::= op [perm ...] | op [ugo]
    who    ::= a | u | g | o
    op     ::= + | - | =
    perm   ::= r | w | x | X | s | t

Validation runs on the **expanded** value (``--chmod=${mode}`` is allowed).
"""
from __future__ import annotations

import re

from grammar.failures import InstructionError
from grammar.records import record
from grammar.regexes import compile_regex

_WHO_BITS = {"u": 0o4700, "g": 0o2070, "o": 0o0007, "a": 0o6777}
_ALL_CLASSES = 0o6777  # setmode's "standard bits": everything but the sticky bit
_PERM_BITS = {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": 0o1000}
_CLASS_SHIFT = {"u": 6, "g": 3, "o": 0}
_CLAUSE = r"[ugoa]*(?:[-+=][rwxXstugo]*)+"
_SYMBOLIC = compile_regex(rf"{_CLAUSE}(?:,{_CLAUSE})*")


@record
class ChmodSpec:
    """A validated ``--chmod``: either an absolute ``octal`` mode or a ``symbolic`` one."""

    text: str
    octal: int | None

    def apply(self, mode: int, *, is_dir: bool = False) -> int:
        """The permission bits ``mode`` gets after this chmod (as chmod(1) with umask 0)."""
        if self.octal is not None:
            return self.octal
        for clause in self.text.split(","):
            mode = _apply_clause(clause, mode & 0o7777, is_dir)
        return mode


def parse_chmod(text: str) -> ChmodSpec:
    """Validate an expanded ``--chmod`` value; raise ``InstructionError`` like BuildKit."""
    invalid = f"invalid chmod parameter: '{text}'. it should be octal string and between 0 and 07777"
    if text[:1] in tuple("0123456789"):
        # Anything numeric-looking is octal or "invalid chmod parameter" (BuildKit keeps the old message).
        if any(char not in "01234567" for char in text) or int(text, 8) > 0o7777:
            raise InstructionError(invalid)
        return ChmodSpec(text, int(text, 8))
    if not _SYMBOLIC.fullmatch(text):
        raise InstructionError("invalid syntax")  # dchapes/mode's ErrSyntax, returned as is
    return ChmodSpec(text, None)


def _apply_clause(clause: str, mode: int, is_dir: bool) -> int:
    who_text = clause[: len(clause) - len(clause.lstrip("ugoa"))]
    who = 0
    for letter in who_text:
        who |= _WHO_BITS[letter]
    original = mode
    for op, perms in re.findall(r"([-+=])([^-+=]*)", clause[len(who_text):]):
        affected = who or _ALL_CLASSES
        if "t" in perms and (who == 0 or who & ~0o0007):
            affected |= 0o1000  # sticky only counts when more than "o" is named
        bits = _perm_bits(perms, mode, original, is_dir, op) & affected
        if op == "=":
            mode &= ~affected
        mode = mode & ~bits if op == "-" else mode | bits
    return mode


def _perm_bits(perms: str, mode: int, original: int, is_dir: bool, op: str) -> int:
    bits = 0
    for letter in perms:
        if letter in _CLASS_SHIFT:
            bits |= ((mode >> _CLASS_SHIFT[letter]) & 0o7) * 0o111  # copy a class's bits
        elif letter == "X":
            if op == "+" and (is_dir or original & 0o111):
                bits |= 0o111
        else:
            bits |= _PERM_BITS[letter]
    return bits
