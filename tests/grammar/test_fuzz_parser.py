"""Fuzzing parse_nodes: whatever the text, only DockerfileSyntaxError (with a line) may escape."""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grammar.errors import DockerfileSyntaxError
from grammar.parser import parse_nodes

CORPUS = Path(__file__).resolve().parents[1] / "data" / "real-world"
SAMPLES = sorted(
    path.read_bytes().decode("utf-8")
    for path in CORPUS.iterdir()
    if path.name not in ("EXPECTED.jsonl", "MANIFEST.tsv", "README.md") and path.stat().st_size < 6000
)
PIECES = [
    "RUN ", "COPY ", "ENV ", "ARG ", "ONBUILD ", "HEALTHCHECK ", "CMD ", "FROM ", "LABEL ", "add ", "--", "--mount=",
    "\\", "`", "\\\n", "`\n", "\n", "\r\n", "\r", "\t", " ", "\u00a0", "\u2003", "#", "# escape=`\n", "# syntax=x\n",
    "<<", "<<-", "3<<", "EOF", "'", '"', "[", "]", '["a"]', ",", "=", "$", "${", "}", "a", "é", "\x00", "\ufeff",
]
FUZZ_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str) -> None:
    try:
        parsed = parse_nodes(text)
    except DockerfileSyntaxError as error:
        assert error.line >= 1 and error.end_line >= error.line
        assert isinstance(error.snippet(), str)
        return
    line_count = max(1, text.count("\n") + 1)
    for node in parsed.nodes:
        assert 1 <= node.start_line <= node.end_line <= line_count


@FUZZ_SETTINGS
@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_dockerfile_shaped_text(text: str) -> None:
    check(text)


@FUZZ_SETTINGS
@given(st.text(max_size=300))
def test_arbitrary_text(text: str) -> None:
    check(text)


@st.composite
def mutated_corpus_file(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(SAMPLES)).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, max(0, len(lines) - 1)))
        operation = draw(st.sampled_from(["delete", "duplicate", "insert", "truncate"]))
        if operation == "delete" and lines:
            del lines[index]
        elif operation == "duplicate" and lines:
            lines.insert(index, lines[index])
        elif operation == "insert" and lines:
            line = lines[index]
            at = draw(st.integers(0, len(line)))
            lines[index] = line[:at] + draw(st.sampled_from(PIECES) | st.text(max_size=3)) + line[at:]
        elif operation == "truncate" and lines:
            lines = lines[: index + 1]
            lines[-1] = lines[-1][: draw(st.integers(0, len(lines[-1])))]
    return "\n".join(lines)


@FUZZ_SETTINGS
@given(mutated_corpus_file())
def test_mutated_corpus_files(text: str) -> None:
    check(text)
