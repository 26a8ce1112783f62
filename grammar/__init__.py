"""grammar: Dockerfile text -> typed instructions. Imports only lark and the stdlib.

Two layers, as in BuildKit: ``parse_nodes`` splits the text into raw instruction
nodes (parser layer), ``parse_dockerfile`` turns them into typed instructions and
stages (instructions layer). ``Lexer`` expands words against ARG/ENV scopes;
``PatternMatcher`` implements ``.dockerignore``.

The exports are loaded lazily (PEP 562): ``from grammar import Lexer`` imports
``grammar.words`` and nothing else, so a command pays only for what it uses
(``pybuild --check`` never loads the ``.dockerignore`` or git-URL code). ``_EXPORTS``
is the table the lazy loader reads; the ``TYPE_CHECKING`` block says the same
for type checkers, and tests/test_exports.py checks that the two and ``__all__``
agree.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grammar.ast import (
        Add,
        Arg,
        ArgDecl,
        Cmd,
        Copy,
        Entrypoint,
        Env,
        ExecForm,
        Expose,
        Flag,
        From,
        Healthcheck,
        InlineFile,
        Instruction,
        KeyValue,
        Label,
        Maintainer,
        Onbuild,
        Run,
        RunMount,
        Shell,
        ShellForm,
        Span,
        StopSignal,
        User,
        Volume,
        Workdir,
    )
    from grammar.chmod import ChmodSpec, parse_chmod
    from grammar.dockerignore import PatternMatcher, find_ignore_file, read_ignore_file, read_ignore_patterns
    from grammar.errors import DockerfileSyntaxError, ExpansionError, GrammarError, IgnorePatternError, render_snippet
    from grammar.expansion import expand_instruction
    from grammar.gitref import GitRef, GitRefError, parse_git_ref
    from grammar.gotext import GO_BOOLS
    from grammar.instructions import parse_dockerfile, parse_instruction
    from grammar.nodes import Directives, Heredoc, Node, ParsedFile, ParseWarning
    from grammar.parser import parse_nodes
    from grammar.records import record
    from grammar.stages import (
        Dockerfile,
        Stage,
        StageDependency,
        base_stage,
        check_cycles,
        copy_source,
        dependencies,
        find_target,
        mount_source,
        reachable,
    )
    from grammar.words import Lexer, WordResult

# exported name -> the submodule that defines it
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        ("Add", "Arg", "ArgDecl", "Cmd", "Copy", "Entrypoint", "Env", "ExecForm", "Expose", "Flag", "From",
         "Healthcheck", "InlineFile", "Instruction", "KeyValue", "Label", "Maintainer", "Onbuild", "Run",
         "RunMount", "Shell", "ShellForm", "Span", "StopSignal", "User", "Volume", "Workdir"),
        "grammar.ast"),
    **dict.fromkeys(("ChmodSpec", "parse_chmod"), "grammar.chmod"),
    **dict.fromkeys(("PatternMatcher", "find_ignore_file", "read_ignore_file", "read_ignore_patterns"),
                    "grammar.dockerignore"),
    **dict.fromkeys(("DockerfileSyntaxError", "ExpansionError", "GrammarError", "IgnorePatternError",
                     "render_snippet"), "grammar.errors"),
    "expand_instruction": "grammar.expansion",
    **dict.fromkeys(("GitRef", "GitRefError", "parse_git_ref"), "grammar.gitref"),
    "GO_BOOLS": "grammar.gotext",
    **dict.fromkeys(("parse_dockerfile", "parse_instruction"), "grammar.instructions"),
    **dict.fromkeys(("Directives", "Heredoc", "Node", "ParsedFile", "ParseWarning"), "grammar.nodes"),
    "parse_nodes": "grammar.parser",
    "record": "grammar.records",
    **dict.fromkeys(("Dockerfile", "Stage", "StageDependency", "base_stage", "check_cycles", "copy_source",
                     "dependencies", "find_target", "mount_source", "reachable"), "grammar.stages"),
    **dict.fromkeys(("Lexer", "WordResult"), "grammar.words"),
}

__all__ = [
    "Add", "Arg", "ArgDecl", "ChmodSpec", "Cmd", "Copy", "Directives", "Dockerfile", "DockerfileSyntaxError",
    "Entrypoint", "Env", "ExecForm", "ExpansionError", "Expose", "Flag", "From", "GO_BOOLS", "GitRef", "GitRefError",
    "GrammarError", "Healthcheck", "Heredoc", "IgnorePatternError", "InlineFile", "Instruction", "KeyValue",
    "Label", "Lexer", "Maintainer", "Node", "Onbuild", "ParseWarning", "ParsedFile", "PatternMatcher", "Run",
    "RunMount", "Shell", "ShellForm", "Span", "Stage", "StageDependency", "StopSignal", "User", "Volume",
    "WordResult", "Workdir", "base_stage", "check_cycles", "copy_source", "dependencies", "expand_instruction",
    "find_ignore_file", "find_target", "mount_source", "parse_chmod", "parse_dockerfile", "parse_git_ref", "parse_instruction", "parse_nodes",
    "reachable", "record", "read_ignore_file", "read_ignore_patterns", "render_snippet",
]


def __getattr__(name: str) -> object:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'grammar' has no attribute {name!r}")
    value = getattr(__import__(module_name, fromlist=(name,)), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
