"""``build(request, services)``: build the planned stages (independent ones in parallel) and produce the target image."""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from builder.baseimage import BaseImage, scratch
from builder.cache.explain import CacheExplainer, open_explainer
from builder.context.local import BuildContext
from builder.context.named import GIT, HTTP, LOCAL, NamedContext, NamedContextResolver, replaced_stages, stages_to_build
from builder.copy.remote_files import RemoteFiles
from builder.copy.step import ImageSources, SourceViews
from builder.errors import BuildError, StepError
from builder.events import StepFinished, StepStarted
from builder.frontend.buildargs import normalize_platform, platform_args
from builder.frontend.check import check_references
from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.plan import BuildPlan, PlanRequest, StageBase, StagePlan, make_plan
from builder.frontend.scope import StageScope
from builder.frontend.words import ScopedExpander, located_plan_error
from builder.image.config import start_stage
from builder.image.export import ExportedImage, export_image
from builder.layers import diff_id_chain
from builder.resolvedimages import ResolvedImages
from builder.run.mounts import MountSources
from builder.services import Services
from builder.stagegraph import StageCancelled, run_stage_graph
from builder.stagestate import StageState, StepOptions
from builder.steps import StepContext, apply_instruction
from grammar import (
    record,
    Dockerfile,
    ExpansionError,
    GrammarError,
    Instruction,
    Span,
    Stage,
    expand_instruction,
    parse_dockerfile,
    parse_instruction,
    parse_nodes,
)
from registry_client import Platform, RegistryClient, RegistryError
from runtime import ContainerControl, ContainerError, ContainerResources


@record
class BuildRequest:
    source: DockerfileSource
    context: Path
    plan: PlanRequest = field(default_factory=PlanRequest)
    tags: tuple[str, ...] = ()
    no_cache: bool = False
    no_cache_filter: tuple[str, ...] = ()
    pull: bool = False
    secrets: Mapping[str, bytes] = field(default_factory=dict)
    ssh: Mapping[str, str] = field(default_factory=dict)
    network: str = "default"
    source_date_epoch: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    registry: Callable[[], RegistryClient] = RegistryClient
    entitlements: frozenset[str] = frozenset()
    parsed: Dockerfile | None = None  # the Dockerfile already parsed (by --check's pass), to skip a re-parse
    named_contexts: Mapping[str, NamedContext] = field(default_factory=dict)  # --build-context, by name
    inline_cache: bool = False  # --cache-to type=inline: the image config carries its steps' cache records
    max_parallel: int = 0  # stages built at once; 0: min(4, usable CPUs)
    extra_hosts: tuple[tuple[str, str], ...] = ()  # --add-host (name, address)
    run_resources: ContainerResources = ContainerResources()  # --shm-size, --ulimit, --cgroup-parent for RUN


@record
class BuildResult:
    image: ExportedImage
    steps: int


@dataclass(slots=True)
class _Progress:
    """Step numbering shared by all stages (mutable on purpose: it only counts, from several threads).

    Ids are taken as steps start, as BuildKit numbers vertices, so stages built in parallel interleave
    their ids; a serial build numbers its steps in Dockerfile order."""

    next_id: int = 1
    steps: int = 0
    explain: CacheExplainer | None = None  # says why steps miss the cache, and records this build
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(slots=True)
class _Cancellation:
    """Stops the stages still running once one has failed: before their next step, and their
    running container at once (mutable on purpose: stages register their container controls)."""

    requested: threading.Event = field(default_factory=threading.Event)
    controls: list[ContainerControl] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def control(self) -> ContainerControl:
        control = ContainerControl()
        with self.lock:
            self.controls.append(control)
            if self.requested.is_set():
                control.cancel()
        return control

    def cancel(self) -> None:
        with self.lock:
            self.requested.set()
            for control in self.controls:
                control.cancel()


def build(request: BuildRequest, services: Services) -> BuildResult:
    """Build the plan's target; image-store garbage collection waits until the image is named."""
    from builder.cache.gc import collect_if_needed
    from builder.cache.settings import load_cache_settings

    settings = load_cache_settings(services.root)
    with services.images.lease():
        result = _build(request, services)
    collect_if_needed(services, settings.gc)  # once the lease is gone: GC needs the store idle
    return result


