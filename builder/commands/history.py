"""``pybuild history [-H=false] [--no-trunc] [-q] IMAGE``: an image's build steps, as ``docker history``.

Newest step first. SIZE is what a step's layer adds to the file system (regular file
sizes plus symlink targets, hard links once: docker's layer DiffSize), 0B for steps that
made no layer. Columns are laid out as docker's tabwriter does (min width 10, padding 3).
"""
from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from builder.commands.common import open_store, run_reporting

if TYPE_CHECKING:
    from registry_client import ContentStore, Descriptor

    from builder.console import Console
    from builder.imagestore import StoredImage

HEADERS = ("IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT")
CREATED_BY_WIDTH = 45
MIN_WIDTH, PADDING = 10, 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", metavar="IMAGE", help="name, ID or digest prefix")
    parser.add_argument("-H", "--human", default="true", choices=("true", "false"), metavar="true|false",
                        help="print sizes and dates in human readable format (default true)")
    parser.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")


def run(options: argparse.Namespace) -> int:
    return run_reporting(lambda console: _history(options, console))


def _history(options: argparse.Namespace, console: Console) -> int:
    store = open_store(options)
    image = store.image(options.image)
    rows = history_rows(image, store.content, human=options.human == "true", no_trunc=options.no_trunc,
                        now=time.time())
    if options.quiet:
        for row in rows:
            console.result_line(row[0])
        return 0
    for line in table([HEADERS, *rows]):
        console.result_line(line)
    return 0


def history_rows(image: StoredImage, content: ContentStore, *, human: bool, no_trunc: bool,
                 now: float) -> list[tuple[str, str, str, str, str]]:
    from builder.commands.images import created_ago, human_size

    layers = iter(image.manifest.layers)
    rows = []
    for entry in image.config.history:
        layer = None if entry.empty_layer else next(layers, None)
        size = layer_size(content, layer) if layer is not None else 0
        created = created_ago(entry.created, now) if human else (entry.created or "")
        created_by = (entry.created_by or "").replace("\t", " ")
        if not no_trunc:
            created_by = ellipsis(created_by, CREATED_BY_WIDTH)
        rows.append(("<missing>", created, created_by, human_size(size) if human else str(size), entry.comment or ""))
    rows.reverse()
    if rows:
        image_id = str(image.image_id) if no_trunc else image.image_id.hex[:12]
        rows[0] = (image_id, *rows[0][1:])
    return rows


def layer_size(content: ContentStore, layer: Descriptor) -> int:
    """Bytes the layer's files take: regular files, symlink targets; hard links count once."""
    import tarfile

    from registry_client import open_uncompressed

    total = 0
    with content.open(layer.digest) as blob:
        stream = open_uncompressed(blob, layer.media_type)
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                if member.isreg():
                    total += member.size
                elif member.issym():
                    total += len(member.linkname.encode())
    return total


def ellipsis(text: str, width: int) -> str:
    """docker's stringutils.Ellipsis: at most ``width`` characters, the last one "…"."""
    return text if len(text) <= width else text[:width - 1] + "…"


def table(rows: list[tuple[str, ...]]) -> list[str]:
    """Cells padded like Go's tabwriter(minwidth 10, padding 3); the last column is not padded."""
    widths = [max(MIN_WIDTH, max(len(row[i]) for row in rows) + PADDING) for i in range(len(rows[0]) - 1)]
    return ["".join(cell.ljust(width) for cell, width in zip(row, widths)) + row[-1] for row in rows]
