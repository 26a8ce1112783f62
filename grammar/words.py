"""Variable expansion of Dockerfile words, as BuildKit's shell lexer does it.

This mirrors ``frontend/dockerfile/shell/lex.go``: quote removal, escapes,
``$NAME`` / ``${NAME}`` and the twelve ``${NAME<op>word}`` forms, with the
exact error texts (callers show them to users). It is not a shell: no command
substitution, globbing or arithmetic.

Quirks kept on purpose because ``docker build`` has them:

* the error text is ``failed to process "<word>": <reason>``;
* an unknown modifier after ``${NAME`` at end of input reports ``(\ufffd)``,
  Go's rendering of its EOF rune;
* a leading U+FEFF is dropped (Go's ``text/scanner`` skips a BOM);
* ``process_words`` loses the split text gathered before a ``${NAME<op>...}``
  (BuildKit shares one word buffer between nested scans and resets it);
* ``${NAME//pat/repl}`` expands ``$0`` / ``${0}`` in *repl* to the matched
  text and other ``$name`` references to nothing (Go's ``ReplaceAllString``).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import KW_ONLY

from grammar.errors import ExpansionError
from grammar.gotext import is_name_char, is_space, quote
from grammar.records import record
from grammar.shellpattern import EOF_RUNE, compile_shell_pattern, replace_all, trim_prefix, trim_suffix

_BOM = "\ufeff"
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_DEFAULTING_OPS = ("+", "-", "?", "#", "%")


@record
class WordResult:
    """An expanded word and the variable names it looked up, found or not."""

    value: str
    matched: frozenset[str]
    unmatched: frozenset[str]


@record
class Lexer:
    """Immutable expansion settings; every method is pure and thread-safe.

    ``raw_quotes``: quotes are ordinary characters (BuildKit SkipProcessQuotes,
    used for COPY heredoc bodies). ``keep_quotes``: quotes still group text but
    stay in the output (BuildKit RawQuotes, used for progress step names).
    ``raw_escapes``: escape characters stay in the output. ``skip_unset_env``:
    references to unset variables are left as written.
    """

    escape: str = "\\"
    _: KW_ONLY
    raw_quotes: bool = False
    keep_quotes: bool = False
    raw_escapes: bool = False
    skip_unset_env: bool = False

    def __post_init__(self) -> None:
        if len(self.escape) != 1:
            raise ValueError(f"escape token must be one character, got {self.escape!r}")

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """Expand one word: quotes removed, variables substituted, no splitting."""
        if self._is_literal(word):
            return word
        return _Scan(self, word, env, split=False).run()[0]

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Expand, then split on whitespace that was neither quoted nor escaped."""
        return _Scan(self, word, env, split=True).run()[1]

    def process_word_with_matches(self, word: str, env: Mapping[str, str]) -> WordResult:
        """Like ``process_word``, also reporting which variables were (not) found."""
        scan = _Scan(self, word, env, split=False)
        value = scan.run()[0]
        return WordResult(value, frozenset(scan.matched), frozenset(scan.unmatched))

    def _is_literal(self, word: str) -> bool:
        # Most words have nothing to expand; plain `in` scans run in C.
        if "$" in word or self.escape in word or word.startswith(_BOM):
            return False
        return self.raw_quotes or ("'" not in word and '"' not in word)


