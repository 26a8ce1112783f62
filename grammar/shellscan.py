"""Just enough of BuildKit's shell lexer to find heredoc words.

BuildKit finds ``<<EOF`` markers by running its shell lexer over the
instruction line with an empty environment, keeping unset variables, quotes
and escapes as written. The escape token is always ``\\`` here, whatever
``# escape=`` says. Variable *expansion* belongs to ``grammar.words``; this
module only reproduces how that lexer splits words, so that names like
``<<"EOF"``, ``<<  EOF`` or ``<<$EOF`` come out the same.
"""
from __future__ import annotations

import unicodedata

from grammar.errors import GrammarError
from grammar.linesplit import GO_SPACE

ESCAPE = "\\"
_SPECIAL_PARAMS = "@*#?-$!0"
_HEREDOC_BLANKS = " \t"


class ShellLexError(GrammarError):
    """Unterminated quote or bad ``${...}``; the message follows BuildKit's."""


def shell_words(text: str, *, raw_quotes: bool, raw_escapes: bool) -> list[str]:
    """Split ``text`` into words the way ``Lex.ProcessWords`` does (env empty, unset kept)."""
    scanner = _Scanner(text, raw_quotes, raw_escapes)
    try:
        return scanner.stop_on("", raw_escapes)[1]
    except ShellLexError as error:
        quoted = text.replace("\\", "\\\\").replace('"', '\\"')
        raise ShellLexError(f'failed to process "{quoted}": {error}') from None


class _Words:
    """Accumulates words; text from expansions is split, quoted text is not."""

    def __init__(self) -> None:
        self.word = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, char: str) -> None:
        if char not in GO_SPACE:
            self.add_raw(char)
        elif self.in_word and self.word:
            self.words.append(self.word)
            self.word, self.in_word = "", False

    def add_text(self, text: str) -> None:
        for char in text:
            self.add_char(char)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def finish(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word, self.in_word = "", False
        return self.words


class _Scanner:
    def __init__(self, text: str, raw_quotes: bool, raw_escapes: bool) -> None:
        self.text = text
        self.pos = 0
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        char = self.peek()
        self.pos += 1 if char else 0
        return char

    def stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _stop_on(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        handlers = {"$": self.dollar, "<": self.possible_heredoc,
                    "'": self.single_quoted, '"': self.double_quoted}
        while (char := self.peek()) != "":
            if stop and char == stop:
                self.next()
                return "".join(result), words.finish()
            handler = handlers.get(char)
            if handler is not None:
                piece = handler()
                result.append(piece)
                words.add_text(piece) if char == "$" else words.add_raw(piece)
                continue
            self.next()
            if char == ESCAPE:
                if self.raw_escapes:
                    words.add_raw(char)
                    result.append(char)
                char = self.next()
                if char == "":
                    break
                words.add_raw(char)
            else:
                words.add_char(char)
            result.append(char)
        if stop:
            raise ShellLexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.finish()

    def possible_heredoc(self) -> str:
        """``<<``, ``<<-`` and the blanks after them stay glued to the next word."""
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        marker = "<<"
        if self.peek() == "-":
            marker += self.next()
        while self.peek() and self.peek() in _HEREDOC_BLANKS:
            marker += self.next()
        return marker

    def single_quoted(self) -> str:
        quote = self.next()
        result = [quote] if self.raw_quotes else []
        while True:
            char = self.next()
            if char == "":
                raise ShellLexError("unexpected end of statement while looking for matching single-quote")
            if char == "'":
                return "".join(result + ([char] if self.raw_quotes else []))
            result.append(char)

    def double_quoted(self) -> str:
        quote = self.next()
        result = [quote] if self.raw_quotes else []
        while True:
            char = self.peek()
            if char == "":
                raise ShellLexError("unexpected end of statement while looking for matching double-quote")
            if char == '"':
                self.next()
                return "".join(result + ([char] if self.raw_quotes else []))
            if char == "$":
                result.append(self.dollar())
                continue
            result.append(self._double_quoted_char())

    def _double_quoted_char(self) -> str:
        char = self.next()
        if char != ESCAPE:
            return char
        # Go writes the raw escape, then the escaped character (or the escape again).
        prefix = char if self.raw_escapes else ""
        if self.peek() in ('"', "$", ESCAPE) and self.peek():
            char = self.next()
        elif self.peek() == "":
            return prefix
        return prefix + char

    def dollar(self) -> str:
        """``$name`` / ``${...}`` with an empty environment: written back unexpanded."""
        self.next()
        if self.peek() != "{":
            name = self.name()
            return "$" + name if name else "$"
        self.next()
        if self.peek() == "":
            raise ShellLexError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise ShellLexError("syntax error: bad substitution")
        name = self.name()
        operator = self.next()
        if operator == "}":
            return "${" + name + "}"
        if operator == "/":
            return self._replacement(name)
        if operator == ":":
            operator += self.next()
        if operator[-1:] in ("+", "-", "?", "#", "%") or operator.startswith(":"):
            word = self._until_brace(raw_escapes=operator[-1:] in ("#", "%"))
            return "${" + name + operator + word + "}"
        raise ShellLexError(f"unsupported modifier ({operator}) in substitution")

    def _until_brace(self, *, raw_escapes: bool) -> str:
        try:
            return self.stop_on("}", raw_escapes)[0]
        except ShellLexError:
            if self.peek() == "":
                raise ShellLexError("syntax error: missing '}'") from None
            raise

    def _replacement(self, name: str) -> str:
        if self.peek() == "/":
            self.next()
        try:
            pattern = self.stop_on("/", True)[0]
        except ShellLexError:
            if self.peek() == "":
                raise ShellLexError("syntax error: missing '/' in ${}") from None
            raise
        replacement = self._until_brace(raw_escapes=True)
        return "${" + name + "/" + pattern + "/" + replacement + "}"

    def name(self) -> str:
        """A variable name: digits, one special parameter, or letters/digits/_."""
        char = self.peek()
        if char and unicodedata.category(char) == "Nd":
            digits = ""
            while self.peek() and unicodedata.category(self.peek()) == "Nd":
                digits += self.next()
            return digits
        if char and char in _SPECIAL_PARAMS:
            return self.next()
        name = ""
        while (char := self.peek()) and (char.isalpha() or char == "_" or unicodedata.category(char) == "Nd"):
            name += self.next()
        return name
