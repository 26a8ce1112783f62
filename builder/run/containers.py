"""``pybuild run``: run an image's command in a fresh, throw-away container, as ``docker run --rm`` does."""
from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import field

from builder.baseimage import image_base
from builder.errors import UsageError
from builder.layers import temporary_key
from builder.services import Services
from grammar import record
from registry_client import Platform, RegistryClient
from runtime import BindMount, ExitStatus, Limits, ProcessSpec, Stdio, run


@record
class RunOptions:
    command: tuple[str, ...] = ()  # replaces the image's CMD
    entrypoint: str | None = None  # replaces the image's ENTRYPOINT ("" clears it)
    env: tuple[str, ...] = ()  # K=V, or K taken from the caller's environment
    user: str | None = None
    workdir: str | None = None
    network: str = "default"
    volumes: tuple[BindMount, ...] = ()
    limits: Limits = field(default_factory=Limits)
    hostname: str | None = None
    stdio: Stdio = field(default_factory=Stdio)  # -i / -t


def command_line(entrypoint: Sequence[str] | None, cmd: Sequence[str] | None, options: RunOptions) -> tuple[str, ...]:
    """Docker's rule: ENTRYPOINT + (the given command, else CMD); a new ENTRYPOINT drops the image's CMD."""
    if options.entrypoint is not None:
        base = (options.entrypoint,) if options.entrypoint else ()
        argv = (*base, *options.command)
    else:
        argv = (*(entrypoint or ()), *(options.command or cmd or ()))
    if not argv:
        raise UsageError("no command specified: the image has no ENTRYPOINT or CMD")
    return argv


def merge_env(image_env: Sequence[str], extra: Sequence[str], environ: dict[str, str],
              tty: bool = False) -> tuple[tuple[str, str], ...]:
    merged: dict[str, str] = {"TERM": "xterm"} if tty else {}  # docker's default on a tty
    for item in image_env:
        name, _, value = item.partition("=")
        merged[name] = value
    for item in extra:
        name, sep, value = item.partition("=")
        if sep:
            merged[name] = value
        elif name in environ:
            merged[name] = environ[name]
    return tuple(merged.items())


def run_image(services: Services, reference: str, options: RunOptions, platform: Platform,
              on_output: Callable[[str, bytes], None], registry: Callable[[], RegistryClient],
              environ: dict[str, str]) -> ExitStatus:
    image = image_base(services, reference, platform, pull=False, client_factory=registry)
    config = image.config
    spec = ProcessSpec(
        argv=command_line(config.entrypoint, config.cmd, options),
        env=merge_env(config.env, options.env, environ, tty=options.stdio.tty),
        cwd=options.workdir or config.workdir or "/",
        user=options.user or config.user or "0:0",
        hostname=options.hostname or secrets.token_hex(6),
        network=options.network,  # type: ignore[arg-type]
        mounts=options.volumes,
        limits=options.limits,
    )
    key = temporary_key("run")
    mounts = services.snapshotter.prepare(key, image.snapshot)
    try:
        return run(spec, mounts, on_output, state_root=services.runtime_state, stdio=options.stdio)
    finally:
        services.snapshotter.remove(key)
