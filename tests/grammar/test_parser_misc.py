"""Tables from BuildKit's parser_test.go, json_test.go and line_parsers_test.go."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from grammar.errors import DockerfileSyntaxError
from grammar.parser import parse_nodes

DERIVED = Path(__file__).resolve().parents[1] / "data" / "buildkit" / "derived" / "frontend" / "dockerfile" / "parser"
MISC = json.loads((DERIVED / "parser_test.misc.json").read_text())
VALID_ARRAYS = MISC["json_arrays_valid"]
NAME_VAL = MISC["name_val"]["cases"]


def test_table_sizes() -> None:
    assert len(MISC["parse_words"]["cases"]) == 8
    assert len(VALID_ARRAYS) == 8
    assert len(MISC["json_arrays_invalid_not_all_strings"]) == 8
    assert len(NAME_VAL) == 3


@pytest.mark.parametrize("case", MISC["parse_words"]["cases"], ids=lambda case: case["input"])
def test_parse_words(case: dict) -> None:
    """ARG arguments are BuildKit's parseWords: quote-aware, quotes kept."""
    assert list(parse_nodes(f"ARG {case['input']}").nodes[0].args) == case["expected"]


@pytest.mark.parametrize("text", sorted(VALID_ARRAYS), ids=repr)
def test_valid_json_array(text: str) -> None:
    node = parse_nodes(f"CMD {text}").nodes[0]
    assert node.json and list(node.args) == VALID_ARRAYS[text]


@pytest.mark.parametrize("text", MISC["json_arrays_invalid_not_all_strings"])
def test_json_array_with_non_strings_is_an_error(text: str) -> None:
    with pytest.raises(DockerfileSyntaxError, match="arrays must be comprised of strings only"):
        parse_nodes(f"CMD {text}")


@pytest.mark.parametrize("case", NAME_VAL, ids=lambda case: case["input"])
def test_name_val(case: dict) -> None:
    if case.get("error"):
        with pytest.raises(DockerfileSyntaxError, match=f"{case['instruction']} must have two arguments"):
            parse_nodes(f"{case['instruction']} {case['input']}")
    else:
        for keyword in ("ENV", "LABEL"):
            assert list(parse_nodes(f"{keyword} {case['input']}").nodes[0].args) == case["nodes"]


def test_empty_continuation_warnings() -> None:
    table = MISC["empty_continuation_warnings"]
    warnings = parse_nodes(table["dockerfile"]).warnings
    assert len(warnings) == table["expected_warning_count"]
    for warning, expected in zip(warnings, table["warning_short_contains"]):
        assert expected in warning.message
    assert [warning.line for warning in warnings] == [7, 13]


@pytest.mark.parametrize("extra", [0, 1], ids=["65536-bytes", "65537-bytes"])
def test_line_too_long(extra: int) -> None:
    text = "FROM a\nRUN " + "x" * (65536 - 4 + extra) + "\nRUN ok\n"
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_nodes(text)
    assert caught.value.message == MISC["line_too_long"]["error"]
    assert caught.value.line == 2


