"""``pybuild push NAME[:TAG]``: upload a local image to the registry its name points at."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from builder.commands.common import add_registry_arguments, open_store, registry_client_for, run_reporting

if TYPE_CHECKING:
    from builder.console import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="NAME[:TAG]", help="local image name to push")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the pushed digest")
    add_registry_arguments(parser)


def run(options: argparse.Namespace) -> int:
    return run_reporting(lambda console: _push(options, console))


def _push(options: argparse.Namespace, console: Console) -> int:
    from builder.console import TransferView
    from builder.events import ignore_event
    from builder.image.distribution import push_image

    store = open_store(options)
    client = registry_client_for(options)
    if options.quiet:
        result = push_image(store, options.ref, client=client, emit=ignore_event)
    else:
        with TransferView(console) as view:
            result = push_image(store, options.ref, client=client, emit=view)
        console.info(f"{result.name.tag}: digest: {result.digest} size: {result.size}")
    console.result_line(f"{result.name.name}@{result.digest}")
    return 0
