"""``pybuild save [-o FILE] [--format docker|oci] IMAGE...``: images as one archive.

The default is the docker archive ``docker save`` writes (``docker load`` and
``skopeo docker-archive:`` read it); ``--format oci`` writes an OCI layout tar instead.
An image named on the command line keeps that name in the archive; one given by ID has none.
"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from builder.commands.common import open_store, run_reporting

if TYPE_CHECKING:
    from builder.console import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="name, ID or digest prefix")
    parser.add_argument("-o", "--output", default="-", metavar="FILE", help="write to FILE (default: stdout)")
    parser.add_argument("--format", choices=("docker", "oci"), default="docker", help="archive format")


def run(options: argparse.Namespace) -> int:
    return run_reporting(lambda console: _save(options, console))


def _save(options: argparse.Namespace, console: Console) -> int:
    import sys

    from registry_client import Descriptor, Digest, Reference

    from builder.errors import UsageError
    from builder.image.compression import GZIP, UNCOMPRESSED, Compression
    from builder.imagestore import ImageNotFound
    from builder.imagestore.names import parse_name
    from builder.outputs.convert import exportable_entry, image_for_export
    from builder.outputs.layout import LayoutImage, save_archive

    if options.output == "-" and sys.stdout.isatty():
        raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    docker = options.format == "docker"
    # docker save writes plain layer tars; an OCI archive leaves the machine gzip-compressed
    compression = Compression(UNCOMPRESSED, force=True) if docker else Compression(GZIP)
    store = open_store(options)
    chosen_images: list[Descriptor] = []
    names: dict[Digest, list[Reference]] = {}  # per exported manifest, in command-line order
    with store.lease():
        for text in options.images:
            entry = store.resolve(text)
            if entry is None:
                raise ImageNotFound(text)
            chosen = store.image(entry).descriptor if docker else exportable_entry(store, entry)
            converted = image_for_export(store, chosen, compression)
            if converted.digest not in names:
                chosen_images.append(converted)
                names[converted.digest] = []
            name = parse_name(text)
            if name is not None and name in store.names_of(entry.digest) and name not in names[converted.digest]:
                names[converted.digest].append(name)
        images = [LayoutImage(d, tuple(names[d.digest])) for d in chosen_images]
        save_archive(options.output, store.content, images, docker=docker, what="save")
    return 0
