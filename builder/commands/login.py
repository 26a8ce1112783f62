"""``pybuild login [-u USER] [--password-stdin] [SERVER]``: check and store registry credentials.

Credentials go to docker's ``config.json`` (``$DOCKER_CONFIG`` or ``~/.docker``), through a
credential helper when one is configured, so docker and pybuild share logins.
"""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from builder.commands.common import add_registry_arguments, run_reporting

if TYPE_CHECKING:
    from builder.console import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("server", nargs="?", metavar="SERVER", help="registry (default: Docker Hub)")
    parser.add_argument("-u", "--username", help="user name")
    parser.add_argument("-p", "--password", help="password (prefer --password-stdin)")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add_registry_arguments(parser)


def run(options: argparse.Namespace) -> int:
    return run_reporting(lambda console: _login(options, console))


def _login(options: argparse.Namespace, console: Console) -> int:
    from registry_client import Credentials, DockerConfig, verify_login

    from builder.registry_settings import load_settings

    username, password = _ask_credentials(options, console)
    settings = load_settings(options.root, insecure=tuple(options.insecure_registries),
                             mirrors=tuple(options.registry_mirrors))
    credentials = Credentials(username, password)
    host = verify_login(options.server, credentials, settings.options())
    DockerConfig().store(host, credentials)
    console.info("Login Succeeded")
    return 0


def _ask_credentials(options: argparse.Namespace, console: Console) -> tuple[str, str]:
    from builder.errors import UsageError

    if options.password_stdin and options.password:
        raise UsageError("--password and --password-stdin are mutually exclusive")
    if options.password_stdin and not options.username:
        raise UsageError("must provide --username with --password-stdin")
    if options.password:
        console.warning("using --password on the command line is insecure; use --password-stdin")
    username = options.username or _prompt(console, "Username: ")
    if options.password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
    else:
        password = options.password or _prompt(console, "Password: ", secret=True)
    if not username or not password:
        raise UsageError("a user name and a password are required")
    return username, password


def _prompt(console: Console, label: str, *, secret: bool = False) -> str:
    from builder.errors import UsageError

    if not sys.stdin.isatty():
        raise UsageError(f"cannot ask for the {label.rstrip(': ').lower()} without a terminal; "
                         "use --username and --password-stdin")
    return console.ask(label, secret=secret)