def test_longest_accepted_line() -> None:
    parsed = parse_nodes("FROM a\nRUN " + "é" * ((65535 - 4) // 2) + "\n")
    assert len(parsed.nodes) == 2


def test_long_line_before_any_instruction() -> None:
    with pytest.raises(DockerfileSyntaxError, match="file with no instructions"):
        parse_nodes("# c\n" + "x" * 70000 + "\n")


def test_json_fallbacks() -> None:
    """Invalid JSON quietly falls back to shell form (or words for COPY)."""
    nodes = parse_nodes("CMD [\"a\", NaN]\nCMD [1e999]\nCOPY [a b] c\nCMD [] x\nENTRYPOINT []random\n").nodes
    assert [(node.args, node.json) for node in nodes] == [
        (('["a", NaN]',), False), (("[1e999]",), False), (("[a", "b]", "c"), False),
        (("[] x",), False), (("[]random",), False),
    ]


def test_json_lone_surrogate_becomes_replacement_character() -> None:
    assert parse_nodes('CMD ["\\ud800x"]').nodes[0].args == ("\ufffdx",)


def test_flags_stop_at_first_non_flag_and_keep_quotes_out() -> None:
    node = parse_nodes('RUN --mount="type=cache,target=/x y" --network=none -- --not-a-flag echo\n').nodes[0]
    assert node.flags == ("--mount=type=cache,target=/x y", "--network=none")
    assert node.args == ("--not-a-flag echo",)


def test_flag_bytes_become_latin1_like_buildkit() -> None:
    assert parse_nodes("COPY --chown=é a b").nodes[0].flags == ("--chown=\u00c3\u00a9",)


def test_keywords_are_case_insensitive_and_unknown_words_kept() -> None:
    nodes = parse_nodes("from a\nRuN echo\nFOO bar baz\nfromage x\n").nodes
    assert [(node.keyword, node.args) for node in nodes] == [
        ("from", ("a",)), ("run", ("echo",)), ("foo", ()), ("fromage", ()),
    ]


def test_env_syntax_error_names_the_word() -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_nodes("FROM a\nENV a=b c\n")
    assert caught.value.message == "Syntax error - can't find = in \"c\". Must be of the form: name=value"
    assert caught.value.line == 2


def test_bom_crlf_and_doc_comments() -> None:
    parsed = parse_nodes("\ufeff# syntax=docker/dockerfile:1\r\n# the base\r\nFROM a AS b\r\n#\r\n# Version arg\r\nARG V=1\r\n")
    assert [node.args for node in parsed.nodes] == [("a", "AS", "b"), ("V=1",)]
    assert parsed.nodes[0].doc_comment == "syntax=docker/dockerfile:1\nthe base"
    assert parsed.nodes[1].doc_comment == "Version arg"
    assert parsed.directives.syntax == "docker/dockerfile:1"


def test_backtick_escape() -> None:
    parsed = parse_nodes("# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo `\"x`\"\nENV P=\"c:\\a`\n  b\"\n")
    assert parsed.directives.escape == "`"
    assert [node.args for node in parsed.nodes[1:]] == [("dir c:\\   && echo `\"x`\"",), ("P", '"c:\\a  b"', "=")]


def test_onbuild_trigger_node() -> None:
    node = parse_nodes("ONBUILD --x=1 COPY --from=a  b c\n").nodes[0]
    assert (node.keyword, node.flags, node.args) == ("onbuild", ("--x=1",), ())
    inner = node.inner
    assert inner is not None
    assert (inner.keyword, inner.flags, inner.args, inner.original) == (
        "copy", ("--from=a",), ("b", "c"), "COPY --from=a  b c")


def test_healthcheck_shapes() -> None:
    nodes = parse_nodes('HEALTHCHECK NONE\nHEALTHCHECK --interval=1s CMD ["a", "b"]\nHEALTHCHECK CMD x y\n').nodes
    assert [(node.args, node.json) for node in nodes] == [
        (("NONE",), False), (("CMD", "a", "b"), True), (("CMD", "x y"), False)]


def test_line_with_only_a_continuation() -> None:
    nodes = parse_nodes("FROM a\n\\\n \n").nodes
    assert [(node.keyword, node.args) for node in nodes] == [("from", ("a",)), ("", ())]


@pytest.mark.parametrize("text, message", [
    ("# escape=x\nFROM a\n", "invalid escape token 'x' does not match ` or \\"),
    ("# escape=\\\n# escape=`\nFROM a\n", "only one escape parser directive can be used"),
    ("", "file with no instructions"),
    ("\n\n# c\n", "file with no instructions"),
])
def test_file_level_errors(text: str, message: str) -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_nodes(text)
    assert caught.value.message == message and caught.value.line >= 1
