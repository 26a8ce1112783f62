"""Stages and the references between them, resolved the way BuildKit resolves them.

A stage is referenced three ways, each with its own rule (``convert.go``):

* ``FROM <name>``: only stages defined **earlier** count, matched against the
  lower-cased stage names **exactly** (no case folding of the reference).
  Anything else, including a later stage, is an image name.
* ``COPY --from=<name|index>``: a number is a stage index; a name is matched
  case-insensitively against **all** stages. No match means an image. A match
  that is not earlier than the current stage is an error when that stage runs.
* ``RUN --mount=from=<name|index>``: like COPY --from, with its own message.

References may hold ``$`` (FROM) and are then resolved by the planner after
expansion; every function here takes the reference string it should resolve.
"""
from __future__ import annotations

from dataclasses import field

from grammar.ast import Arg, Copy, From, Instruction, Run, Span
from grammar.errors import DockerfileSyntaxError
from grammar.failures import InstructionError
from grammar.nodes import Directives, ParseWarning
from grammar.gotext import quote
from grammar.records import record
from grammar.regexes import compile_regex
from grammar.suggest import with_hint


@record
class Stage:
    index: int
    name: str | None  # lower-case
    base: From
    body: tuple[Instruction, ...]

    @property
    def display_name(self) -> str:
        """``name``, or ``stage-N`` as BuildKit shows unnamed stages."""
        return self.name or f"stage-{self.index}"


@record
class Dockerfile:
    path: str
    directives: Directives
    meta_args: tuple[Arg, ...]
    stages: tuple[Stage, ...]
    warnings: tuple[ParseWarning, ...] = ()
    source_lines: tuple[str, ...] = field(default=(), repr=False)

    def stage_by_ref(self, ref: str) -> Stage | None:
        """The stage ``ref`` names: a stage index, or a name (any case; the last one wins)."""
        if _is_index(ref):
            number = int(ref)
            return self.stages[number] if 0 <= number < len(self.stages) else None
        found = None
        for stage in self.stages:
            if stage.name is not None and stage.name == ref.lower():
                found = stage
        return found

    def error(self, message: str, span: Span | None = None) -> DockerfileSyntaxError:
        """A located error for this file (the whole file when ``span`` is None)."""
        line, end = (span.line, span.end_line) if span else (0, 0)
        return DockerfileSyntaxError(message, path=self.path, line=line, end_line=end, source_lines=self.source_lines)


@record
class StageDependency:
    """One stage needing another: through its base, a COPY --from or a RUN mount."""

    kind: str  # "from" | "copy" | "mount"
    ref: str
    stage: Stage
    instruction: Instruction


RESERVED_STAGE_NAMES = ("context", "scratch")
# What BuildKit's lexer would change with an empty env: variables, quotes, escapes.
_VARIABLE_LIKE = compile_regex(r"\$[A-Za-z0-9_{@*#?!$-]|['\"\\]")


def group_stages(
    instructions: list[Instruction], path: str, directives: Directives, source_lines: tuple[str, ...]
) -> Dockerfile:
    """Split a file's instructions into meta ARGs and stages (BuildKit's ``instructions.Parse``)."""
    meta_args: list[Arg] = []
    heads: list[tuple[From, list[Instruction]]] = []
    for instruction in instructions:
        if isinstance(instruction, From):
            heads.append((instruction, []))
        elif heads:
            heads[-1][1].append(instruction)
        elif isinstance(instruction, Arg):
            meta_args.append(instruction)
        else:
            span = instruction.span
            raise DockerfileSyntaxError(
                "no build stage in current context",
                path=path, line=span.line, end_line=span.end_line, source_lines=source_lines,
            )  # fmt: skip
    stages = tuple(Stage(i, base.stage_name, base, tuple(body)) for i, (base, body) in enumerate(heads))
    return Dockerfile(path, directives, tuple(meta_args), stages, _name_warnings(stages), source_lines)


def _name_warnings(stages: tuple[Stage, ...]) -> tuple[ParseWarning, ...]:
    # Lint rules DuplicateStageName and ReservedStageName: warnings, not errors, in BuildKit.
    warnings: list[ParseWarning] = []
    seen: set[str] = set()
    for stage in stages:
        if stage.name is None:
            continue
        line = stage.base.span.line
        if stage.name in RESERVED_STAGE_NAMES:
            warnings.append(ParseWarning(line, f"'{stage.name}' is reserved and should not be used as a stage name"))
        if stage.name in seen:
            warnings.append(ParseWarning(line, f"Duplicate stage name '{stage.name}', stage names should be unique"))
        seen.add(stage.name)
    return tuple(warnings)


def base_stage(dockerfile: Dockerfile, stage: Stage, image: str | None = None) -> Stage | None:
    """The earlier stage ``FROM <image>`` names (``image`` after expansion), or None for an image."""
    wanted = stage.base.image if image is None else image
    found = None
    for earlier in dockerfile.stages[: stage.index]:
        if earlier.name == wanted:  # BuildKit does not fold the case of the FROM word
            found = earlier
    return found


