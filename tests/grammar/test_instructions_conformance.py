"""BuildKit's instruction tables (tests/data/buildkit/derived/.../instructions), through the real parser.

Counts: error_cases 19, heredoc COPY 8 + RUN 6, misc: 1 healthcheck shell form,
3 intervals, 1 comment detection, 1 RUN flags used, 4 handleJSONArgs.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from test_instructions_support import INSTRUCTION_TABLES, convert, node, parse_nodes, typed

from grammar.ast import Copy, ExecForm, Healthcheck, Run, ShellForm
from grammar.errors import DockerfileSyntaxError
from grammar.failures import InstructionError
from grammar.healthcheck import parse_interval
from grammar.instructions import parse_instruction
from grammar.request import handle_json_args

pytest.importorskip("grammar.parser", reason="the text parser (grammar/parser.py) has not landed yet")


def load(name: str) -> dict[str, Any]:
    return json.loads((INSTRUCTION_TABLES / name).read_text())


ERROR_CASES = load("parse_test.error_cases.json")["cases"]
HEREDOC = load("parse_heredoc_test.json")
MISC = load("parse_test.misc.json")


def first_instruction(text: str):
    parsed = parse_nodes(text)
    return parse_instruction(parsed.nodes[0], parsed)


@pytest.mark.parametrize("case", ERROR_CASES, ids=[f"{i:02d}-{c['name']}-{c['dockerfile'].split()[0] if c['dockerfile'].split() else ''}" for i, c in enumerate(ERROR_CASES)])
def test_error_cases(case: dict[str, Any]) -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        first_instruction(case["dockerfile"])
    assert case["error_contains"] in caught.value.message
    assert caught.value.line == 1


def test_error_case_count() -> None:
    assert len(ERROR_CASES) == 19


@pytest.mark.parametrize("case", HEREDOC["copy"], ids=[f"copy-{i}" for i in range(len(HEREDOC["copy"]))])
def test_copy_heredoc(case: dict[str, Any]) -> None:
    result = first_instruction(case["dockerfile"])
    assert isinstance(result, Copy)
    assert result.dest == case["DestPath"]
    assert list(result.sources) == case["SourcePaths"]
    contents = [{"Path": f.name, "Data": f.content, "Expand": f.expand} for f in result.heredoc_sources]
    assert contents == case["SourceContents"]


@pytest.mark.parametrize("case", HEREDOC["run"], ids=[f"run-{i}" for i in range(len(HEREDOC["run"]))])
def test_run_heredoc(case: dict[str, Any]) -> None:
    result = first_instruction(case["dockerfile"])
    assert isinstance(result, Run)
    assert isinstance(result.cmd, ShellForm) is case["PrependShell"]
    cmdline = [result.cmd.text] if isinstance(result.cmd, ShellForm) else list(result.cmd.argv)
    assert cmdline == case["CmdLine"]
    files = [{"Name": f.name, "Data": f.content, "Chomp": f.chomp} for f in result.heredocs]
    assert files == case["Files"]


def test_heredoc_counts() -> None:
    assert (len(HEREDOC["copy"]), len(HEREDOC["run"])) == (8, 6)


def test_healthcheck_shell_form() -> None:
    table = MISC["healthcheck_shell_form"]
    result = convert(node("healthcheck", *table["args"]))
    assert isinstance(result, Healthcheck)
    assert list(result.test) == table["expected_test"]


@pytest.mark.parametrize(("value", "outcome"), list(MISC["interval"].items()), ids=list(MISC["interval"]))
def test_interval(value: str, outcome: str) -> None:
    if outcome.startswith("error"):
        with pytest.raises(InstructionError) as caught:
            parse_interval("interval", value)
        assert outcome.removeprefix("error: ") in caught.value.message
    else:
        parse_interval("interval", value)


def test_comments_detection() -> None:
    table = MISC["comments_detection"]
    expected = table["expected"]
    dockerfile = typed(table["dockerfile"])
    assert dockerfile.stages[0].base.doc == expected["stage0_doc"]
    meta = dockerfile.meta_args[0].args[0]
    assert {"key": meta.name, "doc": meta.doc} == expected["meta_arg0"]
    declared = [decl for arg in dockerfile.stages[0].body for decl in arg.args]  # type: ignore[union-attr]
    assert [{"key": d.name, "doc": d.doc} for d in declared] == expected["stage_args"]


def test_run_flags_used() -> None:
    table = MISC["run_flags_used"]
    result = first_instruction(table["dockerfile"])
    assert sorted({flag.name for flag in result.flags}) == table["flags_used"]


@pytest.mark.parametrize("case", MISC["handle_json_args"], ids=lambda case: f"{case['args']}-json={case['json']}")
def test_handle_json_args(case: dict[str, Any]) -> None:
    assert list(handle_json_args(case["args"], case["json"])) == case["expected"]
    command = convert(node("cmd", *case["args"], json=case["json"])).cmd
    words = list(command.argv) if isinstance(command, ExecForm) else ([command.text] if case["args"] else [])
    assert words == case["expected"]
