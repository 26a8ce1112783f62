"""The generated parser files (grammar/_lark_runtime.py, _lark_token.py, _lalr_tables.py) are up to date.

If a test here fails after a grammar change or a lark upgrade, regenerate them:
``.venv/bin/python -m grammar.larkbuild``.
"""
from __future__ import annotations

import pickle
import subprocess
import sys
import zlib
from pathlib import Path

import lark
import pytest

from grammar import _lalr_tables, larkbuild, larkload
from grammar.filelex import HeredocPostLexer

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "stale: run `.venv/bin/python -m grammar.larkbuild`"
same_lark = pytest.mark.skipif(
    lark.__version__ != _lalr_tables.LARK_VERSION,
    reason=f"generated with lark {_lalr_tables.LARK_VERSION}, lark {lark.__version__} is installed",
)


def decode(encoded: bytes) -> dict:
    return pickle.loads(zlib.decompress(encoded))


def test_tables_were_built_from_the_current_grammar_files() -> None:
    assert _lalr_tables.FINGERPRINT == larkload.grammar_fingerprint(), REGENERATE


def test_fingerprint_sees_a_changed_grammar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in larkload.GRAMMAR_FILES.values():
        (tmp_path / name).write_bytes((ROOT / "grammar" / name).read_bytes())
    monkeypatch.setattr(larkload, "_HERE", tmp_path)
    before = larkload.grammar_fingerprint()
    (tmp_path / "dockerfile.lark").write_text((tmp_path / "dockerfile.lark").read_text() + "// edited\n")
    assert larkload.grammar_fingerprint() != before


@same_lark
def test_runtime_is_lark_standalone_runtime() -> None:
    assert larkbuild.RUNTIME_FILE.read_text() == larkbuild.runtime_source(), REGENERATE
    assert larkbuild.TOKEN_FILE.read_text() == larkbuild.token_source(), REGENERATE


def test_lark_runtime_and_fast_parser_share_lark_token_class() -> None:
    from grammar import _lark_runtime, _lark_token

    assert _lark_runtime.Token is _lark_token.Token
    assert "class Token(" not in larkbuild.RUNTIME_FILE.read_text()


@same_lark
@pytest.mark.parametrize("key", sorted(_lalr_tables.TABLES))
def test_tables_match_a_fresh_build(key: tuple[str, str]) -> None:
    escape, start = key
    assert decode(_lalr_tables.TABLES[key]) == larkbuild.build_tables(escape, start), REGENERATE


@same_lark
@pytest.mark.parametrize("key", sorted(_lalr_tables.FAST))
def test_fast_tables_match_a_fresh_build(key: tuple[str, str]) -> None:
    escape, start = key
    assert _lalr_tables.FAST[key] == larkbuild.fast_tables(larkbuild.build_tables(escape, start), start), REGENERATE


@same_lark
def test_precompiled_patterns_are_up_to_date() -> None:
    assert larkbuild.SRE_CODES_FILE.read_text() == larkbuild.sre_codes_source(), REGENERATE


def test_precompiled_patterns_are_what_re_compiles() -> None:
    """Each pattern compiled ahead of time is the pattern ``re.compile`` makes (same code, flags, groups)."""
    import re

    from grammar import _sre_codes, regexes

    assert regexes._USABLE, "generated with another Python: regenerate with this one"
    lexed = {(regexp, tables["regex_flags"]) for tables in _lalr_tables.FAST.values() for _, regexp in tables["patterns"]}
    assert lexed <= set(_sre_codes.ARGUMENTS), REGENERATE
    for regexp, flags in _sre_codes.ARGUMENTS:
        made, expected = regexes.compile_regex(regexp, flags), re.compile(regexp, flags)
        assert made == expected and made.groupindex == expected.groupindex and made.groups == expected.groups
    made = regexes.compile_regex("(?P<new>x)|(y)", re.IGNORECASE)  # not compiled ahead of time: re does it
    assert made == re.compile("(?P<new>x)|(y)", re.IGNORECASE) and made.groupindex == {"new": 1}


def test_tables_cover_every_grammar_and_start() -> None:
    assert set(_lalr_tables.TABLES) == {(e, s) for e in larkload.GRAMMAR_FILES for s in larkload.STARTS}
    assert set(_lalr_tables.FAST) == set(_lalr_tables.TABLES)


def test_fast_tables_describe_every_rule_and_lexer() -> None:
    """No rule or state lexer that FastParser would hand over to lark on every parse."""
    for tables in _lalr_tables.FAST.values():
        assert None not in tables["rules"]
        assert None not in tables["scanners"]


def test_generation_is_reproducible() -> None:
    """The same grammar gives the same bytes (LALR state numbers are canonicalised)."""
    escape, start = "\\", "instructions"
    first = larkbuild.encode_tables(larkbuild.build_tables(escape, start))
    assert larkbuild.encode_tables(larkbuild.build_tables(escape, start)) == first


def test_tables_unpickle_without_lark_classes() -> None:
    import pickletools

    for encoded in _lalr_tables.TABLES.values():
        raw = zlib.decompress(encoded)
        assert not [op.name for op, _, _ in pickletools.genops(raw) if "GLOBAL" in op.name or "REDUCE" in op.name]


def test_postlexer_terminals_match_the_build() -> None:
    assert tuple(HeredocPostLexer.always_accept) == larkbuild.POSTLEX_ALWAYS_ACCEPT


def test_parsing_does_not_import_lark() -> None:
    """A valid file parses from the plain tables: neither lark nor its runtime is imported."""
    code = ("import sys; from grammar import parse_nodes, parse_dockerfile; "
            "parse_dockerfile(parse_nodes('FROM a\\nRUN <<EOF\\nx\\nEOF\\n')); "
            "parse_nodes('# escape=`\\nFROM a\\nRUN b `\\n  c\\n'); "
            "print(sorted(m for m in sys.modules if m in ('lark', 'grammar._lark_runtime') or m.startswith('lark.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"


def test_a_syntax_error_is_lark_s_own() -> None:
    """A parse the fast loop cannot finish is lark's: its runtime is loaded then and raises its error."""
    from grammar._lark_runtime import UnexpectedInput
    from grammar.parser import line_parser

    with pytest.raises(UnexpectedInput) as raised:
        line_parser("\\").parse("RUN a\n\tRUN b")  # the layer parses trimmed lines only
    assert (raised.value.line, raised.value.column) == (2, 1)


def test_stale_tables_are_built_with_lark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(_lalr_tables, "FINGERPRINT", "crc32:stale")
    built = larkload.tables("`", "dockerfile")
    assert built == larkbuild.build_tables("`", "dockerfile")
    assert list((tmp_path / "pybuild" / "lark").iterdir()), "the lark build is cached on disk"
    parser = larkload.open_grammar("`", "instructions")
    assert parser.parse("FROM a") is not None
    assert larkload.fast_tables("`", "dockerfile") == _lalr_tables.FAST[("`", "dockerfile")]