def copy_source(dockerfile: Dockerfile, stage: Stage, copy: Copy) -> Stage | None:
    """The stage ``COPY --from`` reads, None for an image; errors as BuildKit dispatch does."""
    if copy.from_ is None:
        return None
    source = _referenced(dockerfile, copy.from_, copy.span)
    if source is not None and source.index >= stage.index:
        raise dockerfile.error(
            f"cannot copy from stage {quote(copy.from_)}, it needs to be defined before current stage "
            f"{quote(stage.display_name)}",
            copy.span,
        )
    return source


def mount_source(dockerfile: Dockerfile, stage: Stage, run: Run, ref: str, target: str) -> Stage | None:
    """The stage a ``RUN --mount=from=<ref>`` reads, None for an image or the context."""
    if not ref:
        return None
    source = _referenced(dockerfile, ref, run.span, "mount")
    if source is not None and source.index >= stage.index:
        raise dockerfile.error(
            f"cannot mount from stage {quote(ref)} to {quote(target)}, stage needs to be defined before current command",
            run.span,
        )
    return source


def dependencies(dockerfile: Dockerfile, stage: Stage, image: str | None = None) -> tuple[StageDependency, ...]:
    """Every stage ``stage`` needs, in instruction order, without the order checks.

    ``image`` is the expanded FROM word when it had variables. Mount ``from=``
    never expands, so the raw value is used.
    """
    found: list[StageDependency] = []
    base = base_stage(dockerfile, stage, image)
    if base is not None:
        found.append(StageDependency("from", base.name or "", base, stage.base))
    for instruction in stage.body:
        try:
            references = _references(instruction)
        except InstructionError as error:
            raise dockerfile.error(error.message, instruction.span) from None
        for kind, ref in references:
            target = _referenced(dockerfile, ref, instruction.span, kind)
            if target is not None:
                found.append(StageDependency(kind, ref, target, instruction))
    return tuple(found)


def check_cycles(dockerfile: Dockerfile) -> None:
    """BuildKit's ``validateCircularDependency`` over COPY --from and mount edges."""
    edges = {
        stage.index: [dep for dep in dependencies(dockerfile, stage) if dep.kind != "from"]
        for stage in dockerfile.stages
    }
    visited: set[int] = set()

    def visit(index: int, path: set[int]) -> StageDependency | None:
        if index in visited:
            return None
        visited.add(index)
        path.add(index)
        for dep in edges[index]:
            if dep.stage.index in path:
                return dep
            looped = visit(dep.stage.index, path)
            if looped is not None:
                return looped
        path.discard(index)
        return None

    for stage in dockerfile.stages:
        looped = visit(stage.index, set())
        if looped is not None:
            raise dockerfile.error(
                f"circular dependency detected on stage: {stage.display_name}", looped.instruction.span
            )


def reachable(dockerfile: Dockerfile, target: Stage, images: dict[int, str] | None = None) -> tuple[Stage, ...]:
    """The stages a build of ``target`` evaluates, in file order.

    ``images`` maps a stage index to its expanded FROM word, when it differs.
    """
    images = images or {}
    seen: set[int] = set()
    pending = [target]
    while pending:
        stage = pending.pop()
        if stage.index in seen:
            continue
        seen.add(stage.index)
        pending.extend(dep.stage for dep in dependencies(dockerfile, stage, images.get(stage.index)))
    return tuple(stage for stage in dockerfile.stages if stage.index in seen)


def find_target(dockerfile: Dockerfile, name: str | None) -> Stage:
    """The stage ``--target`` names (any case), or the last stage when it is None."""
    if not dockerfile.stages:
        raise dockerfile.error("dockerfile contains no stages to build")
    if not name:
        return dockerfile.stages[-1]
    names = [stage.name for stage in dockerfile.stages if stage.name]
    found = None
    for stage in dockerfile.stages:
        if stage.name == name.lower():
            found = stage
    if found is None:
        raise dockerfile.error(with_hint(f"target stage {quote(name)} could not be found", name, names))
    return found


def _references(instruction: Instruction) -> list[tuple[str, str]]:
    match instruction:
        case Copy(from_=str(ref)):
            if _VARIABLE_LIKE.search(ref):
                raise InstructionError(
                    "variable expansion is not supported for --from, "
                    "define a new stage with FROM using ARG from global scope as a workaround"
                )
            return [("copy", ref)]
        case Run(mounts=mounts):
            return [("mount", mount.from_) for mount in mounts if mount.from_]
        case _:
            return []


def _referenced(dockerfile: Dockerfile, ref: str, span: Span, kind: str = "copy") -> Stage | None:
    # Only COPY --from takes a stage index; a mount's from=0 names the image "0".
    if kind == "mount":
        return _by_name(dockerfile, ref)
    if _is_index(ref):
        found = dockerfile.stage_by_ref(ref)
        if found is None:
            raise dockerfile.error(f"invalid stage index {int(ref)}", span)
        return found
    return _by_name(dockerfile, ref)


def _by_name(dockerfile: Dockerfile, ref: str) -> Stage | None:
    return None if _is_index(ref) else dockerfile.stage_by_ref(ref)


def _is_index(ref: str) -> bool:
    # Go's strconv.Atoi: optional sign, then ASCII digits.
    digits = ref[1:] if ref[:1] in ("+", "-") else ref
    return digits.isascii() and digits.isdigit()