class _Words:
    """Word splitting state of one scan level (BuildKit ``wordsStruct``).

    ``buffer`` is shared by all levels of one expansion and cleared when a
    level starts, exactly like BuildKit's ``shellWord.wordsBuffer``.
    """

    __slots__ = ("buffer", "words", "in_word")

    def __init__(self, buffer: list[str]) -> None:
        buffer.clear()
        self.buffer = buffer
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if not is_space(ch):
            self.buffer.append(ch)
            self.in_word = True
        elif self.in_word and self.buffer:
            self._flush()

    def add_expanded(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        if text:
            self.buffer.append(text)
        self.in_word = True

    def finish(self) -> list[str]:
        if self.buffer:
            self._flush()
        return self.words

    def _flush(self) -> None:
        self.words.append("".join(self.buffer))
        self.buffer.clear()
        self.in_word = False


class _Scan:
    """One expansion of one word: a cursor over ``text`` plus what it found."""

    __slots__ = (
        "source", "text", "pos", "end", "env", "escape", "quotes", "keep_quotes",
        "raw_escapes", "skip_unset", "matched", "unmatched", "split_buffer", "top_raw_escapes",
    )

    def __init__(self, lexer: Lexer, word: str, env: Mapping[str, str], *, split: bool) -> None:
        self.source = word
        self.text = word
        self.pos = 1 if word.startswith(_BOM) else 0
        self.end = len(word)
        self.env = env
        self.escape = lexer.escape
        self.quotes = not lexer.raw_quotes
        self.keep_quotes = lexer.keep_quotes
        self.top_raw_escapes = lexer.raw_escapes
        self.raw_escapes = lexer.raw_escapes
        self.skip_unset = lexer.skip_unset_env
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()
        self.split_buffer: list[str] | None = [] if split else None

    def run(self) -> tuple[str, list[str]]:
        try:
            return self.until("", self.top_raw_escapes)
        except ExpansionError as err:
            raise ExpansionError(f"failed to process {quote(self.source)}: {err}") from None
        except RecursionError:
            # Go has no practical nesting limit; Python does. Fail cleanly.
            raise ExpansionError(f"failed to process {quote(self.source)}: substitutions nested too deeply") from None

    def until(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        """Scan up to and including ``stop`` ("" = end of input); BuildKit ``processStopOn``."""
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            return self._scan_until(stop)
        finally:
            self.raw_escapes = saved

    def _scan_until(self, stop: str) -> tuple[str, list[str]]:
        text, end, escape = self.text, self.end, self.escape
        words = _Words(self.split_buffer) if self.split_buffer is not None else None
        plain_run = None if words is not None else _plain_run_pattern(escape, stop, self.quotes)
        out: list[str] = []
        while self.pos < end:
            ch = text[self.pos]
            if ch == stop:
                self.pos += 1
                return "".join(out), (words.finish() if words is not None else [])
            if ch == "$":
                piece = self.dollar()
                out.append(piece)
                if words is not None:
                    words.add_expanded(piece)
            elif self.quotes and (ch == "'" or ch == '"'):
                piece = self.single_quoted() if ch == "'" else self.double_quoted()
                out.append(piece)
                if words is not None:
                    words.add_raw(piece)
            elif ch == escape:
                self.pos += 1
                if self.raw_escapes:
                    out.append(ch)
                    if words is not None:
                        words.add_raw(ch)
                if self.pos >= end:
                    break  # a trailing escape is dropped
                ch = text[self.pos]
                self.pos += 1
                out.append(ch)
                if words is not None:
                    words.add_raw(ch)
            elif plain_run is not None:
                run = plain_run.match(text, self.pos)
                assert run is not None  # ch itself is plain, so the run is non-empty
                out.append(run.group())
                self.pos = run.end()
            else:
                self.pos += 1
                out.append(ch)
                assert words is not None
                words.add_char(ch)
        if stop:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out), (words.finish() if words is not None else [])

    def single_quoted(self) -> str:
        close = self.text.find("'", self.pos + 1)
        if close < 0:
            self.pos = self.end
            raise ExpansionError("unexpected end of statement while looking for matching single-quote")
        body = self.text[self.pos + 1 : close]
        self.pos = close + 1
        return f"'{body}'" if self.keep_quotes else body

    def double_quoted(self) -> str:
        text, end, escape = self.text, self.end, self.escape
        out: list[str] = ['"'] if self.keep_quotes else []
        self.pos += 1
        while True:
            if self.pos >= end:
                raise ExpansionError("unexpected end of statement while looking for matching double-quote")
            ch = text[self.pos]
            if ch == '"':
                self.pos += 1
                if self.keep_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.pos += 1
            if ch == escape:
                if self.raw_escapes:
                    out.append(ch)
                if self.pos >= end:
                    continue  # reported as an unterminated quote on the next turn
                following = text[self.pos]
                # Only these can be escaped inside double quotes; any other escape stays.
                if following == '"' or following == "$" or following == escape:
                    ch = following
                    self.pos += 1
            out.append(ch)

    def dollar(self) -> str:
        """Expand the reference starting at the ``$`` under the cursor."""
        text, end = self.text, self.end
        self.pos += 1
        if self.pos >= end or text[self.pos] != "{":
            name = self.name()
            if not name:
                return "$"
            value = self.lookup(name)
            if value is None:
                return "$" + name if self.skip_unset else ""
            return value

        self.pos += 1
        if self.pos >= end:
            raise ExpansionError("syntax error: missing '}'")
        if text[self.pos] in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self.name()
        op = self.next_char()
        if op == "}":
            value = self.lookup(name)
            if value is None:
                return f"${{{name}}}" if self.skip_unset else ""
            return value
        if op == "/":
            return self.substitute(name)
        modifier = op or EOF_RUNE
        null_is_unset = op == ":"
        if null_is_unset:
            op = self.next_char()
            modifier += op or EOF_RUNE
        elif op not in _DEFAULTING_OPS:
            raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")
        return self.modify(name, op, modifier, null_is_unset)

    def modify(self, name: str, op: str, modifier: str, null_is_unset: bool) -> str:
        """``${NAME[:]op word}`` after the operator; BuildKit checks the operator last."""
        is_pattern = op == "#" or op == "%"
        if null_is_unset and is_pattern:
            raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")
        word = self.until_closing("}", is_pattern, "syntax error: missing '}'")
        value = self.lookup(name)
        if value is None and self.skip_unset:
            return f"${{{name}{modifier}{word}}}"
        unset_or_null = value is None or (null_is_unset and value == "")
        if op == "-":
            return word if unset_or_null else value or ""
        if op == "+":
            return "" if unset_or_null else word
        if op == "?":
            if value is None:
                raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise ExpansionError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if is_pattern:
            greedy = word.startswith(op)
            if greedy:
                word = word[1:]
            if op == "%":
                return trim_suffix(word, value or "", greedy=greedy)
            return trim_prefix(word, value or "", greedy=greedy)
        raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")

    def substitute(self, name: str) -> str:
        """``${NAME/pattern/replacement}`` and ``${NAME//pattern/replacement}``."""
        every_match = self.pos < self.end and self.text[self.pos] == "/"
        if every_match:
            self.pos += 1
        pattern = self.until_closing("/", True, "syntax error: missing '/' in ${}")
        replacement = self.until_closing("}", True, "syntax error: missing '}'")
        value = self.lookup(name)
        if value is None:
            if self.skip_unset:
                return f"${{{name}/{pattern}/{replacement}}}"
            value = ""
        regex = compile_shell_pattern(pattern, greedy=True, anchored=False)
        if every_match:
            return replace_all(regex, value, replacement)
        found = regex.search(value)
        if found is None:
            return value
        return value[: found.start()] + replacement + value[found.end() :]

    def until_closing(self, stop: str, raw_escapes: bool, missing: str) -> str:
        """Scan a nested word; running off the end is reported as ``missing``."""
        try:
            return self.until(stop, raw_escapes)[0]
        except ExpansionError:
            if self.pos >= self.end:
                raise ExpansionError(missing) from None
            raise

    def name(self) -> str:
        """Read a variable name: all digits, one special parameter, or letters/digits/_."""
        text, start, end = self.text, self.pos, self.end
        if start >= end:
            return ""
        first = text[start]
        stop = start + 1
        if first.isdecimal():
            while stop < end and text[stop].isdecimal():
                stop += 1
        elif first not in _SPECIAL_PARAMS:
            stop = start
            while stop < end and is_name_char(text[stop]):
                stop += 1
        self.pos = stop
        return text[start:stop]

    def next_char(self) -> str:
        """Consume one character; "" at end of input."""
        if self.pos >= self.end:
            return ""
        self.pos += 1
        return self.text[self.pos - 1]

    def lookup(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None:
            self.unmatched.add(name)
        else:
            self.matched.add(name)
        return value


_plain_runs: dict[tuple[str, str, bool], re.Pattern[str]] = {}


def _plain_run_pattern(escape: str, stop: str, quotes: bool) -> re.Pattern[str]:
    """A regex matching a run of characters that need no processing (compiled on first use)."""
    key = (escape, stop, quotes)
    pattern = _plain_runs.get(key)
    if pattern is None:
        specials = "$" + escape + stop + ("'\"" if quotes else "")
        pattern = _plain_runs[key] = re.compile(f"[^{re.escape(specials)}]+")
    return pattern
