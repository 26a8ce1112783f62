"""The builder's view of word expansion: grammar's Lexer bound to a scope and a location.

``grammar.Lexer`` knows BuildKit's expansion rules but not where a word came from;
this module adds the Dockerfile location so an expansion error (``${X:?required}``)
is reported at its instruction with a snippet.
"""
from __future__ import annotations

from collections.abc import Mapping

from builder.errors import PlanError
from grammar import Dockerfile, ExpansionError, Lexer, Span, record


def located_plan_error(dockerfile: Dockerfile, message: str, span: Span | None) -> PlanError:
    line, end = (span.line, span.end_line) if span else (0, 0)
    return PlanError(message, path=dockerfile.path, line=line, end_line=end, source_lines=dockerfile.source_lines)


@record
class BoundExpander:
    """Implements grammar's ``Expander`` protocol for one env."""

    words_lexer: Lexer
    heredoc_lexer: Lexer
    env: Mapping[str, str]

    def word(self, text: str) -> str:
        return self.words_lexer.process_word(text, self.env)

    def words(self, text: str) -> list[str]:
        return self.words_lexer.process_words(text, self.env)

    def heredoc(self, text: str) -> str:
        return self.heredoc_lexer.process_word(text, self.env)


@record
class ScopedExpander:
    dockerfile: Dockerfile
    lexer: Lexer
    heredoc_lexer: Lexer

    @classmethod
    def for_dockerfile(cls, dockerfile: Dockerfile) -> ScopedExpander:
        # COPY heredoc bodies always use "\" and keep their quotes, whatever `# escape=` says.
        return cls(dockerfile, Lexer(dockerfile.directives.escape), Lexer("\\", raw_quotes=True))

    def bound(self, env: Mapping[str, str]) -> BoundExpander:
        return BoundExpander(self.lexer, self.heredoc_lexer, env)

    def expand_in(self, text: str, env: Mapping[str, str]) -> str:
        return self.lexer.process_word(text, env)

    def word_in(self, text: str, env: Mapping[str, str], span: Span) -> str:
        try:
            return self.lexer.process_word(text, env)
        except ExpansionError as exc:
            raise located_plan_error(self.dockerfile, str(exc), span) from None

    def word_with_matches(self, text: str, env: Mapping[str, str], span: Span) -> tuple[str, frozenset[str]]:
        try:
            result = self.lexer.process_word_with_matches(text, env)
        except ExpansionError as exc:
            raise located_plan_error(self.dockerfile, str(exc), span) from None
        return result.value, result.unmatched
