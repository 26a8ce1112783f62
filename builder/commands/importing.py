"""``pybuild import TARBALL REFERENCE``: make an image from a root filesystem tarball."""
from __future__ import annotations

import argparse
from pathlib import Path

from builder.commands.common import open_store, run_reporting, parse_platform_flag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tarball", type=Path, help="a tar (plain, gzip or zstd) of the root filesystem")
    parser.add_argument("reference", metavar="REFERENCE", help="NAME[:TAG] for the new image")
    parser.add_argument("--platform", help="os/arch[/variant] of the image (default: this machine)")
    parser.add_argument("-m", "--message", default="", help="history comment")


def run(options: argparse.Namespace) -> int:
    def body(console: object) -> int:
        from builder.image.importer import import_rootfs

        imported = import_rootfs(open_store(options), options.tarball, options.reference,
                                 platform=parse_platform_flag(options.platform), message=options.message)
        console.result_line(imported.image_id)  # type: ignore[attr-defined]
        return 0

    return run_reporting(body)  # type: ignore[arg-type]
