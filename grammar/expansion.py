"""Which words of each instruction the builder expands, and against what.

This is BuildKit's ``Expand`` methods (``instructions/commands.go``) plus the
special cases in ``convert.go``, as data and one function:

* ``EXPANDABLE`` says, per instruction class, which fields are expanded and
  with which ``Scope``: ``META`` (FROM: only global ARGs and the platform
  args), ``STAGE`` (the stage's ENV + declared ARGs), or nothing at all.
* ``expand_instruction(instruction, expander)`` returns a copy with those
  fields expanded. The ``Expander`` comes from the planner (built on
  ``grammar.words``) and already holds the right scope.

Never expanded: CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER, ONBUILD,
the RUN command itself (the shell sees the env), ``COPY --from``,
``--exclude``, ``--parents``, and mount ``from=`` (it may not contain ``$``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from enum import Enum
from typing import Protocol

from grammar import ast
from grammar.ast import Add, Arg, ArgDecl, Copy, Env, Expose, From, Instruction, KeyValue, Label, Run
from grammar.chmod import parse_chmod
from grammar.failures import InstructionError, located
from grammar.mounts import parse_mount


class Scope(Enum):
    META = "meta"  # global ARGs (before the first FROM) and the automatic platform ARGs
    STAGE = "stage"  # the stage's env: base image ENV, ENV lines and declared ARGs so far


class Expander(Protocol):
    """The planner's word functions, already bound to the right scope."""

    def word(self, text: str) -> str:
        """Expand one word and remove its quotes (``ProcessWord``)."""
        ...

    def words(self, text: str) -> list[str]:
        """Expand, then split on unquoted whitespace (``ProcessWords``; EXPOSE only)."""
        ...

    def heredoc(self, text: str) -> str:
        """Expand a COPY/ADD heredoc body, keeping quotes (escape is always ``\\``)."""
        ...


# Field names per instruction class; "*" marks a field expanded with word splitting.
EXPANDABLE: Mapping[type, tuple[Scope, tuple[str, ...]]] = {
    ast.From: (Scope.META, ("image", "platform")),
    ast.Env: (Scope.STAGE, ("pairs",)),
    ast.Label: (Scope.STAGE, ("pairs",)),
    ast.Arg: (Scope.STAGE, ("args",)),
    ast.Copy: (Scope.STAGE, ("sources", "dest", "chown", "chmod", "heredoc_sources")),
    ast.Add: (Scope.STAGE, ("sources", "dest", "chown", "chmod", "checksum", "heredoc_sources")),
    ast.Workdir: (Scope.STAGE, ("path",)),
    ast.User: (Scope.STAGE, ("user",)),
    ast.Volume: (Scope.STAGE, ("paths",)),
    ast.StopSignal: (Scope.STAGE, ("signal",)),
    ast.Expose: (Scope.STAGE, ("*ports",)),
    ast.Run: (Scope.STAGE, ("mounts",)),
}


def expansion_scope(instruction: Instruction) -> Scope | None:
    """The env ``instruction`` is expanded against, or None if it never is."""
    rule = EXPANDABLE.get(type(instruction))
    return rule[0] if rule else None


def expand_instruction(
    instruction: Instruction, expander: Expander, *, path: str = "Dockerfile", source_lines: Sequence[str] = ()
) -> Instruction:
    """A copy of ``instruction`` with its expandable fields expanded and re-checked.

    Re-checks what BuildKit checks after expansion: mounts and ``--chmod``.
    Errors from those checks are located at the instruction.
    """
    try:
        return _expanded(instruction, expander)
    except InstructionError as error:
        raise located(error.message, instruction.span, path, source_lines) from None


def _expanded(instruction: Instruction, x: Expander) -> Instruction:
    match instruction:
        case From(image=image, platform=platform):
            return replace(instruction, image=x.word(image), platform=_maybe(x, platform))
        case Env(pairs=pairs) | Label(pairs=pairs):
            return replace(instruction, pairs=tuple(KeyValue(x.word(p.key), x.word(p.value), p.legacy) for p in pairs))
        case Arg(args=args):
            return replace(instruction, args=tuple(_expanded_arg(decl, x) for decl in args))
        case Copy() | Add():
            return _expanded_copy(instruction, x)
        case ast.Workdir(path=text):
            return replace(instruction, path=x.word(text))
        case ast.User(user=text):
            return replace(instruction, user=x.word(text))
        case ast.Volume(paths=paths):
            return replace(instruction, paths=tuple(x.word(text) for text in paths))
        case ast.StopSignal(signal=text):
            return replace(instruction, signal=x.word(text))
        case Expose(ports=ports):
            return replace(instruction, ports=tuple(word for text in ports for word in x.words(text)))
        case Run(mounts=mounts):
            return replace(instruction, mounts=tuple(parse_mount(mount.spec, x.word) for mount in mounts))
        case _:
            return instruction


def _expanded_arg(decl: ArgDecl, x: Expander) -> ArgDecl:
    default = None if decl.default is None else x.word(decl.default)
    return ArgDecl(x.word(decl.name), default, decl.doc)


def _expanded_copy(instruction: Copy | Add, x: Expander) -> Copy | Add:
    chmod = _maybe(x, instruction.chmod)
    if chmod:
        parse_chmod(chmod)
    inline = tuple(
        replace(doc, content=x.heredoc(doc.content)) if doc.expand else doc for doc in instruction.heredoc_sources
    )
    expanded = replace(
        instruction,
        sources=tuple(x.word(text) for text in instruction.sources),
        dest=x.word(instruction.dest),
        chown=_maybe(x, instruction.chown),
        chmod=chmod,
        heredoc_sources=inline,
    )
    if isinstance(expanded, Add):
        expanded = replace(expanded, checksum=_maybe(x, expanded.checksum))
    return expanded


def _maybe(x: Expander, text: str | None) -> str | None:
    return None if text is None else x.word(text)
