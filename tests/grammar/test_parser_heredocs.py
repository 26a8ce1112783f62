"""Heredoc tables from BuildKit's parser_heredoc_test.go."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from grammar.errors import DockerfileSyntaxError
from grammar.heredocs import HeredocWordError, chomp_heredoc_content, heredocs_from_line, parse_heredoc
from grammar.parser import parse_nodes

DERIVED = Path(__file__).resolve().parents[1] / "data" / "buildkit" / "derived" / "frontend" / "dockerfile" / "parser"
EXTRACT = json.loads((DERIVED / "parser_heredoc_test.extract_heredocs.json").read_text())
WORDS = json.loads((DERIVED / "parser_heredoc_test.heredoc_words.json").read_text())


def test_table_sizes() -> None:
    assert len(EXTRACT["cases"]) == 27
    sizes = [len(WORDS[key]) for key in ("valid_word_name_EOF", "invalid_word_error", "not_heredoc", "lines")]
    assert sizes == [9, 4, 7, 10]
    assert len(WORDS["json_form_never_heredoc"]) == 3


@pytest.fixture(scope="module")
def extract_nodes() -> tuple:
    return parse_nodes(EXTRACT["dockerfile"]).nodes


@pytest.mark.parametrize("case", EXTRACT["cases"], ids=lambda case: f"child{case['child_index']}")
def test_extract_heredocs(case: dict, extract_nodes: tuple) -> None:
    node = extract_nodes[case["child_index"]]
    found = [
        {"Name": h.name, "Content": h.content, "Expand": h.expand, "Chomp": h.chomp, "FileDescriptor": h.file_descriptor}
        for h in node.heredocs
    ]
    assert found == case["heredocs"]


@pytest.mark.parametrize("word", WORDS["valid_word_name_EOF"])
def test_valid_heredoc_word(word: str) -> None:
    marker = parse_heredoc(word)
    assert marker is not None and marker.name == "EOF"


@pytest.mark.parametrize("word", WORDS["invalid_word_error"])
def test_invalid_heredoc_word(word: str) -> None:
    with pytest.raises(HeredocWordError, match="unexpected end of statement"):
        parse_heredoc(word)


@pytest.mark.parametrize("word", WORDS["not_heredoc"], ids=repr)
def test_not_a_heredoc_word(word: str) -> None:
    assert parse_heredoc(word) is None


@pytest.mark.parametrize("case", WORDS["lines"], ids=lambda case: case["line"])
def test_heredoc_names_in_line(case: dict) -> None:
    assert [marker.name for marker in heredocs_from_line(case["line"])] == case["names"]


@pytest.mark.parametrize("line", WORDS["json_form_never_heredoc"])
def test_json_form_never_has_heredocs(line: str) -> None:
    node = parse_nodes(f"{line}\nEOF\n").nodes[0]
    assert node.json and node.heredocs == ()


def test_chomp() -> None:
    assert chomp_heredoc_content(WORDS["chomp"]["input"]) == WORDS["chomp"]["expected"]


def test_unterminated_heredoc() -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_nodes("FROM a\nRUN <<EOF\necho hi\n")
    assert (caught.value.message, caught.value.line, caught.value.end_line) == ("unterminated heredoc", 2, 3)


def test_earlier_instruction_error_wins_over_unterminated_heredoc() -> None:
    with pytest.raises(DockerfileSyntaxError, match="ENV must have two arguments"):
        parse_nodes("FROM a\nENV X\nRUN <<EOF\n")


def test_line_that_cannot_be_lexed_has_no_heredocs() -> None:
    nodes = parse_nodes("FROM a\nRUN cat <<'EOF\nEOF\n").nodes
    assert [node.keyword for node in nodes] == ["from", "run", "eof"]
    assert nodes[1].heredocs == ()


def test_onbuild_heredoc_and_original() -> None:
    node = parse_nodes("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\nRUN ok\n").nodes[1]
    assert node.inner is not None and node.inner.keyword == "run"
    assert [h.content for h in node.heredocs] == ["echo hi\n"]
    assert node.inner.heredocs == node.heredocs
    assert node.original == "ONBUILD RUN <<EOF\necho hi\nEOF\n"
    assert (node.start_line, node.end_line) == (2, 4)


def test_several_heredocs_bodies_follow_in_order() -> None:
    node = parse_nodes("COPY <<A <<B /dest/\na\nA\nb\nB\n").nodes[0]
    assert [(h.name, h.content) for h in node.heredocs] == [("A", "a\n"), ("B", "b\n")]
    assert node.args == ("<<A", "<<B", "/dest/")


def test_heredoc_body_keeps_carriage_returns() -> None:
    node = parse_nodes("RUN <<EOF\r\necho hi\r\nEOF\r\n").nodes[0]
    assert node.heredocs[0].content == "echo hi\r\n"


def test_not_heredoc_capable_instruction() -> None:
    nodes = parse_nodes("USER <<INVALID\nINVALID\n").nodes
    assert [node.keyword for node in nodes] == ["user", "invalid"]
