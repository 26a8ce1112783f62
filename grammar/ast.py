"""Typed Dockerfile instructions: the output of ``grammar.instructions``.

Words are kept **raw**: quotes, ``$VAR`` and escapes are exactly as written,
because their meaning depends on the ARG/ENV scope at the point of use. The
planner expands them later (see ``grammar.expansion`` for which fields).

Every instruction carries its ``span`` and its ``source`` (the logical line as
the parser saw it), and every instruction that takes flags carries ``flags``:
the parsed ``--name=value`` words, each with its own span.
"""
from __future__ import annotations

from typing import Literal, TypeAlias

from grammar.records import record


@record
class Span:
    """A source range. Lines and columns are 1-based; ``end_column`` is exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int


@record
class Flag:
    """One ``--name[=value]`` word. ``value`` is None for a bare ``--name``."""

    name: str
    value: str | None
    span: Span


@record
class ShellForm:
    """``RUN echo hi``: one string, later run as ``SHELL + [text]``."""

    text: str


@record
class ExecForm:
    """``RUN ["echo", "hi"]``: an argv used as is, never expanded."""

    argv: tuple[str, ...]


Command: TypeAlias = ShellForm | ExecForm
MountType: TypeAlias = Literal["bind", "cache", "tmpfs", "secret", "ssh"]
Sharing: TypeAlias = Literal["shared", "private", "locked"]


@record
class RunMount:
    """One ``RUN --mount=...``, with BuildKit's per-type defaults applied.

    ``spec`` is the raw flag value; ``grammar.mounts.parse_mount(spec, expand)``
    re-reads it once the planner can expand ``$VAR`` in its values.
    """

    spec: str
    type: MountType = "bind"
    target: str = ""
    source: str = ""
    from_: str = ""
    readonly: bool = True
    id: str = ""
    sharing: Sharing | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    size: int | None = None
    env: str | None = None  # secret exposed as this env var; "" means the default name


@record
class InlineFile:
    """A heredoc body. ``content`` is raw (RUN: not chomped; COPY/ADD: already chomped)."""

    name: str
    content: str
    expand: bool
    chomp: bool = False
    file_descriptor: int = 0


@record
class KeyValue:
    """An ENV/LABEL pair. ``legacy`` marks the ``KEY value`` form (no ``=``)."""

    key: str
    value: str
    legacy: bool = False


@record
class ArgDecl:
    """One name of an ARG line. ``default`` is None for ``ARG X`` and "" for ``ARG X=``."""

    name: str
    default: str | None
    doc: str = ""


@record
class From:
    span: Span
    source: str
    image: str
    stage_name: str | None  # lower-cased, validated
    platform: str | None
    flags: tuple[Flag, ...] = ()
    doc: str = ""


@record
class Run:
    span: Span
    source: str
    cmd: Command
    heredocs: tuple[InlineFile, ...] = ()
    mounts: tuple[RunMount, ...] = ()
    network: str | None = None
    security: str | None = None
    devices: tuple[str, ...] = ()  # labs channel only
    flags: tuple[Flag, ...] = ()


@record
class Cmd:
    span: Span
    source: str
    cmd: Command
    heredocs: tuple[InlineFile, ...] = ()
    flags: tuple[Flag, ...] = ()


@record
class Entrypoint:
    span: Span
    source: str
    cmd: Command | None  # None for ``ENTRYPOINT []`` (BuildKit's emptyAsNil)
    heredocs: tuple[InlineFile, ...] = ()
    flags: tuple[Flag, ...] = ()


@record
class Shell:
    span: Span
    source: str
    argv: tuple[str, ...]
    flags: tuple[Flag, ...] = ()


@record
class Copy:
    span: Span
    source: str
    sources: tuple[str, ...]
    dest: str
    heredoc_sources: tuple[InlineFile, ...] = ()
    from_: str | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    parents: bool = False
    exclude: tuple[str, ...] = ()
    flags: tuple[Flag, ...] = ()


@record
class Add:
    span: Span
    source: str
    sources: tuple[str, ...]
    dest: str
    heredoc_sources: tuple[InlineFile, ...] = ()
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    exclude: tuple[str, ...] = ()
    keep_git_dir: bool = False
    checksum: str | None = None
    unpack: bool | None = None  # None: BuildKit's default (unpack local archives only)
    flags: tuple[Flag, ...] = ()


@record
class Env:
    span: Span
    source: str
    pairs: tuple[KeyValue, ...]
    flags: tuple[Flag, ...] = ()


@record
class Arg:
    span: Span
    source: str
    args: tuple[ArgDecl, ...]

    @property
    def pairs(self) -> tuple[tuple[str, str | None], ...]:
        return tuple((decl.name, decl.default) for decl in self.args)


@record
class Label:
    span: Span
    source: str
    pairs: tuple[KeyValue, ...]
    flags: tuple[Flag, ...] = ()


@record
class Expose:
    span: Span
    source: str
    ports: tuple[str, ...]  # raw words, sorted as BuildKit sorts them before expansion
    flags: tuple[Flag, ...] = ()


@record
class Volume:
    span: Span
    source: str
    paths: tuple[str, ...]
    flags: tuple[Flag, ...] = ()


@record
class Workdir:
    span: Span
    source: str
    path: str
    flags: tuple[Flag, ...] = ()


@record
class User:
    span: Span
    source: str
    user: str
    flags: tuple[Flag, ...] = ()


@record
class StopSignal:
    span: Span
    source: str
    signal: str


@record
class Healthcheck:
    """``test`` is the image-config form: ``("NONE",)``, ``("CMD", *argv)`` or ``("CMD-SHELL", text)``.

    Durations are nanoseconds; 0 means "not set" (the runtime default applies).
    """

    span: Span
    source: str
    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0
    flags: tuple[Flag, ...] = ()

    @property
    def disabled(self) -> bool:
        return self.test == ("NONE",)


@record
class Onbuild:
    """``trigger`` is what goes into the image config and is re-parsed in the child.

    ``instruction`` is the trigger parsed here, or None when it does not parse:
    BuildKit only checks a trigger when a child stage runs it.
    """

    span: Span
    source: str
    trigger: str
    keyword: str  # upper-case trigger keyword, e.g. "RUN"
    instruction: Instruction | None = None
    flags: tuple[Flag, ...] = ()


@record
class Maintainer:
    span: Span
    source: str
    name: str
    flags: tuple[Flag, ...] = ()


Instruction: TypeAlias = (
    From | Run | Cmd | Entrypoint | Shell | Copy | Add | Env | Arg | Label | Expose | Volume
    | Workdir | User | StopSignal | Healthcheck | Onbuild | Maintainer
)
