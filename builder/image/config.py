"""How each instruction changes the image config, as ``docker build`` (BuildKit) writes it.

Instructions arrive already expanded. Pure functions: config in, config out.
"""
from __future__ import annotations

import posixpath
from dataclasses import replace
from types import MappingProxyType

from builder.errors import PlanError
from grammar import (
    record,
    Cmd,
    Entrypoint,
    Env,
    ExecForm,
    Expose,
    Healthcheck,
    Instruction,
    Label,
    Maintainer,
    Onbuild,
    Shell,
    ShellForm,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from registry_client import ImageConfig

DEFAULT_SHELL = ("/bin/sh", "-c")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PORT_PROTOCOLS = ("tcp", "udp", "sctp")


@record
class StageConfig:
    """The image config being built, plus what BuildKit tracks beside it."""

    config: ImageConfig
    cmd_set: bool = False  # a CMD ran in this stage: a later ENTRYPOINT keeps it


def start_stage(base: ImageConfig) -> StageConfig:
    """A stage's config before its first instruction: base triggers consumed, PATH defaulted."""
    env = base.env
    if not any(item.startswith("PATH=") for item in env):
        env = (*env, DEFAULT_PATH)
    return StageConfig(replace(base, env=env, onbuild=None))


def shell_of(config: ImageConfig) -> tuple[str, ...]:
    return config.shell or DEFAULT_SHELL


def argv_for(command: ShellForm | ExecForm, config: ImageConfig) -> tuple[str, ...]:
    """Exec form as is; shell form wrapped in the current SHELL."""
    if isinstance(command, ExecForm):
        return command.argv
    return (*shell_of(config), command.text)


def set_env(env: tuple[str, ...], name: str, value: str) -> tuple[str, ...]:
    """Replace ``name`` in place if present, else append (docker's addEnv)."""
    prefix = f"{name}="
    if any(item.startswith(prefix) for item in env):
        return tuple(f"{prefix}{value}" if item.startswith(prefix) else item for item in env)
    return (*env, f"{prefix}{value}")


def normalize_workdir(current: str, wanted: str) -> str:
    joined = wanted if wanted.startswith("/") else posixpath.join("/", current or "/", wanted)
    cleaned = posixpath.normpath(joined)
    return "/" + cleaned.lstrip("/")  # normpath keeps a leading "//"; Go's Clean does not


def apply(state: StageConfig, instruction: Instruction) -> StageConfig:
    """The config after ``instruction``; instructions that don't touch the config return ``state``."""
    config = state.config
    match instruction:
        case Env(pairs=pairs):
            env = config.env
            for pair in pairs:
                env = set_env(env, pair.key, pair.value)
            return replace(state, config=replace(config, env=env))
        case Label(pairs=pairs):
            labels = {**config.labels, **{pair.key: pair.value for pair in pairs}}
            return replace(state, config=replace(config, labels=MappingProxyType(labels)))
        case Expose(ports=ports):
            exposed = set(config.exposed_ports) | {p for word in ports for p in expand_port_spec(word)}
            return replace(state, config=replace(config, exposed_ports=tuple(sorted(exposed))))
        case Volume(paths=paths):
            volumes = set(config.volumes) | set(paths)
            return replace(state, config=replace(config, volumes=tuple(sorted(volumes))))
        case Workdir(path=path):
            return replace(state, config=replace(config, workdir=normalize_workdir(config.workdir, path)))
        case User(user=user):
            return replace(state, config=replace(config, user=user))
        case Shell(argv=argv):
            return replace(state, config=replace(config, shell=argv))
        case StopSignal(signal=signal):
            return replace(state, config=replace(config, stop_signal=signal))
        case Maintainer(name=name):
            return replace(state, config=replace(config, author=name))
        case Onbuild(trigger=trigger):
            return replace(state, config=replace(config, onbuild=(*(config.onbuild or ()), trigger)))
        case Healthcheck():
            return replace(state, config=replace(config, healthcheck=MappingProxyType(healthcheck_config(instruction))))
        case Cmd(cmd=command):
            return StageConfig(replace(config, cmd=argv_for(command, config), args_escaped=True), cmd_set=True)
        case Entrypoint(cmd=command):
            entrypoint = None if command is None else argv_for(command, config)
            cmd = config.cmd if state.cmd_set else None
            return replace(state, config=replace(config, entrypoint=entrypoint, cmd=cmd))
        case _:
            return state


def healthcheck_config(check: Healthcheck) -> dict[str, object]:
    """Docker's ``Healthcheck`` object; zero durations are left out, as Go's omitempty does."""
    document: dict[str, object] = {"Test": list(check.test)}
    for key, value in (("Interval", check.interval), ("Timeout", check.timeout),
                       ("StartPeriod", check.start_period), ("StartInterval", check.start_interval),
                       ("Retries", check.retries)):
        if value:
            document[key] = value
    return document


def expand_port_spec(spec: str) -> list[str]:
    """``80`` -> ``80/tcp``; ``1000-1002/udp`` -> three ports; ``ip:host:ctr/proto`` keeps ``ctr``."""
    text, _, protocol = spec.partition("/")
    protocol = (protocol or "tcp").lower()
    if protocol not in PORT_PROTOCOLS:
        raise PlanError(f"invalid proto: {protocol}")
    container = text.rsplit(":", 1)[-1]
    first, _, last = container.partition("-")
    try:
        start, end = int(first), int(last or first)
    except ValueError:
        raise PlanError(f"invalid containerPort: {container}") from None
    if not 0 <= start <= end <= 65535:
        raise PlanError(f"invalid range specified for container port: {container}")
    return [f"{port}/{protocol}" for port in range(start, end + 1)]
