"""Raw parser ``Node`` -> typed instruction, as BuildKit's ``instructions`` package does it.

``parse_instruction`` checks arity and flags and shapes the arguments;
``parse_dockerfile`` groups the instructions into meta ARGs and stages.
Every error is a ``DockerfileSyntaxError`` that marks the whole instruction.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from grammar.ast import (
    Arg, ArgDecl, Cmd, Entrypoint, Env, Expose, From, Instruction, KeyValue, Label, Maintainer,
    Onbuild, Run, Shell, StopSignal, User, Volume, Workdir,
)  # fmt: skip
from grammar.copying import parse_add, parse_copy
from grammar.errors import GrammarError
from grammar.failures import InstructionError, located
from grammar.healthcheck import parse_healthcheck
from grammar.mounts import check_mount_syntax, preview_mount
from grammar.nodes import Node, ParsedFile
from grammar.regexes import compile_regex
from grammar.request import (
    Request, command_of, handle_json_args, require_at_least_one, require_exactly_one, span_of,
)  # fmt: skip
from grammar.stages import Dockerfile, check_cycles, group_stages
from grammar.gotext import quote
from grammar.suggest import with_hint

_STAGE_NAME = compile_regex(r"[a-z][a-z0-9\-_.]*")
_ONBUILD_PREFIX = compile_regex(r"^\s*ONBUILD\s*", re.IGNORECASE)
_WINDOWS_PATH = compile_regex(r'"[a-z]:\\.*')


def parse_instruction(node: Node, parsed_file: ParsedFile, *, labs: bool = False) -> Instruction:
    """The typed form of ``node``; raise ``DockerfileSyntaxError`` when it is invalid."""
    request = Request(node, span_of(node, parsed_file.source_lines), parsed_file.source_lines, labs)
    parser = _PARSERS.get(node.keyword.lower())
    try:
        if parser is None:
            raise InstructionError(_unknown_instruction(node))
        return parser(request)
    except InstructionError as error:
        raise located(error.message, request.span, parsed_file.path, parsed_file.source_lines) from None


def parse_dockerfile(parsed: ParsedFile, *, labs: bool = False) -> Dockerfile:
    """Every instruction of ``parsed``, typed and grouped into meta ARGs and stages."""
    instructions = [parse_instruction(node, parsed, labs=labs) for node in parsed.nodes]
    dockerfile = group_stages(instructions, parsed.path, parsed.directives, parsed.source_lines)
    check_cycles(dockerfile)
    return replace(dockerfile, warnings=parsed.warnings + dockerfile.warnings)


def instruction_names() -> tuple[str, ...]:
    """The 18 instruction keywords, lower-case."""
    return tuple(_PARSERS)


def doc_for(doc_comment: str, name: str) -> str:
    """BuildKit's ``getComment``: the text after ``name `` in a comment line above."""
    if not name:
        return ""
    prefix = name + " "
    for line in doc_comment.splitlines():
        if line.strip().startswith(prefix):
            return line.strip()[len(prefix):]
    return ""


def _unknown_instruction(node: Node) -> str:
    # The keyword is stored lower-cased; BuildKit echoes it as written.
    written = node.original.split(None, 1)[0] if node.original.strip() else node.keyword
    if written.lower() != node.keyword.lower():
        written = node.keyword
    return with_hint(f"unknown instruction: {written}", written, _PARSERS, case_sensitive=False)


def _parse_from(request: Request) -> From:
    args = request.args
    stage_name: str | None = None
    if len(args) == 3 and args[1].lower() == "as":
        stage_name = args[2].lower()
        if not _STAGE_NAME.fullmatch(stage_name):
            raise InstructionError(
                f"invalid name for build stage: {quote(args[2])}, name can't start with a number or contain symbols"
            )
    elif len(args) != 1:
        raise InstructionError("FROM requires either one or three arguments")
    flags = request.flags()
    return From(
        span=request.span,
        source=request.source.strip(),
        image=args[0],
        stage_name=stage_name,
        platform=flags.string("platform") or None,
        flags=flags.flags,
        doc=doc_for(request.node.doc_comment, stage_name or ""),
    )


def _parse_run(request: Request) -> Run:
    flags = request.flags()
    specs = flags.strings("mount")
    for spec in specs:
        check_mount_syntax(spec)
    return Run(
        span=request.span,
        source=request.source,
        cmd=command_of(request.args, request.node.json),
        heredocs=request.inline_files(),
        mounts=tuple(preview_mount(spec) for spec in specs),
        network=_one_of(flags.string("network"), "network", ("default", "none", "host")),
        security=_one_of(flags.string("security"), "security", ("sandbox", "insecure")),
        devices=flags.strings("device"),
        flags=flags.flags,
    )


def _one_of(value: str | None, what: str, allowed: tuple[str, ...]) -> str | None:
    # Checked at parse time, like BuildKit's RUN network/security hooks.
    if value is not None and value not in allowed:
        raise InstructionError(f"unsupported {what} mode {quote(value)}")
    return value


def _parse_cmd(request: Request) -> Cmd:
    flags = request.no_flags()
    cmd = command_of(request.args, request.node.json)
    return Cmd(request.span, request.source, cmd, request.inline_files(), flags.flags)


def _parse_entrypoint(request: Request) -> Entrypoint:
    flags = request.no_flags()
    # ENTRYPOINT with no words (``ENTRYPOINT []``) clears the entrypoint.
    cmd = command_of(request.args, request.node.json) if request.args else None
    return Entrypoint(request.span, request.source, cmd, request.inline_files(), flags.flags)


