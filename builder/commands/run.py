"""``pybuild run [OPTIONS] IMAGE [COMMAND...]``: run a command in a new container from an image."""
from __future__ import annotations

import argparse
import os
import sys

from builder.commands.buildflags import ram_bytes, ulimit
from builder.errors import ContainerStartFailed, UsageError

USAGE_EXIT_CODE = 125  # docker run's code for a flag mistake (builder.cli), as for a container that cannot start


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rm", action="store_true", help="accepted for docker compatibility: containers are always removed")
    parser.add_argument("-i", "--interactive", action="store_true", help="keep stdin open and forward it")
    parser.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-terminal")
    parser.add_argument("-e", "--env", action="append", default=[], metavar="K[=V]", help="set an environment variable")
    parser.add_argument("--env-file", action="append", default=[], metavar="FILE",
                        help="read KEY=VALUE lines (a bare KEY takes this environment's value; # comments); -e wins")
    parser.add_argument("-u", "--user", help="user[:group] to run as (name or id)")
    parser.add_argument("-w", "--workdir", help="working directory inside the container")
    parser.add_argument("--entrypoint", help="replace the image's ENTRYPOINT (\"\" resets it); the image's CMD is dropped")
    parser.add_argument("--network", default="default", choices=("default", "none", "host"))
    parser.add_argument("-v", "--volume", action="append", default=[], metavar="HOST:CTR[:ro]", help="bind mount")
    parser.add_argument("--memory", help="memory limit, e.g. 256m")
    parser.add_argument("--pids-limit", type=int, help="maximum number of processes")
    parser.add_argument("--shm-size", type=ram_bytes, default=0, metavar="BYTES",
                        help="size of /dev/shm (e.g. 128m; default 64m)")
    parser.add_argument("--ulimit", dest="ulimits", action="append", type=ulimit, default=[],
                        metavar="NAME=SOFT[:HARD]", help="rlimit of the command, e.g. nofile=1024:2048 (repeatable)")
    # docker's -h is --hostname (help stays on --help): "resolve" takes -h from the help flag
    parser.add_argument_group(conflict_handler="resolve").add_argument("-h", "--hostname", help="container host name")
    parser.add_argument("--add-host", dest="add_hosts", action="append", default=[], metavar="HOST:IP",
                        help="add a line to /etc/hosts (HOST:IP, HOST=IP, IP may be host-gateway)")
    parser.add_argument("--cap-add", action="append", default=[], metavar="CAP",
                        help="add a Linux capability (NAME or CAP_NAME, any case; ALL)")
    parser.add_argument("--cap-drop", action="append", default=[], metavar="CAP",
                        help="drop a Linux capability (NAME or CAP_NAME, any case; ALL)")
    parser.add_argument("--privileged", action="store_true",
                        help="every capability and no seccomp profile (/proc, /sys and host devices stay confined)")
    parser.add_argument("--security-opt", action="append", default=[], metavar="OPT",
                        help="seccomp=unconfined; apparmor=unconfined and label=disable are accepted (neither is applied)")
    parser.add_argument("--read-only", action="store_true", help="mount the container's root filesystem read-only")
    parser.add_argument("--tmpfs", action="append", default=[], metavar="PATH[:OPTS]",
                        help="mount a tmpfs (default options noexec,nosuid,nodev; e.g. /run:size=64m,mode=755,exec)")
    parser.add_argument("--init", action="store_true",
                        help="run docker-init (tini, from this host) as PID 1: it forwards signals and reaps processes")
    parser.add_argument("--name", help="accepted for docker compatibility: pybuild keeps no container registry, "
                                       "so nothing can refer to the container by name")
    parser.add_argument("-l", "--label", action="append", default=[], metavar="K=V",
                        help="accepted for docker compatibility, no effect: pybuild keeps no container metadata")
    parser.add_argument("--platform", help="image platform (default: this machine)")
    parser.add_argument("image", help="image name, ID or digest")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments (default: the image's CMD)")


def run(options: argparse.Namespace) -> int:
    from builder.commands.common import parse_platform_flag, registry_client_for, run_reporting

    def body(console: object) -> int:
        from builder.run.containers import RunOptions, run_image
        from builder.services import open_services
        from registry_client import host_platform
        from runtime import Limits, Stdio

        from builder.commands.building import parse_add_hosts
        from builder.commands.buildflags import run_resources
        from builder.run.capabilities import container_capabilities
        from builder.run.envfile import read_env_file
        from builder.run.tmpfs import parse_tmpfs

        _check_name(options.name)
        seccomp = _seccomp_from(options.security_opt) and not options.privileged
        env_files = tuple(entry for path in options.env_file for entry in read_env_file(path, os.environ))
        run_options = RunOptions(
            command=tuple(options.command), entrypoint=options.entrypoint, env=(*env_files, *options.env),
            user=options.user, workdir=options.workdir, network=options.network,
            volumes=tuple(_volume(text) for text in options.volume),
            tmpfs=tuple(parse_tmpfs(text) for text in options.tmpfs),
            limits=Limits(memory_bytes=_size(options.memory), pids=options.pids_limit, restrict_devices=True),
            hostname=options.hostname,
            stdio=_stdio(options, Stdio),
            extra_hosts=parse_add_hosts(options.add_hosts),
            capabilities=container_capabilities(options.cap_add, options.cap_drop, options.privileged),
            seccomp=seccomp,
            read_only=options.read_only,
            init=options.init,
            resources=run_resources(options),
        )
        services = open_services(options.root)
        try:
            status = run_image(services, options.image, run_options,
                               parse_platform_flag(options.platform) or host_platform(), _write,
                               lambda: registry_client_for(_with_registry_defaults(options)), dict(os.environ))
        except ContainerStartFailed as exc:  # docker run's own code for it: 125, 126 or 127
            console.error(str(exc))  # type: ignore[attr-defined]
            return exc.exit_code
        return status.code

    from builder.run.containers import RUN_FAILED

    return run_reporting(body, failure_code=RUN_FAILED)  # type: ignore[arg-type]


def _seccomp_from(values: list[str]) -> bool:
    """Whether Docker's default seccomp profile applies, after ``--security-opt`` (KEY=VALUE or KEY:VALUE)."""
    seccomp = True
    for value in values:
        key, separator, setting = value.partition("=")
        if not separator:
            key, separator, setting = value.partition(":")
        if (key, setting) == ("seccomp", "unconfined"):
            seccomp = False
        elif (key, setting) in (("apparmor", "unconfined"), ("label", "disable")):
            continue  # pybuild applies no AppArmor profile and no SELinux label: already so
        elif key == "seccomp":
            raise UsageError(f"--security-opt {value}: pybuild has only Docker's default seccomp profile "
                             "(or seccomp=unconfined); custom profiles are not supported")
        else:
            raise UsageError(f"--security-opt {value}: not supported by pybuild run "
                             "(supported: seccomp=unconfined, apparmor=unconfined, label=disable)")
    return seccomp


def _check_name(name: str | None) -> None:
    import re

    if name is not None and not re.fullmatch(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]+", name):
        raise UsageError(f"invalid container name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")


def _stdio(options: argparse.Namespace, stdio_type: type) -> object:
    """docker's rules: ``-i`` forwards stdin, ``-t`` gives a pty, raw mode when stdin is a terminal."""
    stdin_fd = sys.stdin.fileno()
    terminal = stdin_fd if options.tty and os.isatty(stdin_fd) else None
    return stdio_type(stdin=stdin_fd if options.interactive else None, tty=options.tty, terminal=terminal)


def _write(stream: str, data: bytes) -> None:
    target = sys.stdout if stream == "stdout" else sys.stderr
    target.buffer.write(data)
    target.flush()


def _volume(text: str) -> object:
    from runtime import BindMount

    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0].startswith("/") or not parts[1].startswith("/"):
        raise UsageError(f"invalid volume {text!r}: expected /HOST:/CONTAINER[:ro]")
    return BindMount(parts[0], parts[1], read_only=len(parts) == 3 and parts[2] == "ro")


def _size(text: str | None) -> int | None:
    if not text:
        return None
    units = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    number, unit = (text[:-1], text[-1].lower()) if text[-1].lower() in units else (text, "b")
    try:
        return int(float(number) * units[unit])
    except ValueError:
        raise UsageError(f"invalid memory size {text!r}") from None


def _with_registry_defaults(options: argparse.Namespace) -> argparse.Namespace:
    options.insecure_registries = getattr(options, "insecure_registries", [])
    options.registry_mirrors = getattr(options, "registry_mirrors", [])
    return options
