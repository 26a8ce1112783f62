"""``pybuild logout [SERVER]``: forget the stored credentials of a registry."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from builder.commands.common import run_reporting

if TYPE_CHECKING:
    from builder.console import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("server", nargs="?", metavar="SERVER", help="registry (default: Docker Hub)")


def run(options: argparse.Namespace) -> int:
    return run_reporting(lambda console: _logout(options, console))


def _logout(options: argparse.Namespace, console: Console) -> int:
    from registry_client import DockerConfig, registry_host

    host = registry_host(options.server)
    if DockerConfig().erase(host):
        console.info(f"Removing login credentials for {host}")
    else:
        console.info(f"Not logged in to {host}")
    return 0
