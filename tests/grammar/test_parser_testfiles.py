"""BuildKit's parser testfiles: our dump must equal ``result`` byte for byte."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from grammar.dump import dump_file
from grammar.errors import DockerfileSyntaxError
from grammar.parser import parse_nodes

PARSER_DATA = Path(__file__).resolve().parents[1] / "data" / "buildkit" / "frontend" / "dockerfile" / "parser"
DERIVED = Path(__file__).resolve().parents[1] / "data" / "buildkit" / "derived" / "frontend" / "dockerfile" / "parser"
POSITIVE = sorted(path.name for path in (PARSER_DATA / "testfiles").iterdir())
NEGATIVE = {
    "empty_dockerfile": "file with no instructions",
    "only_comments": "file with no instructions",
    "env_no_value": "ENV must have two arguments",
    "shykes-nested-json": "when using JSON array syntax, arrays must be comprised of strings only",
}


def read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def test_case_counts() -> None:
    assert len(POSITIVE) == 33
    assert sorted(path.name for path in (PARSER_DATA / "testfiles-negative").iterdir()) == sorted(NEGATIVE)


@pytest.mark.parametrize("case", POSITIVE)
def test_dump_matches_result(case: str) -> None:
    parsed = parse_nodes(read_text(PARSER_DATA / "testfiles" / case / "Dockerfile"))
    assert dump_file(parsed) == read_text(PARSER_DATA / "testfiles" / case / "result")


@pytest.mark.parametrize("case", sorted(NEGATIVE))
def test_negative_case_fails(case: str) -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_nodes(read_text(PARSER_DATA / "testfiles-negative" / case / "Dockerfile"))
    assert caught.value.message == NEGATIVE[case]
    assert caught.value.line >= 1
    assert caught.value.source_lines is not None


def test_line_numbers_of_testfile_line() -> None:
    table = json.loads((DERIVED / "parser_test.misc.json").read_text())["line_numbers"]
    parsed = parse_nodes(read_text(PARSER_DATA / "testfile-line" / "Dockerfile"))
    spans = [[node.start_line, node.end_line] for node in parsed.nodes]
    assert spans == table["children"]
    assert [spans[0][0], spans[-1][1]] == table["root"]
