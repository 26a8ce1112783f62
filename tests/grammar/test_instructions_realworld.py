"""Every real-world Dockerfile in tests/data/real-world converts to typed instructions."""
from __future__ import annotations

import pytest
from test_instructions_support import DATA, parse_nodes

from grammar.ast import Onbuild
from grammar.instructions import parse_dockerfile

pytest.importorskip("grammar.parser", reason="the text parser (grammar/parser.py) has not landed yet")

CORPUS = DATA / "real-world"
FILES = sorted(p for p in CORPUS.iterdir() if p.name not in ("README.md", "MANIFEST.tsv", "EXPECTED.jsonl"))


def test_corpus_size() -> None:
    assert len(FILES) == 299


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_converts(path) -> None:
    parsed = parse_nodes(path.read_text(encoding="utf-8"), path.name)
    dockerfile = parse_dockerfile(parsed)
    assert dockerfile.stages
    total = len(dockerfile.meta_args) + sum(1 + len(stage.body) for stage in dockerfile.stages)
    assert total == len(parsed.nodes)
    for stage in dockerfile.stages:
        for instruction in stage.body:
            if isinstance(instruction, Onbuild):
                assert instruction.instruction is not None, instruction.trigger
