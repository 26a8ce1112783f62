"""``pybuild rmi [-f] IMAGE...``: untag images and delete those nothing names any more."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from builder.commands.common import open_store, run_reporting

if TYPE_CHECKING:
    from builder.console import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="name, ID or digest prefix")
    parser.add_argument("-f", "--force", action="store_true",
                        help="remove an image by ID even when several names point at it")


def run(options: argparse.Namespace) -> int:
    codes = [run_reporting(lambda console, text=text: _remove(options, text, console)) for text in options.images]
    return max(codes)  # like docker: go on with the others, fail at the end


def _remove(options: argparse.Namespace, text: str, console: Console) -> int:
    removal = open_store(options).remove(text, force=options.force)
    for name in removal.untagged:
        console.result_line(f"Untagged: {name.familiar}")
    for image_id in removal.deleted:
        console.result_line(f"Deleted: {image_id}")
    return 0
