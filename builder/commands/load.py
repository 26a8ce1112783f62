"""``pybuild load [-i FILE] [-q]``: images from a docker archive or an OCI archive (stdin by default)."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from builder.commands.common import open_store, run_reporting

if TYPE_CHECKING:
    from builder.console import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--input", metavar="FILE", help="read from FILE instead of stdin")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing")


def run(options: argparse.Namespace) -> int:
    return run_reporting(lambda console: _load(options, console))


def _load(options: argparse.Namespace, console: Console) -> int:
    import sys
    from pathlib import Path

    from builder.errors import UsageError
    from builder.image.loading import load_archive

    if options.input is None and sys.stdin.isatty():
        raise UsageError("requested load from stdin, but stdin is empty")
    source = Path(options.input) if options.input else sys.stdin.buffer
    loaded = load_archive(open_store(options), source)
    if not options.quiet:
        for image in loaded:
            for name in image.names:
                console.result_line(f"Loaded image: {name.familiar}")
            if not image.names:
                console.result_line(f"Loaded image ID: {image.image_id}")
    return 0
