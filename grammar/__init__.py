"""grammar: Dockerfile text -> typed instructions. Imports only lark and the stdlib."""
from __future__ import annotations

from grammar.errors import DockerfileSyntaxError, ExpansionError, GrammarError, IgnorePatternError
from grammar.nodes import Directives, Heredoc, Node, ParsedFile, ParseWarning

__all__ = [
    "Directives",
    "DockerfileSyntaxError",
    "ExpansionError",
    "GrammarError",
    "Heredoc",
    "IgnorePatternError",
    "Node",
    "ParseWarning",
    "ParsedFile",
]
