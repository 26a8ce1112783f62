"""The parse cache (builder.frontend.dockerfile.load_dockerfile): exact hits only, never a stale or broken parse."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from builder.frontend import dockerfile as source_module
from builder.frontend.dockerfile import DockerfileSource, ParseCache, load_dockerfile
from grammar import DockerfileSyntaxError, parse_dockerfile, parse_nodes

ROOT = Path(__file__).resolve().parents[2]
TEXT = "ARG BASE=alpine\nFROM $BASE AS build\nRUN <<EOF\necho hi\nEOF\nFROM scratch\nCOPY --from=build /a /b\n"


@pytest.fixture()
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(source_module.NO_PARSE_CACHE_ENV, raising=False)
    return tmp_path / "pybuild" / "parse"


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.pickle")) if directory.exists() else []


def test_a_hit_equals_a_fresh_parse(cache_home: Path) -> None:
    source = DockerfileSource("ctx/Dockerfile", None, TEXT)
    first = load_dockerfile(source)
    assert len(entries(cache_home)) == 1
    second = load_dockerfile(source)
    assert second == first == parse_dockerfile(parse_nodes(TEXT, "ctx/Dockerfile"))
    assert second is not first  # read back from disk
    assert second.source_lines == first.source_lines and second.warnings == first.warnings


def test_other_text_or_path_is_a_miss(cache_home: Path) -> None:
    load_dockerfile(DockerfileSource("a/Dockerfile", None, TEXT))
    other = load_dockerfile(DockerfileSource("b/Dockerfile", None, TEXT))
    assert other.path == "b/Dockerfile"
    changed = load_dockerfile(DockerfileSource("a/Dockerfile", None, TEXT + "USER 1\n"))
    assert changed.stages[-1].body[-1].source == "USER 1"
    assert len(entries(cache_home)) == 3


def test_changed_grammar_code_is_a_miss(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = DockerfileSource("Dockerfile", None, TEXT)
    load_dockerfile(source)
    monkeypatch.setattr(source_module, "grammar_code_fingerprint", lambda: "3.11:00000000")
    calls = []
    real_parse = parse_nodes

    def counting_parse(*args: object) -> object:
        calls.append(args)
        return real_parse(*args)

    monkeypatch.setattr("grammar.parse_nodes", counting_parse)
    assert load_dockerfile(source) == parse_dockerfile(parse_nodes(TEXT, "Dockerfile"))
    assert calls, "parsed again"


def test_fingerprint_follows_the_grammar_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import grammar

    fake = tmp_path / "grammar"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "dockerfile.lark").write_text("a")
    monkeypatch.setattr(grammar, "__file__", str(fake / "__init__.py"))
    before = source_module.grammar_code_fingerprint()
    (fake / "dockerfile.lark").write_text("b")
    assert source_module.grammar_code_fingerprint() != before


def test_a_broken_or_foreign_entry_is_a_miss(cache_home: Path) -> None:
    source = DockerfileSource("Dockerfile", None, TEXT)
    expected = load_dockerfile(source)
    [entry] = entries(cache_home)
    entry.write_bytes(b"not a pickle")
    assert load_dockerfile(source) == expected
    cache = ParseCache.default()
    assert cache is not None
    filename, _ = cache._entry("Dockerfile", TEXT)
    import pickle

    with open(filename, "wb") as handle:  # same file name, other text (a checksum collision)
        pickle.dump((1, cache.code_fingerprint, "Dockerfile", "FROM other\n"), handle)
        pickle.dump(parse_dockerfile(parse_nodes("FROM other\n")), handle)
    assert load_dockerfile(source) == expected


def test_syntax_errors_are_not_cached(cache_home: Path) -> None:
    source = DockerfileSource("Dockerfile", None, "FROM a\nCOPY --chmod=abc a b\nFROM\n")
    for _ in range(2):
        with pytest.raises(DockerfileSyntaxError):
            load_dockerfile(source)
    assert entries(cache_home) == []


def test_disabled_or_unwritable_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(source_module.NO_PARSE_CACHE_ENV, "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert load_dockerfile(DockerfileSource("Dockerfile", None, TEXT)).stages
    assert not (tmp_path / "pybuild").exists()
    monkeypatch.delenv(source_module.NO_PARSE_CACHE_ENV)
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file where the directory should be
    assert load_dockerfile(DockerfileSource("Dockerfile", None, TEXT)).stages


def test_old_entries_are_pruned(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source_module, "PARSE_CACHE_ENTRIES", 3)
    for number in range(6):
        load_dockerfile(DockerfileSource("Dockerfile", None, f"FROM a\nUSER {number}\n"))
    assert len(entries(cache_home)) == 3
    assert not list(cache_home.glob("*.tmp"))


def test_check_from_the_cache_skips_the_parser(cache_home: Path, tmp_path: Path) -> None:
    """A second ``pybuild --check`` of the same file loads neither the parser nor its tables."""
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(TEXT)
    code = ("import sys; from builder.cli import main; code = main(['--check', sys.argv[1]]); "
            "print(sorted(m for m in sys.modules if m in ('grammar.parser', 'grammar._lalr_tables'))); "
            "sys.exit(code)")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home.parent.parent)}
    runs = [subprocess.run([sys.executable, "-c", code, str(context)], capture_output=True, text=True, env=env,
                           cwd=ROOT, check=True) for _ in range(2)]
    assert runs[0].stdout.strip() == "['grammar._lalr_tables', 'grammar.parser']"
    assert runs[1].stdout.strip() == "[]"
    assert runs[0].stderr == runs[1].stderr
