"""BuildKit's own shell-lexer tables (lex_test.go, envVarTest, wordsTest) against grammar.words."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grammar.errors import ExpansionError
from grammar.shellpattern import reverse_pattern, shell_pattern_to_regex
from grammar.words import Lexer

SHELL_DATA = Path(__file__).resolve().parent.parent / "data" / "buildkit" / "frontend" / "dockerfile" / "shell"
DERIVED = Path(__file__).resolve().parent.parent / "data" / "buildkit" / "derived" / "frontend" / "dockerfile" / "shell"
ENV_VAR_TEST_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}
LEXER = Lexer("\\")


def env_var_cases() -> list[Any]:
    """The A (all) and U (unix) lines of envVarTest: ``PLATFORM|INPUT|EXPECTED``."""
    cases = []
    lines = (SHELL_DATA / "envVarTest").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        platform, word, expected = (field.strip() for field in line.split("|"))
        if platform in ("A", "U"):
            cases.append(pytest.param(word, expected, id=f"L{number}:{word}"))
    return cases


def words_cases() -> list[Any]:
    """wordsTest lines with the env accumulated from the ``ENV k=v`` lines above each."""
    cases = []
    env: dict[str, str] = {}
    lines = (SHELL_DATA / "wordsTest").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if line.startswith("#") or not line.strip():
            continue
        if line.startswith("ENV "):
            key, _, value = line[4:].lstrip().partition("=")
            env[key] = value
            continue
        word, expected = line.split("|")
        expected = expected.lstrip()
        wanted = None if expected == "error" else expected.split(",")
        cases.append(pytest.param(word.strip(), dict(env), wanted, id=f"L{number}:{word.strip()}"))
    return cases


def derived(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DERIVED / name).read_text(encoding="utf-8"))
    return data


def table_params(cases: list[dict[str, Any]]) -> list[Any]:
    return [pytest.param(case, id=f"{index}:{case['input']}") for index, case in enumerate(cases)]


def test_env_var_table_size() -> None:
    assert len(env_var_cases()) == 228


def test_words_table_size() -> None:
    assert len(words_cases()) == 24


@pytest.mark.parametrize(("word", "expected"), env_var_cases())
def test_env_var_test(word: str, expected: str) -> None:
    if expected == "error":
        with pytest.raises(ExpansionError):
            LEXER.process_word(word, ENV_VAR_TEST_ENV)
    else:
        assert LEXER.process_word(word, ENV_VAR_TEST_ENV) == expected


@pytest.mark.parametrize(("word", "env", "expected"), words_cases())
def test_words_test(word: str, env: dict[str, str], expected: list[str] | None) -> None:
    if expected is None:
        with pytest.raises(ExpansionError):
            LEXER.process_words(word, env)
    else:
        assert LEXER.process_words(word, env) == expected


@pytest.mark.parametrize("case", table_params(derived("lex_test.process_word_with_matches.json")["cases"]))
def test_process_word_with_matches(case: dict[str, Any]) -> None:
    if case["error"]:
        with pytest.raises(ExpansionError):
            LEXER.process_word_with_matches(case["input"], case["env"])
        return
    result = LEXER.process_word_with_matches(case["input"], case["env"])
    assert result.value == case["expected"]
    assert result.matched == frozenset(case["matched"])
    assert result.unmatched == frozenset(case["unmatched"])


@pytest.mark.parametrize("case", table_params(derived("lex_test.mandatory_and_platform.json")["cases"]))
def test_mandatory_and_platform(case: dict[str, Any]) -> None:
    if case["error"]:
        with pytest.raises(ExpansionError, match=case["error_contains"]):
            LEXER.process_word(case["input"], case["env"])
    else:
        assert LEXER.process_word(case["input"], case["env"]) == case["expected"]


HELPERS = derived("lex_test.internal_pattern_helpers.json")


@pytest.mark.parametrize(("pattern", "regex"), sorted(HELPERS["to_regex_valid"].items()))
def test_pattern_to_regex(pattern: str, regex: str) -> None:
    assert shell_pattern_to_regex(pattern, greedy=True, anchored=True) == regex


@pytest.mark.parametrize("pattern", HELPERS["to_regex_invalid"])
def test_pattern_to_regex_rejects_bad_escapes(pattern: str) -> None:
    with pytest.raises(ExpansionError, match="invalid escape"):
        shell_pattern_to_regex(pattern, greedy=True, anchored=True)


@pytest.mark.parametrize(("pattern", "reversed_pattern"), sorted(HELPERS["reverse_pattern"].items()))
def test_reverse_pattern(pattern: str, reversed_pattern: str) -> None:
    assert reverse_pattern(pattern) == reversed_pattern


@pytest.mark.parametrize(("text", "reversed_text"), sorted(HELPERS["reverse_string"].items()))
def test_reverse_string(text: str, reversed_text: str) -> None:
    # The lexer reverses values with slicing; this pins that it is per code point like Go's runes.
    assert text[::-1] == reversed_text