def _build(request: BuildRequest, services: Services) -> BuildResult:
    dockerfile = request.parsed or parse_dockerfile(parse_nodes(request.source.text, request.source.display_path))
    plan = make_plan(dockerfile, request.plan, strict=True)
    platform = Platform.parse(normalize_platform(request.plan.platform) if request.plan.platform
                              else platform_args(None, "")["TARGETPLATFORM"])
    finals: dict[int, StageState] = {}
    explain = open_explainer(services, request)
    progress = _Progress(explain=explain)
    remote_files = RemoteFiles(services.root / "cache" / "http")  # ADD's URLs and http named contexts alike
    images = ResolvedImages(services, pull=request.pull, registry=request.registry)  # FROM, --from, contexts alike
    named = NamedContextResolver(request.named_contexts, services, images=images,
                                 use_cache=not request.no_cache, source_date_epoch=request.source_date_epoch,
                                 next_step_id=lambda: _take_step_id(progress), remote_files=remote_files,
                                 platform=platform)
    views = SourceViews(services, dockerfile, finals, _image_snapshots(platform, named, images))
    complete = False
    try:
        sources = _mount_sources(request, services, views, remote_files)
        explain.use_context(sources.context)
        replaced = replaced_stages(named, {sp.stage.index: sp.stage.name for sp in plan.stages})
        wanted = stages_to_build(plan.target, {sp.stage.index: sp.needs for sp in plan.stages}, replaced)
        stage_plans = {sp.stage.index: sp for sp in plan.stages if sp.stage.index in wanted}
        cancellation = _Cancellation()

        def build_stage(index: int) -> StageState:
            stage_plan = stage_plans[index]
            if index in replaced:  # a named context stands for the whole stage
                context = named.lookup(stage_plan.stage.name)
                return _image_state(named.base(context, _stage_platform(stage_plan.base, platform)))  # type: ignore[arg-type]
            return _build_stage(request, services, plan, stage_plan, finals, platform, progress, sources, named,
                                images, cancellation)

        needs = {index: () if index in replaced else sp.needs for index, sp in stage_plans.items()}
        run_stage_graph(needs, build_stage, finals, _parallel_limit(request), cancellation.cancel)
        complete = True
    finally:
        views.close()
        named.close()
        explain.save(complete=complete)
    target = finals[plan.target]
    image = export_image(services, target, request.tags, request.labels, request.source_date_epoch,
                         request.inline_cache)
    return BuildResult(image, progress.steps)


def _take_step_id(progress: _Progress) -> int:
    with progress.lock:
        progress.next_id += 1
        return progress.next_id - 1


def _parallel_limit(request: BuildRequest) -> int:
    if request.max_parallel > 0:
        return request.max_parallel
    return min(4, len(os.sched_getaffinity(0)))


def _stage_platform(base: StageBase, platform: Platform) -> Platform:
    return Platform.parse(normalize_platform(base.platform)) if base.platform else platform


def _base_state(stage_plan: StagePlan, finals: Mapping[int, StageState], platform: Platform,
                named: NamedContextResolver, images: ResolvedImages) -> tuple[StageState, tuple[str, ...]]:
    """The stage's starting state, and the ONBUILD triggers of its base image or stage.

    A stage built FROM an earlier stage runs the ONBUILD triggers that stage declared, as
    BuildKit does (its dispatch clones the stage's image config, triggers included).
    """
    base = stage_plan.base
    if base.kind == "stage":
        parent = finals[base.stage_index]  # type: ignore[index]
        return replace(parent, stage=start_stage(parent.config)), tuple(parent.config.onbuild or ())
    stage_platform = _stage_platform(base, platform)
    context = named.lookup(base.image, stage_platform) if base.kind == "image" else None
    if context is not None:  # FROM a named context
        image = named.base(context, stage_platform)
    else:
        image = scratch(stage_platform) if base.kind == "scratch" else images.base(base.image, stage_platform)
    return _image_state(image), tuple(image.config.onbuild or ())


def _image_state(image: BaseImage) -> StageState:
    stage = start_stage(image.config)
    return StageState(stage, StageScope.from_image_env(stage.config.env), image.layers, image.snapshot, image.key,
                      _parse_time(image.config.created), base_snapshot=image.snapshot)


def _parse_triggers(dockerfile: Dockerfile, stage: Stage, triggers: tuple[str, ...]) -> tuple[Instruction, ...]:
    """Base-image ONBUILD triggers, parsed as instructions; errors point at the stage's FROM line."""
    parsed: list[Instruction] = []
    for trigger in triggers:
        try:
            nodes = parse_nodes(trigger, "ONBUILD trigger")
            parsed += [parse_instruction(node, nodes) for node in nodes.nodes]
        except GrammarError as exc:
            raise located_plan_error(dockerfile, f"invalid ONBUILD trigger {trigger!r} in the base image: "
                                     f"{getattr(exc, 'message', exc)}", stage.base.span) from None
    return tuple(parsed)


