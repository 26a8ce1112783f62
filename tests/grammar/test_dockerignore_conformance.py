"""moby/patternmatcher and ignorefile tables against grammar.dockerignore."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grammar.dockerignore import ParentMatches, PatternMatcher, go_clean, read_ignore_patterns
from grammar.errors import IgnorePatternError
from grammar.ignorepattern import translate

DATA = Path(__file__).resolve().parent.parent / "data" / "buildkit" / "derived" / "dockerignore"
TABLES: dict[str, Any] = json.loads((DATA / "patternmatcher_test.json").read_text(encoding="utf-8"))
IGNOREFILE: dict[str, Any] = json.loads((DATA / "ignorefile_test.json").read_text(encoding="utf-8"))
GO_MATCH_TYPES = {"exactMatch": "exact", "prefixMatch": "prefix", "suffixMatch": "suffix", "regexpMatch": "regexp"}


def params(table: str, *keys: str) -> list[Any]:
    cases = TABLES[table]
    return [pytest.param(case, id=f"{index}:" + "|".join(str(case[key]) for key in keys)) for index, case in enumerate(cases)]


def walk_matches(matcher: PatternMatcher, path: str) -> bool:
    """Match like fsutil's walker: every parent first, passing its results down."""
    info: ParentMatches = ()
    parent = go_clean(path[: path.rfind("/") + 1])
    if parent != ".":
        parts = parent.split("/")
        for count in range(1, len(parts) + 1):
            _, info = matcher.matches_with_parent("/".join(parts[:count]), info)
    return matcher.matches_with_parent(path, info)[0]


def go_matches(text: str, patterns: list[str]) -> bool:
    """Upstream's package-level ``Matches``: clean the path, never exclude the root."""
    matcher = PatternMatcher(patterns)
    cleaned = go_clean(text)
    return cleaned != "." and matcher.matches(cleaned)


@pytest.mark.parametrize("case", params("matches", "pattern", "text") + params("unix_only", "pattern", "text"))
def test_matches(case: dict[str, Any]) -> None:
    matcher = PatternMatcher([case["pattern"]])
    assert matcher.matches(case["text"]) is case["match"]
    assert walk_matches(matcher, case["text"]) is case["match"]


@pytest.mark.parametrize("case", params("multi", "patterns", "text"))
def test_multi(case: dict[str, Any]) -> None:
    matcher = PatternMatcher(case["patterns"])
    assert matcher.matches(case["text"]) is case["match"]
    assert walk_matches(matcher, case["text"]) is case["match"]


@pytest.mark.parametrize("case", params("filepath_match", "pattern", "text"))
def test_filepath_match(case: dict[str, Any]) -> None:
    if case["err"]:
        with pytest.raises(IgnorePatternError):
            go_matches(case["text"], [case["pattern"]])
    else:
        assert go_matches(case["text"], [case["pattern"]]) is case["match"]


@pytest.mark.parametrize("case", params("compile", "pattern"))
def test_compile(case: dict[str, Any]) -> None:
    kind = GO_MATCH_TYPES[case["match_type"]]
    assert translate(case["pattern"]) == (kind, case["regexp_slash"])
    assert translate(case["pattern"].replace("/", "\\"), "\\") == (kind, case["regexp_backslash"])


@pytest.mark.parametrize("case", params("simple", "text", "patterns"))
def test_simple(case: dict[str, Any]) -> None:
    if case.get("error"):
        with pytest.raises(IgnorePatternError):
            go_matches(case["text"], case["patterns"])
    else:
        assert go_matches(case["text"], case["patterns"]) is case["match"]


@pytest.mark.parametrize("case", params("new_errors", "patterns"))
def test_new_errors(case: dict[str, Any]) -> None:
    with pytest.raises(IgnorePatternError) as caught:
        PatternMatcher(case["patterns"])
    assert str(caught.value) == case["error"]


def test_table_sizes() -> None:
    sizes = {name: len(TABLES[name]) for name in ("matches", "unix_only", "multi", "filepath_match", "compile", "simple")}
    assert sizes == {"matches": 67, "unix_only": 1, "multi": 4, "filepath_match": 54, "compile": 21, "simple": 11}


def test_ignorefile_read_all() -> None:
    assert read_ignore_patterns(IGNOREFILE["input"]) == IGNOREFILE["expected"]
