"""One function per kind of instruction: apply an (expanded) instruction to a stage's state."""
from __future__ import annotations

import os
import posixpath
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from builder.copy.dest import make_dirs
from builder.copy.owners import resolve_chown
from builder.copy.source_keys import two_keys
from builder.copy.step import copy_lineage, copy_material, execute_copy, link_material, links_independently
from builder.errors import BuildError
from builder.events import StepLog
from builder.frontend.buildargs import PROXY_ARGS
from builder.frontend.scope import StageScope, advance
from builder.image.config import apply, shell_of
from builder.image.history import BUILDKIT_COMMENT, created_by
from builder.run.mounts import MountSources, mount_material
from builder.run.step import RunRequest, execute_run, run_command
from builder.services import Services
from builder.stagestate import StageState, StepOptions, layer_step, link_step
from grammar import Add, Arg, Copy, Env, Instruction, Run, RunMount, Workdir, record
from registry_client import History
from runtime import ContainerControl, ContainerResources, mounted, scoped_join


@record
class StepContext:
    services: Services
    options: StepOptions
    build_args: Mapping[str, str]
    global_args: Mapping[str, str]
    mount_sources: MountSources
    default_network: str
    entitlements: frozenset[str] = frozenset()  # --allow: "network.host", "security.insecure"
    extra_hosts: tuple[tuple[str, str], ...] = ()  # --add-host (name, address) for every RUN
    control: ContainerControl | None = None  # cancels the stage's RUN containers (a parallel stage failed)
    run_resources: ContainerResources = ContainerResources()  # --shm-size, --ulimit, --cgroup-parent


def apply_instruction(ctx: StepContext, state: StageState, instruction: Instruction) -> StageState:
    """``instruction`` is already expanded against ``state.scope``."""
    argv: tuple[str, ...] = ()
    layer = False
    match instruction:
        case Run():
            state, layer, argv = _run(ctx, state, instruction)
        case Copy() | Add():
            workdir = state.config.workdir
            if links_independently(instruction):  # a layer made on scratch, stacked on the stage
                material, content = two_keys(lambda sources: link_material(instruction, sources, workdir),
                                             ctx.mount_sources)
                state, layer = link_step(ctx.services, state, material, lambda mounts: execute_copy(
                    instruction, workdir, mounts, ctx.mount_sources, link=True), ctx.options, content)
            else:
                material, content = two_keys(lambda sources: copy_material(instruction, sources), ctx.mount_sources)
                lineage = copy_lineage(ctx.services, state.key, material, instruction, ctx.mount_sources.context,
                                       ctx.options.use_cache)
                state, layer = layer_step(ctx.services, state, material, lambda mounts: execute_copy(
                    instruction, workdir, mounts, ctx.mount_sources, lineage=lineage), ctx.options, lineage,
                    content)
                if lineage is not None:
                    lineage.publish(state.materialized)
        case Workdir():
            state = replace(state, stage=apply(state.stage, instruction))
            state, layer = _make_workdir(ctx, state)
        case Env() | Arg():
            scope = advance(state.scope, instruction, ctx.build_args, ctx.global_args)
            state = replace(state, stage=apply(state.stage, instruction), scope=scope)
        case _:
            state = replace(state, stage=apply(state.stage, instruction))
    entry = History(created=history_time(state.created, ctx.options.source_date_epoch),
                    created_by=created_by(instruction, argv), comment=BUILDKIT_COMMENT, empty_layer=not layer)
    return state.with_history(entry)


