"""``pybuild run [OPTIONS] IMAGE [COMMAND...]``: run a command in a new container from an image."""
from __future__ import annotations

import argparse
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rm", action="store_true", help="accepted for docker compatibility: containers are always removed")
    parser.add_argument("-i", "--interactive", action="store_true", help="keep stdin open and forward it")
    parser.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-terminal")
    parser.add_argument("-e", "--env", action="append", default=[], metavar="K[=V]", help="set an environment variable")
    parser.add_argument("-u", "--user", help="user[:group] to run as (name or id)")
    parser.add_argument("-w", "--workdir", help="working directory inside the container")
    parser.add_argument("--entrypoint", help="replace the image's ENTRYPOINT")
    parser.add_argument("--network", default="default", choices=("default", "none", "host"))
    parser.add_argument("-v", "--volume", action="append", default=[], metavar="HOST:CTR[:ro]", help="bind mount")
    parser.add_argument("--memory", help="memory limit, e.g. 256m")
    parser.add_argument("--pids-limit", type=int, help="maximum number of processes")
    parser.add_argument("--hostname", help="container host name")
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

        services = open_services(options.root)
        run_options = RunOptions(
            command=tuple(options.command), entrypoint=options.entrypoint, env=tuple(options.env),
            user=options.user, workdir=options.workdir, network=options.network,
            volumes=tuple(_volume(text) for text in options.volume),
            limits=Limits(memory_bytes=_size(options.memory), pids=options.pids_limit, restrict_devices=True),
            hostname=options.hostname,
            stdio=_stdio(options, Stdio),
        )
        status = run_image(services, options.image, run_options,
                           parse_platform_flag(options.platform) or host_platform(), _write,
                           lambda: registry_client_for(_with_registry_defaults(options)), dict(os.environ))
        return status.code

    return run_reporting(body)  # type: ignore[arg-type]


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
    from builder.errors import UsageError
    from runtime import BindMount

    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0].startswith("/") or not parts[1].startswith("/"):
        raise UsageError(f"invalid volume {text!r}: expected /HOST:/CONTAINER[:ro]")
    return BindMount(parts[0], parts[1], read_only=len(parts) == 3 and parts[2] == "ro")


def _size(text: str | None) -> int | None:
    from builder.errors import UsageError

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
