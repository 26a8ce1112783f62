"""``pybuild run``: run an image's command in a fresh, throw-away container, as ``docker run --rm`` does."""
from __future__ import annotations

import os
import posixpath
import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import field, replace

from builder.baseimage import image_base
from builder.errors import ContainerStartFailed, UsageError
from builder.layers import temporary_key
from builder.services import Services
from grammar import record
from registry_client import Platform, RegistryClient
from runtime import (DOCKER_DEFAULT_CAPABILITIES, BindMount, ContainerError, ContainerResources, ExitStatus, Limits,
                     ProcessSpec, ProcessStartError, Stdio, TmpfsMount, run)

INIT_PATH = "/sbin/docker-init"
RUN_FAILED = 125  # docker run's exit code when the container cannot be made or started (and for flag mistakes)


@record
class RunOptions:
    command: tuple[str, ...] = ()  # replaces the image's CMD
    entrypoint: str | None = None  # replaces the image's ENTRYPOINT ("" clears it)
    env: tuple[str, ...] = ()  # K=V, or K taken from the caller's environment
    user: str | None = None
    workdir: str | None = None
    network: str = "default"
    volumes: tuple[BindMount, ...] = ()
    tmpfs: tuple[TmpfsMount, ...] = ()
    limits: Limits = field(default_factory=Limits)
    hostname: str | None = None
    stdio: Stdio = field(default_factory=Stdio)  # -i / -t
    extra_hosts: tuple[tuple[str, str], ...] = ()  # --add-host (name, address)
    capabilities: frozenset[int] = DOCKER_DEFAULT_CAPABILITIES  # --cap-add / --cap-drop / --privileged
    seccomp: bool = True  # Docker's default profile; off for --privileged and --security-opt seccomp=unconfined
    read_only: bool = False  # --read-only
    init: bool = False  # --init: the host's docker-init (tini) as PID 1, as docker does
    resources: ContainerResources = field(default_factory=ContainerResources)  # --shm-size, --ulimit


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


def _host_init() -> str:
    """The static init docker binds for ``--init``: docker-init, which Debian's tini package links to tini-static."""
    for name in ("docker-init", "tini-static"):
        if found := shutil.which(name):
            return os.path.realpath(found)
    raise UsageError("--init needs docker-init or tini-static on this host (Debian package tini)")


def _last_line(report: str) -> str:
    """The cause, without the setup traceback the container's init sends back (``runtime.process``)."""
    line = report.strip().splitlines()[-1] if report.strip() else "unknown error"
    name, separator, message = line.partition(": ")
    return message if separator and (name.startswith("runtime.errors.") or name.endswith("Error")) else line


def mount_order(volumes: Sequence[BindMount], tmpfs: Sequence[TmpfsMount]) -> tuple[BindMount | TmpfsMount, ...]:
    """Docker's order: by the depth of the target, so ``--tmpfs /data -v X:/data/x`` shows X inside the tmpfs."""
    chosen: dict[str, BindMount | TmpfsMount] = {}
    for mount in (*volumes, *tmpfs):
        target = posixpath.normpath(mount.target)
        if target in chosen:
            raise UsageError(f"duplicate mount point: {target}")
        chosen[target] = mount
    return tuple(sorted(chosen.values(), key=lambda mount: posixpath.normpath(mount.target).count("/")))


def run_image(services: Services, reference: str, options: RunOptions, platform: Platform,
              on_output: Callable[[str, bytes], None], registry: Callable[[], RegistryClient],
              environ: dict[str, str]) -> ExitStatus:
    image = image_base(services, reference, platform, pull=False, client_factory=registry)
    config = image.config
    argv = command_line(config.entrypoint, config.cmd, options)
    volumes = options.volumes
    if options.init:
        argv = (INIT_PATH, "--", *argv)
        volumes = (*volumes, BindMount(_host_init(), INIT_PATH, read_only=True))
    spec = ProcessSpec(
        argv=argv,
        env=merge_env(config.env, options.env, environ, tty=options.stdio.tty),
        cwd=options.workdir or config.workdir or "/",
        user=options.user or config.user or "0:0",
        hostname=options.hostname or secrets.token_hex(6),
        network=options.network,  # type: ignore[arg-type]
        mounts=mount_order(volumes, options.tmpfs),
        limits=options.limits,
        capabilities=options.capabilities,
        extra_hosts=options.extra_hosts,
        seccomp=options.seccomp,
        read_only_root=options.read_only,
        resources=replace(options.resources, shm_source="shm"),  # docker run's name, sized or not
    )
    key = temporary_key("run")
    mounts = services.snapshotter.prepare(key, image.snapshot)
    try:
        return run(spec, mounts, on_output, state_root=services.runtime_state, stdio=options.stdio)
    except ProcessStartError as exc:
        raise ContainerStartFailed(f"failed to start the container: {exc}", exc.exit_code) from exc
    except ContainerError as exc:
        raise ContainerStartFailed(f"failed to start the container: {_last_line(str(exc))}", RUN_FAILED) from exc
    finally:
        services.snapshotter.remove(key)