def _parse_shell(request: Request) -> Shell:
    flags = request.no_flags()
    argv = handle_json_args(request.args, request.node.json)
    if not argv:
        raise InstructionError("SHELL requires at least one argument")
    if not request.node.json:
        raise InstructionError(_not_json("SHELL", request.source))
    return Shell(request.span, request.source, argv, flags.flags)


def _not_json(name: str, original: str) -> str:
    # BuildKit's hint for Windows paths whose backslashes were not escaped.
    lowered = original.lower()
    if _WINDOWS_PATH.search(lowered) and "\\\\" not in lowered and "[" in lowered and "]" in lowered:
        return (
            f"{name} requires the arguments to be in JSON form. It looks like '{lowered}' includes a file path "
            'without an escaped back-slash. JSON requires back-slashes to be escaped such as '
            '["c:\\\\path\\\\to\\\\file.exe", "/parameter"]'
        )
    return f"{name} requires the arguments to be in JSON form"


def _key_values(request: Request, name: str) -> tuple[KeyValue, ...]:
    args = request.args
    if not args:
        raise InstructionError(f"{name} requires at least one argument")
    if len(args) % 3:
        raise InstructionError(f"Bad input to {name}, too many arguments")
    pairs = []
    for index in range(0, len(args), 3):
        key, value, separator = args[index : index + 3]
        if not key:
            raise InstructionError(f"{name} names can not be blank")
        pairs.append(KeyValue(key, value, legacy=separator == ""))
    return tuple(pairs)


def _parse_env(request: Request) -> Env:
    flags = request.no_flags()
    return Env(request.span, request.source, _key_values(request, "ENV"), flags.flags)


def _parse_label(request: Request) -> Label:
    flags = request.no_flags()
    return Label(request.span, request.source, _key_values(request, "LABEL"), flags.flags)


def _parse_arg(request: Request) -> Arg:
    # BuildKit never parses ARG's flags: they are silently ignored.
    require_at_least_one(request, "ARG")
    declarations = []
    for word in request.args:
        name, has_default, default = word.partition("=")
        if has_default and not name:
            raise InstructionError("ARG names can not be blank")
        doc = doc_for(request.node.doc_comment, name)
        declarations.append(ArgDecl(name, default if has_default else None, doc))
    return Arg(request.span, request.source, tuple(declarations))


def _parse_expose(request: Request) -> Expose:
    require_at_least_one(request, "EXPOSE")
    flags = request.no_flags()
    return Expose(request.span, request.source, tuple(sorted(request.args)), flags.flags)


def _parse_volume(request: Request) -> Volume:
    require_at_least_one(request, "VOLUME")
    flags = request.no_flags()
    paths = tuple(path.strip() for path in request.args)
    if "" in paths:
        raise InstructionError("VOLUME specified can not be an empty string")
    return Volume(request.span, request.source, paths, flags.flags)


def _parse_workdir(request: Request) -> Workdir:
    path = require_exactly_one(request, "WORKDIR")
    return Workdir(request.span, request.source, path, request.no_flags().flags)


def _parse_user(request: Request) -> User:
    user = require_exactly_one(request, "USER")
    return User(request.span, request.source, user, request.no_flags().flags)


def _parse_stopsignal(request: Request) -> StopSignal:
    # Like ARG, STOPSIGNAL ignores its flags.
    return StopSignal(request.span, request.source, require_exactly_one(request, "STOPSIGNAL"))


def _parse_maintainer(request: Request) -> Maintainer:
    name = require_exactly_one(request, "MAINTAINER")
    return Maintainer(request.span, request.source, name, request.no_flags().flags)


def _parse_onbuild(request: Request) -> Onbuild:
    inner = request.node.inner
    if inner is None:
        raise InstructionError("ONBUILD requires at least one argument")
    flags = request.no_flags()
    keyword = inner.keyword.strip().upper()
    if keyword == "ONBUILD":
        raise InstructionError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if keyword in ("MAINTAINER", "FROM"):
        raise InstructionError(f"{keyword} isn't allowed as an ONBUILD trigger")
    return Onbuild(
        span=request.span,
        source=request.source,
        trigger=_trigger_text(request.node),
        keyword=keyword,
        instruction=_parsed_trigger(inner, request),
        flags=flags.flags,
    )


def _trigger_text(node: Node) -> str:
    """What the image config stores: the line without ``ONBUILD``, plus heredoc bodies."""
    heredocs = node.heredocs or (node.inner.heredocs if node.inner else ())
    line = node.original.split("\n", 1)[0] if heredocs else node.original
    trigger = _ONBUILD_PREFIX.sub("", line, count=1)
    for heredoc in heredocs:
        trigger += "\n" + heredoc.content + heredoc.name
    return trigger


def _parsed_trigger(inner: Node, request: Request) -> Instruction | None:
    # BuildKit checks a trigger only when a child runs it, so a bad one is kept as text.
    try:
        return parse_instruction(inner, ParsedFile("", (), source_lines=request.source_lines), labs=request.labs)
    except GrammarError:
        return None


_PARSERS: dict[str, Callable[[Request], Instruction]] = {
    "add": parse_add,
    "arg": _parse_arg,
    "cmd": _parse_cmd,
    "copy": parse_copy,
    "entrypoint": _parse_entrypoint,
    "env": _parse_env,
    "expose": _parse_expose,
    "from": _parse_from,
    "healthcheck": parse_healthcheck,
    "label": _parse_label,
    "maintainer": _parse_maintainer,
    "onbuild": _parse_onbuild,
    "run": _parse_run,
    "shell": _parse_shell,
    "stopsignal": _parse_stopsignal,
    "user": _parse_user,
    "volume": _parse_volume,
    "workdir": _parse_workdir,
}
