"""Parser directives: BuildKit's directives_test.go tables."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from grammar.directives import detect_syntax, directive_block, parse_directive
from grammar.parser import parse_nodes

TABLES = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "buildkit" / "derived" / "frontend" / "dockerfile" / "parser"
     / "directives_test.json").read_text(encoding="utf-8")
)


def test_table_sizes() -> None:
    assert [len(TABLES[key]) for key in ("parse_all", "detect_syntax", "parse_directive_check")] == [2, 10, 5]


@pytest.mark.parametrize("case", TABLES["parse_all"], ids=lambda case: case["input"])
def test_parse_all(case: dict) -> None:
    found = directive_block(case["input"].split("\n"))
    assert [{"name": d.name, "value": d.value} for d in found] == case["expected"]


def check_match(match, case: dict) -> None:
    if not case["ok"]:
        assert match is None
        return
    assert match is not None and match.ref == case["ref"]
    if "cmdline" in case:
        assert match.cmdline == case["cmdline"]
    if "line" in case:
        assert match.line == case["line"]


@pytest.mark.parametrize("case", TABLES["detect_syntax"], ids=lambda case: case["input"])
def test_detect_syntax(case: dict) -> None:
    check_match(detect_syntax(case["input"]), case)


@pytest.mark.parametrize("case", TABLES["parse_directive_check"], ids=lambda case: case["input"])
def test_parse_directive_check(case: dict) -> None:
    check_match(parse_directive("check", case["input"]), case)


def test_directives_reach_parsed_file() -> None:
    parsed = parse_nodes("# syntax=docker/dockerfile:1.7 // x\n# check=skip=all\n# escape=`\nFROM a\n")
    directives = parsed.directives
    assert (directives.syntax, directives.check, directives.escape, directives.syntax_line) == (
        "docker/dockerfile:1.7", "skip=all", "`", 1)


def test_escape_directive_counts_only_at_the_top() -> None:
    assert parse_nodes("FROM a\n# escape=`\nRUN a `\n").nodes[1].args == ("a `",)
    assert parse_nodes("#!/bin/sh\n# escape=`\nFROM a\n").directives.escape == "\\"