def _build_stage(request: BuildRequest, services: Services, plan: BuildPlan, stage_plan: StagePlan,
                 finals: Mapping[int, StageState], platform: Platform, progress: _Progress,
                 sources: MountSources, named: NamedContextResolver, images: ResolvedImages,
                 cancellation: _Cancellation) -> StageState:
    stage = stage_plan.stage
    try:
        state, triggers = _base_state(stage_plan, finals, platform, named, images)
    except RegistryError as exc:  # BuildKit points at the FROM line when the base cannot be resolved
        raise StepError(f"failed to resolve source metadata for {stage_plan.base.image}: {exc}",
                        path=plan.dockerfile.path, line=stage.base.span.line, end_line=stage.base.span.end_line,
                        source_lines=plan.dockerfile.source_lines) from exc
    if progress.explain is not None:
        progress.explain.stage_base(stage.index, stage_plan.base.kind, stage_plan.base.image, state.key,
                                    str(_stage_platform(stage_plan.base, platform)))
    steps = [*((instruction, True) for instruction in _parse_triggers(plan.dockerfile, stage, triggers)),
             *((instruction, False) for instruction in stage.body)]
    use_cache = not request.no_cache and (stage.name or "") not in request.no_cache_filter
    control = cancellation.control()
    for number, (instruction, is_trigger) in enumerate(steps, start=2):
        if cancellation.requested.is_set():
            raise StageCancelled(stage.display_name)
        step_id = _take_step_id(progress)
        prefix = "ONBUILD " if is_trigger else ""
        title = f"[{stage.display_name} {number}/{len(steps) + 1}] {prefix}{instruction.source.splitlines()[0]}"
        services.emit(StepStarted(step_id, title, instruction.span.line))
        options = StepOptions(step_id, use_cache, request.source_date_epoch, (stage.index, number), progress.explain)
        where = stage.base.span if is_trigger else instruction.span
        state = _run_step(request, services, plan, stage_plan, state, instruction, options, sources, where, control)
        with progress.lock:
            progress.steps += 1
    return state


def _run_step(request: BuildRequest, services: Services, plan: BuildPlan, stage_plan: StagePlan, state: StageState,
              instruction: Instruction, options: StepOptions, sources: MountSources, where: Span,
              control: ContainerControl | None = None) -> StageState:
    dockerfile = plan.dockerfile
    started = time.monotonic()
    try:
        expanded = expand_instruction(instruction, ScopedExpander.for_dockerfile(dockerfile).bound(
            state.scope.lookup()), path=dockerfile.path, source_lines=dockerfile.source_lines)
        check_references(dockerfile, stage_plan, expanded)
    except ExpansionError as exc:
        raise located_plan_error(dockerfile, str(exc), where) from None
    context = StepContext(services, options, plan.build_args, plan.global_args, sources, request.network,
                          request.entitlements, extra_hosts=request.extra_hosts, control=control,
                          run_resources=request.run_resources)
    try:
        state = apply_instruction(context, state, expanded)
    except (BuildError, ContainerError) as exc:
        if control is not None and control.cancelled:  # killed because another stage failed
            services.emit(StepFinished(options.step_id, time.monotonic() - started, cancelled=True))
            raise StageCancelled(str(exc)) from exc
        services.emit(StepFinished(options.step_id, time.monotonic() - started, error=str(exc)))
        raise StepError(str(exc), path=dockerfile.path, line=where.line, end_line=where.end_line,
                        source_lines=dockerfile.source_lines) from exc
    services.emit(StepFinished(options.step_id, time.monotonic() - started))
    return state


def _parse_time(text: str | None) -> float:
    """Seconds of an RFC 3339 time (fractional seconds and zone ignored: only ordering matters here)."""
    import calendar

    if not text:
        return 0.0
    try:
        return float(calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return 0.0


def _mount_sources(request: BuildRequest, services: Services, views: SourceViews,
                   remote_files: RemoteFiles) -> MountSources:
    from builder.cache.settings import load_cache_settings

    context = BuildContext.load(request.context, request.source.path, services.root / "cache" / "context",
                                normalize_modes=load_cache_settings(services.root).normalize_modes)
    return MountSources(
        context=context,
        cache_dir=services.cache_mounts,
        secrets=request.secrets,
        ssh_sockets=request.ssh,
        source_view=views,
        source_keys=views,
        journal=services.journal,
        remote_files=remote_files,
    )


def _image_snapshots(platform: Platform, named: NamedContextResolver, images: ResolvedImages) -> ImageSources:
    def snapshot(reference: str) -> tuple[str | None, str, tuple[str, ...] | None]:
        context = named.lookup(reference)
        if context is not None:  # COPY --from / RUN --mount from= a named context that is no stage
            made = named.base(context, platform)
            # Files of a directory or git context key the step (BuildKit's local source); an image, its digest.
            chain = diff_id_chain(made.config) if context.kind in (LOCAL, GIT, HTTP) else None
            return made.snapshot, f"context:{made.key.hex}", chain
        image = images.base(reference, platform)
        return image.snapshot, f"image:{image.manifest_digest}", None

    return snapshot
