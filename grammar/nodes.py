"""The parser layer's output: one ``Node`` per instruction, as BuildKit's parser sees it.

This is the first of two layers, mirroring BuildKit's ``parser`` package: it splits
the file into instructions and their raw arguments. Nothing is expanded and no flag
is checked here; ``grammar.instructions`` turns nodes into typed instructions.

Argument shapes (``Node.args``) follow BuildKit's dispatch table:

* ``run cmd entrypoint shell``: one arg per JSON element when ``json`` is true,
  otherwise the rest of the line verbatim as a single arg.
* ``add copy volume``: JSON elements, or whitespace-split words.
* ``from expose``: whitespace-split words.
* ``env label``: flat triples ``(key, value, sep)``; ``sep`` is ``"="`` for ``k=v``
  and ``""`` for the legacy ``KEY value`` form. Quotes are kept in values.
* ``arg``: quote-aware words, quotes kept.
* ``maintainer user workdir stopsignal``: the rest of the line as one arg.
* ``healthcheck``: the first word (``CMD``/``NONE``), then the rest parsed like CMD.
* ``onbuild``: no args; the trigger is ``inner``.
"""
from __future__ import annotations

from dataclasses import field

from grammar.records import record


@record
class Heredoc:
    """A ``<<NAME`` body attached to a RUN/COPY/ADD instruction."""

    name: str
    content: str  # raw body, ending in "\n"; not chomped, not expanded
    expand: bool  # False when any part of the delimiter was quoted
    chomp: bool  # True for <<-NAME (strip leading tabs, applied by later layers)
    file_descriptor: int = 0  # 3 for 3<<NAME


@record
class Directives:
    """Parser directives read from the top of the file."""

    escape: str = "\\"
    syntax: str | None = None
    check: str | None = None
    syntax_line: int = 0


@record
class ParseWarning:
    line: int
    message: str


@record
class Node:
    """One instruction. Lines are 1-based physical lines; column is 1-based."""

    keyword: str  # lower-cased, as written (unknown words are kept)
    args: tuple[str, ...]
    flags: tuple[str, ...]
    json: bool
    heredocs: tuple[Heredoc, ...]
    original: str  # the logical line (continuations joined), plus heredoc bodies
    start_line: int
    end_line: int
    column: int = 1
    inner: Node | None = None  # ONBUILD's trigger instruction
    doc_comment: str = ""  # comment lines right above, used for ARG/FROM descriptions


@record
class ParsedFile:
    """The whole file: its nodes plus what the CLI needs to report errors."""

    path: str
    nodes: tuple[Node, ...]
    directives: Directives = Directives()
    warnings: tuple[ParseWarning, ...] = ()
    source_lines: tuple[str, ...] = field(default=(), repr=False)
