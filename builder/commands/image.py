"""``pybuild image prune [-f]``: remove dangling images and the blobs nothing uses any more."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from builder.commands.common import open_store, run_reporting

if TYPE_CHECKING:
    from builder.console import Console

WARNING = "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("prune",), help="prune: remove dangling images")
    parser.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")


def run(options: argparse.Namespace) -> int:
    return run_reporting(lambda console: _prune(options, console))


def _prune(options: argparse.Namespace, console: Console) -> int:
    from builder.commands.images import human_size

    if not options.force and console.ask(WARNING).lower() not in ("y", "yes"):
        return 0
    removal = open_store(options).prune()
    if removal.deleted:
        console.result_line("Deleted Images:")
        for image_id in removal.deleted:
            console.result_line(f"deleted: {image_id}")
        console.result_line("")
    reclaimed = removal.reclaimed.bytes if removal.reclaimed is not None else 0
    console.result_line(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0
