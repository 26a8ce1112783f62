"""grammar.words behaviour beyond BuildKit's tables: error texts, options and Go quirks."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grammar.errors import ExpansionError
from grammar.words import Lexer, WordResult

ENV = {"PWD": "/home", "EMPTY": "", "SPACED": "a  b", "V": "abcabc"}


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${X:?}", 'failed to process "${X:?}": X: is not allowed to be unset'),
        ("${EMPTY:?}", 'failed to process "${EMPTY:?}": EMPTY: is not allowed to be empty'),
        ("${X?need $PWD}", 'failed to process "${X?need $PWD}": X: need /home'),
        ("${}", 'failed to process "${}": syntax error: bad substitution'),
        ("${X", 'failed to process "${X": unsupported modifier (\ufffd) in substitution'),
        ("${X:-y", "failed to process \"${X:-y\": syntax error: missing '}'"),
        ("${X=y}", 'failed to process "${X=y}": unsupported modifier (=) in substitution'),
        ("${X:=y}", 'failed to process "${X:=y}": unsupported modifier (:=) in substitution'),
        ("${X:#y}", 'failed to process "${X:#y}": unsupported modifier (:#) in substitution'),
        ("${#X}", 'failed to process "${#X}": unsupported modifier (X) in substitution'),
        ("${X//y}", "failed to process \"${X//y}\": syntax error: missing '/' in ${}"),
        ("${V#\\x}", 'failed to process "${V#\\\\x}": invalid pattern (\\x) in substitution: invalid escape \'\\x\''),
        ("'abc", 'failed to process "\'abc": unexpected end of statement while looking for matching single-quote'),
        ('"abc', "failed to process \"\\\"abc\": unexpected end of statement while looking for matching double-quote"),
    ],
)
def test_error_messages_are_buildkits(word: str, message: str) -> None:
    with pytest.raises(ExpansionError) as caught:
        Lexer().process_word(word, ENV)
    assert str(caught.value) == message


def test_mandatory_message_is_expanded_and_nested_errors_surface() -> None:
    with pytest.raises(ExpansionError, match=r"Y: inner$"):
        Lexer().process_word("${X:-${Y:?inner}}", ENV)


def test_skip_unset_env_leaves_references_as_written() -> None:
    lexer = Lexer(skip_unset_env=True)
    assert lexer.process_word("$X ${X} ${X:-d} ${X//a/b} $PWD", ENV) == "$X ${X} ${X:-d} ${X/a/b} /home"
    # Even an unsupported operator is left alone when the variable is unset, as upstream.
    assert lexer.process_word("${X:=y}", ENV) == "${X:=y}"


def test_raw_quotes_treats_quotes_as_text() -> None:
    assert Lexer(raw_quotes=True).process_word("'$PWD' \"x\"", ENV) == "'/home' \"x\""


def test_keep_quotes_groups_but_keeps_the_quotes() -> None:
    assert Lexer(keep_quotes=True).process_word("'$PWD' \"$PWD\"", ENV) == "'$PWD' \"/home\""


def test_raw_escapes_keeps_the_escape_character() -> None:
    assert Lexer(raw_escapes=True).process_word("a\\$PWD", ENV) == "a\\$PWD"


def test_backtick_escape_token() -> None:
    lexer = Lexer("`")
    assert lexer.process_word("a`$PWD\\b", ENV) == "a$PWD\\b"
    assert lexer.process_word('"x`"y"', ENV) == 'x"y'


def test_process_words_splits_unquoted_expansions_only() -> None:
    assert Lexer().process_words('$SPACED "$SPACED" x\\ y', ENV) == ["a", "b", "a  b", "x y"]


def test_process_words_shares_one_buffer_across_nested_scans_like_buildkit() -> None:
    # BuildKit resets its shared word buffer when ${X:-...} starts scanning, losing "a".
    assert Lexer().process_words("a${X:-b}c", ENV) == ["bc"]
    assert Lexer().process_word("a${X:-b}c", ENV) == "abc"


def test_pattern_operators() -> None:
    lexer = Lexer()
    assert lexer.process_word("${V#a*b} ${V##a*b} ${V%b*c} ${V%%b*c}", ENV) == "cabc c abca a"
    assert lexer.process_word("${V/b/X} ${V//b/X}", ENV) == "aXcabc aXcaXc"


def test_replace_all_follows_go_on_empty_matches() -> None:
    # re.sub would give "xx": Go skips the empty match right after the first one.
    assert Lexer().process_word("${V//*/x}", ENV) == "x"


def test_replace_all_expands_go_template_references() -> None:
    env = {"V": "abc", "R": "<$0|${0}|$1|$$>"}
    assert Lexer().process_word("${V//b/$R}", env) == "a<b|b||$>c"
    assert Lexer().process_word("${V/b/$R}", env) == "a<$0|${0}|$1|$$>c"


def test_leading_byte_order_mark_is_dropped_like_go_scanner() -> None:
    assert Lexer().process_word("\ufeffa$PWD", ENV) == "a/home"


def test_with_matches_reports_lookups() -> None:
    result = Lexer().process_word_with_matches("$PWD ${NOPE:-x} ${EMPTY}", ENV)
    assert result == WordResult("/home x ", frozenset({"PWD", "EMPTY"}), frozenset({"NOPE"}))


def test_deep_nesting_fails_cleanly() -> None:
    word = "${A:-" * 5000 + "}" * 5000
    with pytest.raises(ExpansionError):
        Lexer().process_word(word, ENV)


def test_escape_must_be_one_character() -> None:
    with pytest.raises(ValueError):
        Lexer("")


WORD_ALPHABET = st.sampled_from(list("ab $'\"\\`{}:-+?#%/*@!0123456789_=.\t\n") + ["PWD", "EMPTY", "V", "\ufeff", "é"])
LEXERS = [
    Lexer(),
    Lexer("`"),
    Lexer(raw_quotes=True),
    Lexer(keep_quotes=True, skip_unset_env=True),
    Lexer(raw_escapes=True),
]


@settings(max_examples=400, deadline=None)
@given(st.lists(WORD_ALPHABET, max_size=40).map("".join), st.sampled_from(LEXERS))
def test_random_words_only_ever_raise_expansion_error(word: str, lexer: Lexer) -> None:
    try:
        single = lexer.process_word(word, ENV)
        lexer.process_words(word, ENV)
        assert lexer.process_word_with_matches(word, ENV).value == single
    except ExpansionError:
        pass
