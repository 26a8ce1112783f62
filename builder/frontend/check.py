"""``pybuild --check``: parse, expand and validate a Dockerfile without building it.

It walks every stage the target needs, expanding each instruction against the
scope it would see in a build (base image ENV is unknown here, so it counts as
empty), which surfaces ``${X:?msg}`` errors, bad ``--chmod`` values after
expansion, and references to stages defined later.
"""
from __future__ import annotations

import dataclasses
from dataclasses import replace
from collections.abc import Mapping
from typing import Any

from builder.errors import PlanError
from builder.frontend.dockerfile import DockerfileSource, load_dockerfile
from builder.frontend.plan import BuildPlan, PlanRequest, PlanWarning, StagePlan, make_plan
from builder.frontend.scope import StageScope, advance
from builder.frontend.words import ScopedExpander, located_plan_error
from grammar import record
from grammar import (
    Arg,
    Copy,
    Dockerfile,
    ExpansionError,
    GrammarError,
    Instruction,
    Run,
    check_cycles,
    copy_source,
    expand_instruction,
    mount_source,
)

KNOWN_FRONTENDS = ("docker/dockerfile", "docker.io/docker/dockerfile")


@record
class CheckedStep:
    instruction: Instruction
    expanded: Instruction


@record
class CheckReport:
    path: str
    source_lines: tuple[str, ...]
    plan: BuildPlan
    steps: Mapping[int, tuple[CheckedStep, ...]]  # stage index -> its steps
    warnings: tuple[PlanWarning, ...]

    def plan_document(self) -> dict[str, Any]:
        return plan_document(self)


def check_dockerfile(source: DockerfileSource, request: PlanRequest) -> CheckReport:
    dockerfile = load_dockerfile(source)  # parse_dockerfile(parse_nodes(...)), or the cached parse
    try:
        check_cycles(dockerfile)
    except GrammarError as exc:
        raise PlanError(str(exc), path=dockerfile.path) from None
    plan = make_plan(dockerfile, request, strict=False)
    walk_warnings: list[PlanWarning] = []
    steps = walk_stages(plan, walk_warnings)
    warnings = [PlanWarning(w.message, w.line, w.line) for w in dockerfile.warnings]
    warnings += frontend_warnings(dockerfile)
    warnings += plan.warnings
    warnings += walk_warnings
    return CheckReport(dockerfile.path, dockerfile.source_lines, plan, steps, tuple(warnings))


def frontend_warnings(dockerfile: Dockerfile) -> list[PlanWarning]:
    syntax = dockerfile.directives.syntax
    if not syntax or syntax.split(":")[0].split("@")[0] in KNOWN_FRONTENDS:
        return []
    line = dockerfile.directives.syntax_line
    return [PlanWarning(f"frontend image {syntax!r} is ignored: pybuild reads Dockerfiles with its own parser",
                        line, line)]


def walk_stages(plan: BuildPlan, warnings: list[PlanWarning]) -> dict[int, tuple[CheckedStep, ...]]:
    expander = ScopedExpander.for_dockerfile(plan.dockerfile)
    final_scopes: dict[int, StageScope] = {}
    steps: dict[int, tuple[CheckedStep, ...]] = {}
    for stage_plan in plan.stages:
        parent = stage_plan.base.stage_index
        scope = final_scopes.get(parent, StageScope()) if parent is not None else StageScope()
        scope, steps[stage_plan.stage.index] = walk_stage(plan, stage_plan, scope, expander, warnings)
        final_scopes[stage_plan.stage.index] = scope
    return steps


def walk_stage(plan: BuildPlan, stage_plan: StagePlan, scope: StageScope, expander: ScopedExpander,
               warnings: list[PlanWarning]) -> tuple[StageScope, tuple[CheckedStep, ...]]:
    dockerfile, stage = plan.dockerfile, stage_plan.stage
    checked = []
    for instruction in stage.body:
        try:
            expanded = expand_instruction(instruction, expander.bound(scope.lookup()),
                                          path=dockerfile.path, source_lines=dockerfile.source_lines)
            check_references(dockerfile, stage_plan, expanded)
        except ExpansionError as exc:
            if not isinstance(instruction, Arg):
                raise located_plan_error(dockerfile, str(exc), instruction.span) from None
            # An ARG default that cannot expand only matters if no --build-arg replaces it.
            span = instruction.span
            warnings.append(PlanWarning(f"{exc}; the value must come from --build-arg", span.line, span.end_line))
            expanded = replace(instruction, args=tuple(replace(decl, default=None) for decl in instruction.args))
        scope = advance(scope, expanded, plan.build_args, plan.global_args)
        checked.append(CheckedStep(instruction, expanded))
    return scope, tuple(checked)


def check_references(dockerfile: Dockerfile, stage_plan: StagePlan, instruction: Instruction) -> None:
    if isinstance(instruction, Copy):
        copy_source(dockerfile, stage_plan.stage, instruction)
    elif isinstance(instruction, Run):
        for mount in instruction.mounts:
            mount_source(dockerfile, stage_plan.stage, instruction, mount.from_, mount.target)


def plan_document(report: CheckReport) -> dict[str, Any]:
    """The expanded plan as plain JSON data, for tools and tests."""
    plan = report.plan
    stages = []
    for stage_plan in plan.stages:
        stage = stage_plan.stage
        stages.append({
            "index": stage.index,
            "name": stage.name,
            "base": {k: v for k, v in dataclasses.asdict(stage_plan.base).items() if v not in (None, "")},
            "needs": list(stage_plan.needs),
            "steps": [_step_document(step) for step in report.steps.get(stage.index, ())],
        })
    return {
        "file": report.path,
        "syntax": plan.dockerfile.directives.syntax,
        "target": plan.target,
        "global_args": dict(plan.global_args),
        "stages": stages,
        "warnings": [{"line": w.line, "message": w.message} for w in report.warnings],
    }


def _step_document(step: CheckedStep) -> dict[str, Any]:
    fields = {
        f.name: _plain(getattr(step.expanded, f.name))
        for f in dataclasses.fields(step.expanded)
        if f.name not in ("span", "source", "flags")
    }
    span = step.instruction.span
    return {"instruction": type(step.instruction).__name__.upper(), "line": span.line,
            "end_line": span.end_line, "source": step.instruction.source, **fields}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "span"}
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value
