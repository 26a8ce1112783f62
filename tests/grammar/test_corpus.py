"""The real-world corpus: every file parses, and matches BuildKit's parse in EXPECTED.jsonl."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from grammar.nodes import Node
from grammar.parser import parse_nodes

CORPUS = Path(__file__).resolve().parents[1] / "data" / "real-world"
EXPECTED = {
    entry["file"]: entry["instructions"]
    for entry in map(json.loads, (CORPUS / "EXPECTED.jsonl").read_text(encoding="utf-8").splitlines())
}


def as_expected(node: Node) -> dict[str, object]:
    """Our node in EXPECTED.jsonl's shape (the `dockerfile` package's Command tuple)."""
    subject = node.inner if node.inner is not None else node
    values = list(subject.args)
    if subject.keyword in ("env", "label"):
        values = [value for index, value in enumerate(values) if index % 3 != 2]  # drop the separators
    return {
        "cmd": node.keyword,
        "sub_cmd": subject.keyword.upper() if node.inner is not None else None,
        "json": subject.json,
        "original": node.original,
        "value": values,
        "start_line": node.start_line,
        "end_line": node.end_line,
        "flags": list(node.flags),
        "heredocs": [
            {"name": heredoc.name, "file_descriptor": heredoc.file_descriptor, "content": heredoc.content}
            for heredoc in node.heredocs
        ],
    }


def test_corpus_size() -> None:
    files = [path for path in CORPUS.iterdir() if path.name not in ("EXPECTED.jsonl", "MANIFEST.tsv", "README.md")]
    assert len(files) == len(EXPECTED) == 299
    assert sum(len(instructions) for instructions in EXPECTED.values()) == 4379  # the README says 4,553; EXPECTED.jsonl holds 4,379


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_matches_buildkit(name: str) -> None:
    parsed = parse_nodes((CORPUS / name).read_bytes().decode("utf-8"), path=name)
    expected = EXPECTED[name]
    for node, want in zip(parsed.nodes, expected):
        if want["sub_cmd"] is not None:
            want = {**want, "sub_cmd": want["sub_cmd"].upper()}
        assert as_expected(node) == want, f"{name}:{want['start_line']}"
    assert len(parsed.nodes) == len(expected)