def run_environment(scope: StageScope, build_args: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """What the RUN process gets: ENV and declared ARGs, then the proxy build-args.

    BuildKit's ProxyEnv takes a proxy build-arg in either case and its executor sets both
    spellings (``HTTP_PROXY`` and ``http_proxy``), upper case first, in a fixed order.
    """
    declared = {name for name, _ in scope.state_env}
    given = {k.lower(): v for k, v in build_args.items() if k in PROXY_ARGS and v}
    proxies = tuple((name, given[base]) for base in _PROXY_ORDER if base in given
                    for name in (base.upper(), base) if name not in declared)
    return (*scope.state_env, *proxies)


_PROXY_ORDER = ("http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy")


def _run(ctx: StepContext, state: StageState, run: Run) -> tuple[StageState, bool, tuple[str, ...]]:
    command = run_command(run, shell_of(state.config))
    env = run_environment(state.scope, ctx.build_args)
    network = run.network or ctx.default_network
    security = run.security or "sandbox"
    _check_entitlements(ctx, network, security)
    mounts = mounts_at_workdir(run.mounts, state.config.workdir or "/")
    request = RunRequest(command, env, state.config.workdir or "/", state.config.user or "0:0",
                         network, mounts, insecure=security == "insecure", extra_hosts=ctx.extra_hosts,
                         resources=ctx.run_resources)
    base: dict[str, Any] = {
        "op": "run", "argv": list(command.argv), "script": list(command.script or ()),
        "env": [f"{k}={v}" for k, v in env if k not in PROXY_ARGS],
        "cwd": request.cwd, "user": request.user, "network": request.network, "security": security,
    }
    if ctx.extra_hosts:  # BuildKit's ExecOp cache map keeps the names and blanks the addresses
        base["extra_hosts"] = [name for name, _ in ctx.extra_hosts]
    base.update(resource_material(ctx.run_resources))
    material, content = two_keys(lambda sources: {**base, "mounts": list(mount_material(mounts, sources))},
                                 ctx.mount_sources)
    step_id = ctx.options.step_id

    def on_output(stream: str, data: bytes) -> None:
        ctx.services.emit(StepLog(step_id, stream, data))

    def execute(mounts: list[Any]) -> None:
        execute_run(request, mounts, ctx.mount_sources, ctx.services.runtime_state, on_output, ctx.control)

    state, layer = layer_step(ctx.services, state, material, execute, ctx.options, content_material=content)
    return state, layer, command.argv


def resource_material(resources: ContainerResources) -> dict[str, Any]:
    """What of --shm-size/--ulimit/--cgroup-parent keys a RUN. Measured against docker 26: a RUN re-runs
    when --shm-size (even an explicit 64m) or --ulimit is given or changed (ExecOp's Meta carries them),
    and stays CACHED when only --cgroup-parent changes. Absent, they add nothing, so older keys hold."""
    material: dict[str, Any] = {}
    if resources.shm_size is not None:
        material["shm_size"] = resources.shm_size
    if resources.ulimits:
        material["ulimits"] = [f"{u.name}={u.soft}:{u.hard}" for u in resources.ulimits]
    return material


def mounts_at_workdir(mounts: tuple[RunMount, ...], workdir: str) -> tuple[RunMount, ...]:
    """BuildKit joins a relative bind/cache/tmpfs target (``target=.``) to the RUN's working directory.

    A cache mount without ``id=`` keeps the id of its target as written (BuildKit takes it before
    the join), so ``target=cache`` shares one cache across working directories, as there.
    """
    resolved = []
    for mount in mounts:
        if mount.type in ("bind", "cache", "tmpfs") and not posixpath.isabs(posixpath.normpath(mount.target)):
            target = posixpath.normpath(posixpath.join("/", workdir, mount.target))
            if target == "/":
                raise BuildError(f'invalid mount target "{target}"')
            cache_id = mount.id or (posixpath.normpath(mount.target) if mount.type == "cache" else "")
            mount = replace(mount, target=target, id=cache_id)
        resolved.append(mount)
    return tuple(resolved)


def _check_entitlements(ctx: StepContext, network: str, security: str) -> None:
    """BuildKit refuses host networking and insecure RUNs unless the build allows them."""
    if network == "host" and "network.host" not in ctx.entitlements:
        raise BuildError("network.host is not allowed: pass --allow network.host")
    if security == "insecure" and "security.insecure" not in ctx.entitlements:
        raise BuildError("security.insecure is not allowed: pass --allow security.insecure")


def _make_workdir(ctx: StepContext, state: StageState) -> tuple[StageState, bool]:
    """WORKDIR creates its directory, owned by the current USER (BuildKit's mkdir FileOp)."""
    path = state.config.workdir
    if path in ("", "/"):
        return state, False
    user = state.config.user or "0:0"

    def execute(mounts: list[Any]) -> None:
        with mounted(mounts) as root:
            if os.path.isdir(scoped_join(root, path)):
                return
            # llb.Mkdir's WithUser: the --chown lookup (an unknown name is 0:0, a bare uid is
            # uid:uid), not RUN's, which fails on an unknown name and gives a bare uid gid 0.
            # Without USER BuildKit passes no user: no chown, a setgid parent's group stays.
            owner = resolve_chown(user, root) if state.config.user else None
            make_dirs(root, path, owner, [])

    return layer_step(ctx.services, state, {"op": "workdir", "path": path, "user": user}, execute, ctx.options)


def history_time(created: float, source_date_epoch: int | None) -> str:
    """Times come from the layers (cached or new), so a fully cached rebuild gives the same image ID."""
    seconds = source_date_epoch if source_date_epoch is not None else created
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
