"""Command line entry point: ``pybuild [build] [flags] CONTEXT`` and the sub-commands.

Start-up time matters (a cached rebuild must answer in tens of milliseconds), so
every sub-command lives in its own module under ``builder.commands`` and is
imported only when it runs; nothing heavy is imported here.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn  # every command imports typing anyway

# name -> (module under builder.commands, one-line help). Order is the help order.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "build": ("build", "Build an image from a Dockerfile (the default command)"),
    "pull": ("pull", "Download an image from a registry"),
    "push": ("push", "Upload an image to a registry"),
    "images": ("images", "List local images"),
    "inspect": ("inspect", "Show an image's manifest and config (local, else remote)"),
    "tag": ("tag", "Give a local image another name"),
    "rmi": ("rmi", "Remove local images"),
    "history": ("history", "Show the history of an image"),
    "save": ("save", "Save images to a docker or OCI archive"),
    "load": ("load", "Load images from a docker or OCI archive"),
    "image": ("image", "Manage images: image prune removes dangling images"),
    "login": ("login", "Log in to a registry"),
    "logout": ("logout", "Log out from a registry"),
    "import": ("importing", "Create an image from a root filesystem tarball"),
    "run": ("run", "Run a command in a new container from an image"),
    "cache": ("cache", "Manage the build cache: ls, du, prune, check"),
}
GLOBAL_VALUE_FLAGS = ("--root",)
EXIT_OK, EXIT_STEP_FAILED, EXIT_USAGE, EXIT_REGISTRY = 0, 1, 2, 3


def default_root() -> Path:
    """Where all state lives: $PYBUILD_ROOT, else a system or per-user directory."""
    if env := os.environ.get("PYBUILD_ROOT"):
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/pybuild")
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "pybuild"


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, sized to the terminal without importing shutil.

    argparse builds a formatter for every ``add_argument`` and asks ``shutil`` for the
    terminal width; importing shutil (with bz2 and lzma) is 4 ms of every start-up.
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, terminal_columns() - 2 if width is None else width)


def terminal_columns(fallback: int = 80) -> int:
    """``shutil.get_terminal_size().columns``: $COLUMNS, else stdout's terminal, else ``fallback``."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else fallback


class CommandParser(argparse.ArgumentParser):
    """argparse's parser, whose usage mistakes exit with the command's own code: a module may name it
    ``USAGE_EXIT_CODE`` (``run``: docker run's 125), else ``EXIT_USAGE``."""

    def __init__(self, *args: Any, usage_exit_code: int = EXIT_USAGE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.usage_exit_code = usage_exit_code

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(self.usage_exit_code, f"{self.prog}: error: {message}\n")


def add_global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=None,
                        help="state directory (default: $PYBUILD_ROOT, /var/lib/pybuild as root)")


def split_command(argv: Sequence[str]) -> tuple[str, list[str]]:
    """Find the sub-command: the first word after global options, if it names one.

    Anything else means ``build``, so ``pybuild -f Dockerfile .`` works, and
    ``pybuild build run/`` builds a folder named ``run``.
    """
    leading: list[str] = []
    index = 0
    while index < len(argv):
        word = argv[index]
        if word in GLOBAL_VALUE_FLAGS and index + 1 < len(argv):
            leading += argv[index:index + 2]
            index += 2
        elif word.split("=", 1)[0] in GLOBAL_VALUE_FLAGS:
            leading.append(word)
            index += 1
        else:
            break
    rest = list(argv[index:])
    if rest and rest[0] in SUBCOMMANDS:
        return rest[0], leading + rest[1:]
    return "build", leading + rest


def print_overview() -> None:
    lines = ["usage: pybuild [--root DIR] [COMMAND] [OPTIONS]", "",
             "With no command, pybuild builds: pybuild -f Dockerfile .", "", "commands:"]
    lines += [f"  {name:<10} {summary}" for name, (_, summary) in SUBCOMMANDS.items()]
    lines.append("\nRun 'pybuild COMMAND --help' for the options of a command.")
    sys.stdout.write("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # run as the program
        defer_collections()
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--help"], ["-h"], []):
        print_overview()
        return EXIT_OK if args else EXIT_USAGE
    name, rest = split_command(args)
    module = importlib.import_module(f"builder.commands.{SUBCOMMANDS[name][0]}")
    parser = CommandParser(prog=f"pybuild {name}", description=SUBCOMMANDS[name][1], formatter_class=HelpFormatter,
                           usage_exit_code=getattr(module, "USAGE_EXIT_CODE", EXIT_USAGE))
    add_global_options(parser)
    module.add_arguments(parser)
    options = parser.parse_args(rest)
    if options.root is None:
        options.root = default_root()
    try:
        return int(module.run(options))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    finally:
        if argv is None:  # run as the program: the process exits next
            spare_the_final_collections()


START_UP_SECONDS = 2.0


def defer_collections() -> None:
    """No cyclic garbage collection while pybuild starts: the imports create some 100,000 long-lived
    objects (modules, classes, functions) that the collector would walk again and again for no
    garbage (~15 ms of each ``pybuild pull``). After ``START_UP_SECONDS`` the start-up objects are
    frozen and collection resumes, so a long build or transfer collects as usual; a short command
    (pull, images, inspect) never pays."""
    import gc
    import threading

    def resume() -> None:
        gc.freeze()
        gc.enable()

    gc.disable()
    timer = threading.Timer(START_UP_SECONDS, resume)
    timer.daemon = True
    timer.start()


def spare_the_final_collections() -> None:
    """Skip the garbage collections of interpreter shutdown, which walk every object the imports
    made (requests, urllib3, rich...): ~35 ms of each ``pybuild pull``. ``gc.freeze`` hides those
    objects from the collector; the process's memory goes back to the system as it ends anyway.
    Only for a process about to exit: a caller of ``main(argv)`` (the tests) keeps its collector."""
    import gc

    gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
