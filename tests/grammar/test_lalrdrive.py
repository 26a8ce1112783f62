"""``grammar.lalrdrive.FastParser`` gives exactly what lark's own LALR loop gives, errors included."""
from __future__ import annotations

from pathlib import Path

import pytest

from grammar._lark_runtime import UnexpectedInput
from grammar.lineshapes import LineShapeError
from grammar.linesplit import go_trim_space
from grammar.parser import file_parser, line_parser

DATA = Path(__file__).resolve().parents[1] / "data"
FILES = sorted(path for path in DATA.rglob("*") if path.is_file() and "ockerfile" in path.name)[:150]


def outcome(parse, text: str):  # noqa: ANN001, ANN201
    try:
        return "ok", parse(text)
    except (UnexpectedInput, LineShapeError) as error:
        return type(error).__name__, getattr(error, "line", None), getattr(error, "column", None), str(error)


def test_there_are_files_to_compare() -> None:
    assert len(FILES) > 50


@pytest.mark.parametrize("escape", ["\\", "`"])
def test_both_layers_match_lark_on_the_test_files(escape: str) -> None:
    files, lines = file_parser(escape), line_parser(escape)
    for path in FILES:
        text = path.read_text(errors="replace").removeprefix("\ufeff")
        assert outcome(files.parse, text) == outcome(files._lark.parse, text), path
        joined = "\n".join(go_trim_space(line) for line in text.split("\n"))
        assert outcome(lines.parse, joined) == outcome(lines._lark.parse, joined), path


@pytest.mark.parametrize("text", ["RUN a\n\nFROM b AS c", "", "\n\n", "ENV", "ENV a", 'ENV "a" b=c', "ONBUILD RUN x",
                                  "RUN --mount=x -- --y", "HEALTHCHECK CMD [\"a\"]", "COPY [1, 2]", "X\tY\u3000Z"])
def test_instruction_layer_matches_lark(text: str) -> None:
    lines = line_parser("\\")
    assert outcome(lines.parse, text) == outcome(lines._lark.parse, text)
