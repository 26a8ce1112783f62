"""``pybuild tag SOURCE TARGET``: give a local image another name."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from builder.commands.common import open_store, run_reporting

if TYPE_CHECKING:
    from builder.console import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="name, ID or digest of a local image")
    parser.add_argument("target", metavar="TARGET", help="new NAME[:TAG]")


def run(options: argparse.Namespace) -> int:
    return run_reporting(lambda console: _tag(options, console))


def _tag(options: argparse.Namespace, console: Console) -> int:
    from registry_client import parse_reference

    from builder.errors import UsageError
    from builder.imagestore import ImageNotFound

    target = parse_reference(options.target)
    if target.digest is not None:
        raise UsageError(f"refusing to create a tag with a digest reference: {options.target}")
    store = open_store(options)
    entry = store.resolve(options.source)
    if entry is None:
        raise ImageNotFound(options.source)
    store.tag(target, entry)
    return 0
