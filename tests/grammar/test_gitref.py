"""dfgitutil ParseGitRef table and extra cases against grammar.gitref."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grammar.errors import GrammarError
from grammar.gitref import GitRef, GitRefError, parse_git_ref

TABLE = Path(__file__).resolve().parent.parent / "data" / "buildkit" / "derived" / "frontend" / "dockerfile" / "dfgitutil"
CASES: list[dict[str, Any]] = json.loads((TABLE / "git_ref_test.json").read_text(encoding="utf-8"))["cases"]
GO_FIELDS = {
    "Remote": "remote",
    "ShortName": "short_name",
    "Ref": "ref",
    "Checksum": "checksum",
    "SubDir": "subdir",
    "IndistinguishableFromLocal": "indistinguishable_from_local",
    "UnencryptedTCP": "unencrypted_tcp",
    "KeepGitDir": "keep_git_dir",
    "Submodules": "submodules",
    "MTime": "mtime",
    "FetchByCommit": "fetch_by_commit",
}


def test_table_size() -> None:
    assert len(CASES) == 39


@pytest.mark.parametrize("case", [pytest.param(case, id=f"{i}:{case['ref']}") for i, case in enumerate(CASES)])
def test_parse_git_ref(case: dict[str, Any]) -> None:
    if case["error"]:
        with pytest.raises(GitRefError, match=case["error"]):
            parse_git_ref(case["ref"])
        return
    expected = None
    if case["expected"] is not None:
        fields = {GO_FIELDS[name]: value for name, value in case["expected"].items()}
        expected = GitRef(**fields)
    assert parse_git_ref(case["ref"]) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("ssh://git@host/x", GitRef("ssh://git@host/x", "x")),
        ("HTTPS://host/x.git", GitRef("https://host/x.git", "x")),
        ("github.com:moby/buildkit.git", GitRef("github.com:moby/buildkit.git", "buildkit")),
        ("https://host/x.git?keep-git-dir=false&submodules", GitRef("https://host/x.git", "x", keep_git_dir=False, submodules=True)),
        ("https://host/x.git?checksum=abc", GitRef("https://host/x.git", "x", ref="abc", checksum="abc")),
        ("https://host/x.git?branch=refs/heads/main", GitRef("https://host/x.git", "x", ref="refs/heads/main")),
        ("https://host/x%2Egit#a%2Fb", GitRef("https://host/x%2Egit", "x%2Egit", ref="a/b")),
    ],
)
def test_more_git_sources(source: str, expected: GitRef) -> None:
    assert parse_git_ref(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "ftp://host/x.git",  # not a git scheme
        "https://host:abc/x.git",  # Go rejects the port
        "https://host/x%zz.git",  # malformed escape
        "example.com:/srv/x.git",  # Go reads "scheme:/path": a URL, not SCP
        "host:",  # likewise an empty opaque part
        "x.git",
        "dir/x.git",
        "../x.git",
        "",
    ],
)
def test_not_git_sources(source: str) -> None:
    assert parse_git_ref(source) is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("https://host/x.git?ref=", 'query "ref" has no value'),
        ("https://host/x.git?ref=a&ref=b", 'query "ref" has multiple values'),
        ("https://host/x.git?subdir=a#:b", 'subdir conflicts: "b" vs "a"'),
        ("https://host/x.git?submodules=maybe", 'invalid submodules value: "maybe"'),
        ("https://host/x.git#main?x", None),
    ],
)
def test_invalid_options(source: str, message: str | None) -> None:
    if message is None:
        assert parse_git_ref(source) == GitRef("https://host/x.git", "x", ref="main?x")
        return
    with pytest.raises(GrammarError) as caught:
        parse_git_ref(source)
    assert str(caught.value) == message
