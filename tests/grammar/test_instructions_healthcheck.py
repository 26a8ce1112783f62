"""HEALTHCHECK: NONE/CMD, CMD-SHELL, Go durations and retries."""
from __future__ import annotations

import pytest
from test_instructions_support import convert, node

from grammar.ast import Healthcheck
from grammar.errors import DockerfileSyntaxError
from grammar.failures import InstructionError
from grammar.healthcheck import parse_go_duration, parse_interval

SECOND = 1_000_000_000


def test_none_ignores_flags() -> None:
    result = convert(node("healthcheck", "NONE", flags=("--bogus",)))
    assert isinstance(result, Healthcheck) and result.disabled and result.test == ("NONE",)


def test_cmd_exec_and_shell_forms() -> None:
    assert convert(node("healthcheck", "CMD", "curl", "-f", json=True)).test == ("CMD", "curl", "-f")
    assert convert(node("healthcheck", "cmd", "curl -f x")).test == ("CMD-SHELL", "curl -f x")


def test_all_flags() -> None:
    flags = ("--interval=30s", "--timeout=1m30s", "--start-period=1.5s", "--start-interval=250ms", "--retries=3")
    result = convert(node("healthcheck", "CMD", "true", flags=flags))
    assert (result.interval, result.timeout, result.start_period, result.start_interval, result.retries) == (
        30 * SECOND, 90 * SECOND, SECOND * 3 // 2, SECOND // 4, 3,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "flags", "message"),
    [
        ((), (), "HEALTHCHECK requires at least one argument"),
        (("NONE", "x"), (), "HEALTHCHECK NONE takes no arguments"),
        (("CMD",), (), "Missing command after HEALTHCHECK CMD"),
        (("RUN", "x"), (), 'Unknown type "RUN" in HEALTHCHECK (try CMD)'),
        (("CMD", "x"), ("--interval=50ns",), 'Interval "interval" cannot be less than 1ms'),
        (("CMD", "x"), ("--timeout=-1s",), 'Interval "timeout" cannot be less than 1ms'),
        (("CMD", "x"), ("--retries=-1",), "--retries cannot be negative (-1)"),
        (("CMD", "x"), ("--retries=x",), 'strconv.ParseInt: parsing "x": invalid syntax'),
        (("CMD", "x"), ("--interval=5",), 'time: missing unit in duration "5"'),
        (("CMD", "x"), ("--interval=5y",), 'time: unknown unit "y" in duration "5y"'),
        (("CMD", "x"), ("--interval=.s",), 'time: invalid duration ".s"'),
        (("CMD", "x"), ("--interval",), "missing a value on flag: --interval"),
    ],
)
def test_errors(args: tuple[str, ...], flags: tuple[str, ...], message: str) -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        convert(node("healthcheck", *args, flags=flags))
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [("0", 0), ("1h", 3600 * SECOND), ("1h2m3s", 3723 * SECOND), ("1.5m", 90 * SECOND), ("-2s", -2 * SECOND),
     ("10us", 10_000), ("10\u00b5s", 10_000), ("7ns", 7), ("+1ms", 1_000_000)],
)  # fmt: skip
def test_go_durations(text: str, nanoseconds: int) -> None:
    assert parse_go_duration(text) == nanoseconds


def test_interval_minimum() -> None:
    # parse_test.misc.json "interval": 50ns fails, 0ms means unset, 1ms is fine.
    assert parse_interval("interval", "0ms") == 0
    assert parse_interval("interval", "1ms") == 1_000_000
    with pytest.raises(InstructionError, match="cannot be less than 1ms"):
        parse_interval("interval", "50ns")
