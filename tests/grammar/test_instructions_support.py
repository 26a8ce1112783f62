"""Helpers shared by the typed-layer tests (no tests here).

``node()`` builds a parser ``Node`` by hand so the typed layer can be tested
without the text parser; ``typed()`` goes through the real parser.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from grammar.ast import Instruction
from grammar.instructions import parse_dockerfile, parse_instruction
from grammar.nodes import Heredoc, Node, ParsedFile
from grammar.stages import Dockerfile

DATA = Path(__file__).resolve().parent.parent / "data"
INSTRUCTION_TABLES = DATA / "buildkit" / "derived" / "frontend" / "dockerfile" / "instructions"


def node(
    keyword: str,
    *args: str,
    flags: tuple[str, ...] = (),
    json: bool = False,
    heredocs: tuple[Heredoc, ...] = (),
    original: str | None = None,
    line: int = 1,
    inner: Node | None = None,
    doc: str = "",
) -> Node:
    text = original if original is not None else " ".join((keyword.upper(), *flags, *args))
    return Node(
        keyword=keyword.lower(),
        args=tuple(args),
        flags=tuple(flags),
        json=json,
        heredocs=heredocs,
        original=text,
        start_line=line,
        end_line=line,
        inner=inner,
        doc_comment=doc,
    )


def parsed_file(*nodes: Node) -> ParsedFile:
    lines = tuple(n.original.split("\n", 1)[0] for n in nodes)
    numbered = tuple(Node(**{**_fields(n), "start_line": i, "end_line": i}) for i, n in enumerate(nodes, 1))
    return ParsedFile(path="Dockerfile", nodes=numbered, source_lines=lines)


def convert(one: Node) -> Instruction:
    return parse_instruction(one, parsed_file(one))


def dockerfile_of(*nodes: Node) -> Dockerfile:
    return parse_dockerfile(parsed_file(*nodes))


def parse_nodes(text: str, path: str = "Dockerfile") -> ParsedFile:
    """The real text parser (imported lazily: it is another module's job)."""
    return importlib.import_module("grammar.parser").parse_nodes(text, path)


def typed(text: str) -> Dockerfile:
    return parse_dockerfile(parse_nodes(text))


def _fields(n: Node) -> dict[str, object]:
    return {name: getattr(n, name) for name in Node.__slots__}
