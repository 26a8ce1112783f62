"""HEALTHCHECK: ``NONE`` or ``[flags] CMD command``, with Go duration flags.

Durations use Go's ``time.ParseDuration`` syntax (``30s``, ``1m30s``,
``1.5h``, ``250ms``); 0 means "not set" and anything else must be at least 1ms.
"""
from __future__ import annotations

import re

from grammar.ast import Healthcheck
from grammar.failures import InstructionError
from grammar.flags import ParsedFlags
from grammar.gotext import quote
from grammar.regexes import compile_regex
from grammar.request import Request, handle_json_args, require_at_least_one

_NANOSECONDS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MINIMUM = 1_000_000  # 1ms
_NUMBER = compile_regex(r"(\d*)(?:\.(\d*))?")
_UNIT = compile_regex(r"[^0-9.]*")
_INT32 = 2**31


def parse_healthcheck(request: Request) -> Healthcheck:
    require_at_least_one(request, "HEALTHCHECK")
    kind = request.args[0].upper()
    rest = request.args[1:]
    if kind == "NONE":
        # BuildKit never parses flags here, so they are silently ignored.
        if rest:
            raise InstructionError("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(span=request.span, source=request.source, test=("NONE",))
    flags = request.flags()
    if kind != "CMD":
        raise InstructionError(f"Unknown type {quote(kind)} in HEALTHCHECK (try CMD)")
    command = handle_json_args(rest, request.node.json)
    if not command:
        raise InstructionError("Missing command after HEALTHCHECK CMD")
    return Healthcheck(
        span=request.span,
        source=request.source,
        test=("CMD" if request.node.json else "CMD-SHELL", *command),
        interval=_interval(flags, "interval"),
        timeout=_interval(flags, "timeout"),
        start_period=_interval(flags, "start-period"),
        start_interval=_interval(flags, "start-interval"),
        retries=_retries(flags.string("retries") or ""),
        flags=flags.flags,
    )


def parse_interval(name: str, text: str) -> int:
    """A HEALTHCHECK duration flag in nanoseconds: "" and 0 mean unset, else >= 1ms."""
    if not text:
        return 0
    duration = parse_go_duration(text)
    if duration != 0 and duration < _MINIMUM:
        raise InstructionError(f'Interval "{name}" cannot be less than 1ms')
    return duration


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration``, in nanoseconds (truncated like Go)."""
    invalid = InstructionError(f"time: invalid duration {quote(text)}")
    rest, negative = text, False
    if rest[:1] in ("-", "+"):
        negative, rest = rest[0] == "-", rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    while rest:
        number = _NUMBER.match(rest)
        whole, fraction = number.group(1), number.group(2) or ""  # type: ignore[union-attr]
        if not whole and not fraction:
            raise invalid
        rest = rest[number.end():]  # type: ignore[union-attr]
        unit = _UNIT.match(rest).group()  # type: ignore[union-attr]
        if not unit:
            raise InstructionError(f"time: missing unit in duration {quote(text)}")
        if unit not in _NANOSECONDS:
            raise InstructionError(f"time: unknown unit {quote(unit)} in duration {quote(text)}")
        rest = rest[len(unit):]
        scale = _NANOSECONDS[unit]
        total += int(whole or "0") * scale + (int(fraction) * scale // 10 ** len(fraction) if fraction else 0)
        if total > 2**63 - 1:
            raise invalid
    return -total if negative else total


def _interval(flags: ParsedFlags, name: str) -> int:
    return parse_interval(name, flags.string(name) or "")


def _retries(text: str) -> int:
    if not text:
        return 0
    if not re.fullmatch(r"[+-]?\d+", text):
        raise InstructionError(f"strconv.ParseInt: parsing {quote(text)}: invalid syntax")
    retries = int(text)
    if not -_INT32 <= retries < _INT32:
        raise InstructionError(f"strconv.ParseInt: parsing {quote(text)}: value out of range")
    if retries < 0:
        raise InstructionError(f"--retries cannot be negative ({retries})")
    return retries
