"""``pybuild pull [--platform P] NAME[:TAG|@DIGEST]``: fetch an image into the local store."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from builder.commands.common import (
    add_registry_arguments, open_store, parse_platform_flag, registry_client_for, run_reporting,
)

if TYPE_CHECKING:
    from builder.console import Console
    from builder.events import EventSink
    from builder.image.distribution import PullResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="NAME[:TAG|@DIGEST]", help="image to pull (docker.io by default)")
    parser.add_argument("--platform", help="os/arch[/variant] to pull (default: this machine's)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the image name")
    add_registry_arguments(parser)


def run(options: argparse.Namespace) -> int:
    return run_reporting(lambda console: _pull(options, console))


def _pull(options: argparse.Namespace, console: Console) -> int:
    from builder.console import TransferView
    from builder.events import ignore_event
    from builder.image.distribution import pull_into

    from registry_client import parse_reference

    platform = parse_platform_flag(options.platform)
    client = registry_client_for(options)
    wanted = parse_reference(options.ref)  # a bad name fails here, before any request
    tag_given = ":" in options.ref.rpartition("/")[2]  # only the last path part can carry a tag
    if not options.quiet and wanted.digest is None and not tag_given:
        console.info("Using default tag: latest")

    def pull(emit: EventSink) -> PullResult:  # the store is opened while the blobs download
        return pull_into(options.root, wanted, client=client, platform=platform, emit=emit,
                         open_store=lambda: open_store(options))

    if options.quiet:
        result = pull(ignore_event)
    else:
        with TransferView(console) as view:
            result = pull(view)
        console.info(f"Digest: {result.digest}")
        status = "Downloaded newer image" if result.downloaded else "Image is up to date"
        console.info(f"Status: {status} for {result.name.familiar}")
        limit = client.last_rate_limit
        if limit is not None and limit.remaining is not None:  # Docker Hub's ratelimit-* headers
            of = f" of {limit.limit}" if limit.limit is not None else ""
            window = f" per {limit.window_seconds} s" if limit.window_seconds else ""
            console.info(f"Pull limit: {limit.remaining}{of} pulls left{window}")
    console.result_line(str(result.name))
    return 0
