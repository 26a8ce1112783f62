"""grammar: Dockerfile text -> typed instructions. Imports only lark and the stdlib.

Two layers, as in BuildKit: ``parse_nodes`` splits the text into raw instruction
nodes (parser layer), ``parse_dockerfile`` turns them into typed instructions and
stages (instructions layer). ``Lexer`` expands words against ARG/ENV scopes;
``PatternMatcher`` implements ``.dockerignore``.
"""
from __future__ import annotations

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
from grammar.dockerignore import PatternMatcher, find_ignore_file, read_ignore_file, read_ignore_patterns
from grammar.errors import DockerfileSyntaxError, ExpansionError, GrammarError, IgnorePatternError, render_snippet
from grammar.expansion import expand_instruction
from grammar.gitref import GitRef, GitRefError, parse_git_ref
from grammar.instructions import parse_dockerfile
from grammar.nodes import Directives, Heredoc, Node, ParsedFile, ParseWarning
from grammar.parser import parse_nodes
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

__all__ = [
    "Add", "Arg", "ArgDecl", "Cmd", "Copy", "Directives", "Dockerfile", "DockerfileSyntaxError",
    "Entrypoint", "Env", "ExecForm", "ExpansionError", "Expose", "Flag", "From", "GitRef", "GitRefError",
    "GrammarError", "Healthcheck", "Heredoc", "IgnorePatternError", "InlineFile", "Instruction", "KeyValue",
    "Label", "Lexer", "Maintainer", "Node", "Onbuild", "ParseWarning", "ParsedFile", "PatternMatcher", "Run",
    "RunMount", "Shell", "ShellForm", "Span", "Stage", "StageDependency", "StopSignal", "User", "Volume",
    "WordResult", "Workdir", "base_stage", "check_cycles", "copy_source", "dependencies", "expand_instruction",
    "find_ignore_file", "find_target", "mount_source", "parse_dockerfile", "parse_git_ref", "parse_nodes",
    "reachable", "read_ignore_file", "read_ignore_patterns", "render_snippet",
]
