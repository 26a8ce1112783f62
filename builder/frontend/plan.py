"""From a typed Dockerfile to a build plan: global ARGs, FROM expansion, target and stage DAG.

Pure: no I/O. The same plan drives ``--check`` and a real build. Values that are
only known at build time (a ``FROM $BASE`` whose ARG has no default) are warnings
when checking and errors when building (``strict``).
"""
from __future__ import annotations

from collections.abc import Mapping

from builder.errors import PlanError
from builder.frontend.buildargs import CONTROL_ARGS, platform_args
from builder.frontend.request import PlanRequest
from builder.frontend.scope import ArgDeclaration, evaluate_global_args
from builder.frontend.words import ScopedExpander, located_plan_error
from grammar import Dockerfile, ExpansionError, GrammarError, Span, Stage, base_stage, find_target, reachable
from grammar import record


@record
class PlanWarning:
    message: str
    line: int = 0
    end_line: int = 0


@record
class StageBase:
    """What a stage starts from: an image reference, an earlier stage, or nothing."""

    kind: str  # "image" | "stage" | "scratch"
    image: str = ""  # the expanded reference, for kind == "image"
    stage_index: int | None = None
    platform: str | None = None


@record
class StagePlan:
    stage: Stage
    base: StageBase
    needs: tuple[int, ...]  # indices of the stages this one reads from


@record
class BuildPlan:
    dockerfile: Dockerfile
    stages: tuple[StagePlan, ...]  # reachable from the target, in file (= dependency) order
    target: int
    global_args: Mapping[str, str]
    build_args: Mapping[str, str]
    warnings: tuple[PlanWarning, ...] = ()


def make_plan(dockerfile: Dockerfile, request: PlanRequest, *, strict: bool = True) -> BuildPlan:
    target = _target(dockerfile, request.target)
    build_args = {k: v for k, v in request.build_args.items() if k not in CONTROL_ARGS}
    predefined = platform_args(request.platform, target.name or "default")
    declarations = [ArgDeclaration(d.name, d.default) for arg in dockerfile.meta_args for d in arg.args]
    expander = ScopedExpander.for_dockerfile(dockerfile)
    unexpandable: list[tuple[ArgDeclaration, Exception]] | None = None if strict else []
    try:
        global_args = evaluate_global_args(declarations, build_args, predefined, expander.expand_in, unexpandable)
    except ExpansionError as exc:
        raise located_plan_error(dockerfile, str(exc), _declaring(dockerfile, str(exc))) from None
    warnings = [_unexpandable_warning(dockerfile, declaration, exc) for declaration, exc in unexpandable or ()]
    bases = {stage.index: _base(dockerfile, stage, global_args, expander, strict, warnings) for stage in dockerfile.stages}
    images = _expanded_words(dockerfile, bases)
    try:
        wanted = reachable(dockerfile, target, images)
    except GrammarError as exc:
        raise PlanError(str(exc), path=dockerfile.path) from None
    stages = tuple(StagePlan(stage, bases[stage.index], _needs(dockerfile, stage, images.get(stage.index)))
                   for stage in wanted)
    return BuildPlan(dockerfile, stages, target.index, global_args, build_args, tuple(warnings))


def _declaring(dockerfile: Dockerfile, message: str) -> Span | None:
    """The span of the global ARG whose default ``message`` is about (else the first one)."""
    for arg in dockerfile.meta_args:
        if any(decl.default and decl.default in message for decl in arg.args):
            return arg.span
    return dockerfile.meta_args[0].span if dockerfile.meta_args else None


def _unexpandable_warning(dockerfile: Dockerfile, declaration: ArgDeclaration, exc: Exception) -> PlanWarning:
    span = _declaring(dockerfile, str(exc))
    return PlanWarning(f"ARG {declaration.name}: {exc}; its value must come from --build-arg",
                       span.line if span else 0, span.end_line if span else 0)


def _target(dockerfile: Dockerfile, name: str | None) -> Stage:
    try:
        return find_target(dockerfile, name)
    except GrammarError as exc:
        raise PlanError(getattr(exc, "message", str(exc))) from None


def _base(dockerfile: Dockerfile, stage: Stage, global_args: Mapping[str, str], expander: ScopedExpander,
          strict: bool, warnings: list[PlanWarning]) -> StageBase:
    span = stage.base.span
    image, unmatched = expander.word_with_matches(stage.base.image, global_args, span)
    platform = expander.word_in(stage.base.platform, global_args, span) if stage.base.platform else None
    declared = {d.name for arg in dockerfile.meta_args for d in arg.args}
    for name in sorted(unmatched - declared):
        warnings.append(PlanWarning(f"FROM argument '{name}' is not declared", span.line, span.end_line))
    if not image:
        message = f"base name ({stage.base.image}) should not be blank"
        if strict:
            raise located_plan_error(dockerfile, message, span)
        warnings.append(PlanWarning(f"{message}: pass a value with --build-arg", span.line, span.end_line))
        return StageBase("image", stage.base.image, platform=platform)
    earlier = base_stage(dockerfile, stage, image)
    if earlier is not None:
        return StageBase("stage", stage_index=earlier.index, platform=platform)
    if image.lower() == "scratch":
        return StageBase("scratch", platform=platform)
    return StageBase("image", image, platform=platform)


def _expanded_words(dockerfile: Dockerfile, bases: Mapping[int, StageBase]) -> dict[int, str]:
    """Each stage's FROM word after ARG expansion, for the dependency walk: an image by its name, an
    earlier stage (``ARG ROOT=builder`` ... ``FROM $ROOT``) by that stage's name, which the raw
    ``$ROOT`` does not match."""
    words = {index: base.image for index, base in bases.items() if base.kind == "image"}
    for index, base in bases.items():
        if base.kind == "stage" and base.stage_index is not None:
            words[index] = dockerfile.stages[base.stage_index].name or ""
    return words


def _needs(dockerfile: Dockerfile, stage: Stage, image: str | None) -> tuple[int, ...]:
    from grammar import dependencies

    try:
        found = dependencies(dockerfile, stage, image)
    except GrammarError as exc:
        raise PlanError(str(exc), path=dockerfile.path) from None
    return tuple(sorted({dep.stage.index for dep in found}))
