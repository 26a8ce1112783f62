"""Instruction flags, checked the way BuildKit's ``BFlags`` checks them.

Each instruction declares the flags it accepts and their kind:

* ``BOOL``: ``--link``, ``--link=true`` or ``--link=false`` (any case).
* ``STRING``: needs ``=`` (``--from stage`` is "missing a value"); may not repeat.
* ``STRINGS``: like STRING but repeatable (``--mount``, ``--exclude``, ``--device``).

A bare ``--`` ends the flags. The first problem found is reported, with
BuildKit's wording (``unknown flag: --mont (did you mean mount?)``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum

from grammar.ast import Flag, Span
from grammar.failures import InstructionError
from grammar.records import record
from grammar.suggest import with_hint


class FlagKind(Enum):
    BOOL = "bool"
    STRING = "string"
    STRINGS = "strings"


FlagSpecs = Mapping[str, FlagKind]

_COPY_LIKE: dict[str, FlagKind] = {
    "chown": FlagKind.STRING,
    "chmod": FlagKind.STRING,
    "link": FlagKind.BOOL,
    "exclude": FlagKind.STRINGS,
}

# The flags each instruction accepts in the mainline (non-labs) frontend.
# Instructions missing here accept none: any flag is "unknown".
INSTRUCTION_FLAGS: Mapping[str, FlagSpecs] = {
    "from": {"platform": FlagKind.STRING},
    "run": {"mount": FlagKind.STRINGS, "network": FlagKind.STRING, "security": FlagKind.STRING},
    "copy": {**_COPY_LIKE, "from": FlagKind.STRING, "parents": FlagKind.BOOL},
    "add": {
        **_COPY_LIKE,
        "keep-git-dir": FlagKind.BOOL,
        "checksum": FlagKind.STRING,
        "unpack": FlagKind.BOOL,
    },
    "healthcheck": {
        "interval": FlagKind.STRING,
        "timeout": FlagKind.STRING,
        "start-period": FlagKind.STRING,
        "start-interval": FlagKind.STRING,
        "retries": FlagKind.STRING,
    },
}

# Extra flags of the labs channel (``docker/dockerfile:1-labs``).
LABS_FLAGS: Mapping[str, FlagSpecs] = {"run": {"device": FlagKind.STRINGS}}


def flag_specs(keyword: str, *, labs: bool = False) -> FlagSpecs:
    """The flags ``keyword`` (lower-case) accepts."""
    specs = dict(INSTRUCTION_FLAGS.get(keyword, {}))
    if labs:
        specs.update(LABS_FLAGS.get(keyword, {}))
    return specs


@record
class ParsedFlags:
    """The flags an instruction was given, validated against its specs."""

    flags: tuple[Flag, ...]

    def used(self, name: str) -> bool:
        return any(flag.name == name for flag in self.flags)

    def string(self, name: str) -> str | None:
        """The value of a STRING flag, or None when it was not given."""
        return next((flag.value for flag in self.flags if flag.name == name), None)

    def strings(self, name: str) -> tuple[str, ...]:
        """Every value of a repeatable flag, in order."""
        return tuple(flag.value or "" for flag in self.flags if flag.name == name)

    def boolean(self, name: str) -> bool | None:
        """True/False for a BOOL flag, or None when it was not given."""
        value = self.string(name)
        return None if value is None else value == "true"


def parse_flags(words: Sequence[str], spans: Sequence[Span], specs: FlagSpecs) -> ParsedFlags:
    """Check ``words`` (``--name=value``) against ``specs``; raise ``InstructionError``."""
    parsed: list[Flag] = []
    seen: set[str] = set()
    for word, span in zip(words, spans, strict=True):
        if word == "--":
            break
        if not word.startswith("--"):
            raise InstructionError(f"arg should start with -- : {word}")
        written, has_value, value = word.partition("=")
        name = written[2:]
        kind = specs.get(name)
        if kind is None:
            raise InstructionError(with_hint(f"unknown flag: {written}", name, specs))
        if name in seen and kind is not FlagKind.STRINGS:
            raise InstructionError(f"duplicate flag specified: {written}")
        seen.add(name)
        parsed.append(Flag(name, _checked_value(kind, written, value if has_value else None), span))
    return ParsedFlags(tuple(parsed))


def _checked_value(kind: FlagKind, written: str, value: str | None) -> str:
    if kind is not FlagKind.BOOL:
        if value is None:
            raise InstructionError(f"missing a value on flag: {written}")
        return value
    if value == "":
        raise InstructionError(f"missing a value on flag: {written}")
    lowered = (value or "true").lower()
    if lowered not in ("true", "false"):
        raise InstructionError(f"expecting boolean value for flag {written}, not: {value}")
    return lowered


def locate_flags(flags: Sequence[str], start_line: int, end_line: int, lines: Sequence[str]) -> tuple[Span, ...]:
    """A span per flag word, found by scanning the instruction's physical lines.

    The parser keeps only the flag text (after quote removal), so the position
    is recovered from the source: the n-th ``--name`` token of the instruction.
    Falls back to the first line when the source is unavailable.
    """
    spans: list[Span] = []
    line_number, column = start_line, 0
    for word in flags:
        needle = word.partition("=")[0]
        found = _find_token(needle, lines, line_number, column, end_line)
        if found is None:
            spans.append(Span(start_line, 1, start_line, 1))
            continue
        line_number, start, end = found
        spans.append(Span(line_number, start + 1, line_number, end + 1))
        column = end
    return tuple(spans)


def _find_token(
    needle: str, lines: Sequence[str], line_number: int, column: int, end_line: int
) -> tuple[int, int, int] | None:
    while 1 <= line_number <= min(end_line, len(lines)):
        text = lines[line_number - 1]
        start = text.find(needle, column)
        if start >= 0:
            end = start
            while end < len(text) and not text[end].isspace():
                end += 1
            return line_number, start, end
        line_number, column = line_number + 1, 0
    return None
