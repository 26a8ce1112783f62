"""BuildKit's BFlags rules: kinds, values, duplicates, unknown flags, spans."""
from __future__ import annotations

import pytest

from grammar.ast import Span
from grammar.failures import InstructionError
from grammar.flags import FlagKind, flag_specs, locate_flags, parse_flags

SPECS = {"link": FlagKind.BOOL, "from": FlagKind.STRING, "mount": FlagKind.STRINGS}


def parse(*words: str):
    spans = [Span(1, 1, 1, 1)] * len(words)
    return parse_flags(words, spans, SPECS)


@pytest.mark.parametrize(
    ("word", "expected"),
    [("--link", True), ("--link=true", True), ("--link=TRUE", True), ("--link=false", False), ("--link=False", False)],
)
def test_bool_flag_forms(word: str, expected: bool) -> None:
    assert parse(word).boolean("link") is expected


def test_unused_flags_read_as_none() -> None:
    flags = parse()
    assert flags.boolean("link") is None
    assert flags.string("from") is None
    assert flags.strings("mount") == ()
    assert not flags.used("from")


def test_string_flag_keeps_everything_after_the_first_equals() -> None:
    assert parse("--from=a=b").string("from") == "a=b"
    assert parse("--from=").string("from") == ""


def test_repeatable_flag_collects_values_in_order() -> None:
    assert parse("--mount=a", "--mount=b").strings("mount") == ("a", "b")


def test_double_dash_ends_the_flags() -> None:
    assert [f.name for f in parse("--link", "--", "--bogus").flags] == ["link"]


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (("--from",), "missing a value on flag: --from"),
        (("--mount",), "missing a value on flag: --mount"),
        (("--link=",), "missing a value on flag: --link"),
        (("--link=yes",), "expecting boolean value for flag --link, not: yes"),
        (("--from=a", "--from=b"), "duplicate flag specified: --from"),
        (("--link", "--link=false"), "duplicate flag specified: --link"),
        (("--mont=x",), "unknown flag: --mont (did you mean mount?)"),
        (("--chown=x",), "unknown flag: --chown"),
        (("-x",), "arg should start with -- : -x"),
    ],
    ids=lambda value: value if isinstance(value, str) else " ".join(value),
)
def test_errors_use_buildkit_wording(words: tuple[str, ...], message: str) -> None:
    with pytest.raises(InstructionError) as caught:
        parse(*words)
    assert caught.value.message == message


def test_every_instruction_flag_set() -> None:
    assert set(flag_specs("from")) == {"platform"}
    assert set(flag_specs("run")) == {"mount", "network", "security"}
    assert set(flag_specs("run", labs=True)) == {"mount", "network", "security", "device"}
    assert set(flag_specs("copy")) == {"from", "chown", "chmod", "link", "parents", "exclude"}
    assert set(flag_specs("add")) == {"chown", "chmod", "link", "exclude", "keep-git-dir", "checksum", "unpack"}
    assert set(flag_specs("healthcheck")) == {"interval", "timeout", "start-period", "start-interval", "retries"}
    assert flag_specs("workdir") == {}


def test_flag_spans_point_at_each_flag_word() -> None:
    lines = ["COPY --chown=1:1 \\", "     --chmod=644 --chown=x a b"]
    spans = locate_flags(["--chown=1:1", "--chmod=644"], 1, 2, lines)
    assert spans == (Span(1, 6, 1, 17), Span(2, 6, 2, 17))


def test_flag_spans_fall_back_to_the_first_line_without_source() -> None:
    assert locate_flags(["--link"], 3, 3, []) == (Span(3, 1, 3, 1),)
