"""COPY and ADD: flags, sources, destination and heredoc sources.

A source word that is a heredoc marker (``<<EOF``) becomes an inline file;
its body is tab-chomped here for ``<<-`` (RUN keeps that for later).
``--chmod`` is validated when it has no variable; with one, the planner
validates the expanded value with ``grammar.chmod.parse_chmod``.
"""
from __future__ import annotations

import re
from typing import Any

from grammar.ast import Add, Copy, InlineFile
from grammar.chmod import parse_chmod
from grammar.failures import InstructionError
from grammar.flags import ParsedFlags
from grammar.nodes import Heredoc
from grammar.regexes import compile_regex
from grammar.request import Request

# BuildKit's reHeredoc, applied to one word.
HEREDOC_WORD = compile_regex(r"^(\d*)<<(-?)\s*([^<]*)$")
_LEADING_TABS = compile_regex(r"^\t+", re.MULTILINE)


def parse_copy(request: Request) -> Copy:
    flags, common = _common_fields(request, "COPY")
    return Copy(**common, from_=flags.string("from") or None, parents=flags.boolean("parents") or False)


def parse_add(request: Request) -> Add:
    flags, common = _common_fields(request, "ADD")
    return Add(
        **common,
        keep_git_dir=flags.boolean("keep-git-dir") or False,
        checksum=flags.string("checksum") or None,
        unpack=flags.boolean("unpack"),
    )


def _common_fields(request: Request, name: str) -> tuple[ParsedFlags, dict[str, Any]]:
    """What COPY and ADD share, checked in BuildKit's order: arity, flags, then sources."""
    if len(request.args) < 2:
        raise InstructionError(
            f"{name} requires at least two arguments, but only one was provided. Destination could not be determined"
        )
    flags = request.flags()
    sources, dest, inline = _sources_and_dest(request, name)
    return flags, {
        "span": request.span,
        "source": request.source,
        "sources": sources,
        "dest": dest,
        "heredoc_sources": inline,
        "chown": flags.string("chown") or None,
        "chmod": _checked_chmod(flags),
        "link": flags.boolean("link") or False,
        "exclude": flags.strings("exclude"),
        "flags": flags.flags,
    }


def chomp(content: str) -> str:
    """``<<-``: strip the leading tabs of every line."""
    return _LEADING_TABS.sub("", content)


def heredoc_name(word: str) -> tuple[str, bool] | None:
    """(name, chomp) when ``word`` is a heredoc marker, else None."""
    match = HEREDOC_WORD.match(word)
    if match is None:
        return None
    name = _unquoted(match.group(3))
    return (name, match.group(2) == "-") if name else None


def _sources_and_dest(request: Request, name: str) -> tuple[tuple[str, ...], str, tuple[InlineFile, ...]]:
    *sources, dest = request.args
    if heredoc_name(dest) is not None:
        raise InstructionError(f"{name} cannot accept a heredoc as a destination")
    bodies = list(request.node.heredocs)
    paths: list[str] = []
    inline: list[InlineFile] = []
    for word in sources:
        marker = heredoc_name(word)
        if marker is None:
            paths.append(word)
            continue
        body = _body_named(marker[0], bodies, len(inline))
        content = chomp(body.content) if marker[1] else body.content
        inline.append(InlineFile(marker[0], content, body.expand, marker[1], body.file_descriptor))
    return tuple(paths), dest, tuple(inline)


def _body_named(name: str, bodies: list[Heredoc], position: int) -> Heredoc:
    # BuildKit looks bodies up by name (the last one of a name wins).
    for body in reversed(bodies):
        if body.name == name:
            return body
    if position < len(bodies):
        return bodies[position]
    return Heredoc(name=name, content="", expand=True, chomp=False)


def _unquoted(text: str) -> str:
    """The heredoc name with shell quotes and escapes removed (``'EOF'`` -> ``EOF``)."""
    out: list[str] = []
    quote = ""
    escaped = False
    for char in text.strip():
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif char in "'\"" and quote in ("", char):
            quote = "" if quote else char
        else:
            out.append(char)
    return "".join(out)


def _checked_chmod(flags: ParsedFlags) -> str | None:
    value = flags.string("chmod")
    if value and "$" not in value:
        parse_chmod(value)
    return value or None
