"""``pybuild images [-q] [--no-trunc] [REPOSITORY[:TAG]]``: the local images, as ``docker images``."""
from __future__ import annotations

import argparse
import re
import time
from datetime import datetime
from typing import TYPE_CHECKING

from builder.commands.common import open_store, run_reporting

if TYPE_CHECKING:
    from builder.console import Console
    from builder.imagestore import ImageRecord

HEADERS = ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")
_FRACTION = re.compile(r"(\.\d{1,6})\d*")  # fromisoformat takes at most microseconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]", help="show only this repository")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only image IDs")
    parser.add_argument("--no-trunc", action="store_true", help="print whole image IDs")


def run(options: argparse.Namespace) -> int:
    return run_reporting(lambda console: _images(options, console))


def _images(options: argparse.Namespace, console: Console) -> int:
    records = _matching(open_store(options).list(), options.repository)
    if options.quiet:
        for image_id in dict.fromkeys(_image_id(r, options.no_trunc) for r in records):
            console.result_line(image_id)
        return 0
    now = time.time()
    rows = [HEADERS] + [_row(r, options.no_trunc, now) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    for row in rows:
        console.result_line("   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _matching(records: list[ImageRecord], wanted: str | None) -> list[ImageRecord]:
    if not wanted:
        return records
    from registry_client import parse_reference

    ref = parse_reference(wanted)
    explicit_tag = ":" in wanted.rsplit("/", 1)[-1]
    return [r for r in records if r.name is not None and r.name.name == ref.name
            and (not explicit_tag or r.name.tag == ref.tag)]


def _row(record: ImageRecord, no_trunc: bool, now: float) -> tuple[str, str, str, str, str]:
    if record.name is None:
        repository, tag = "<none>", "<none>"
    else:
        familiar = record.name.familiar.split("@", 1)[0]
        repository = familiar.rsplit(":", 1)[0] if record.name.tag else familiar
        tag = record.name.tag or "<none>"
    return (repository, tag, _image_id(record, no_trunc), created_ago(record.created, now), human_size(record.size))


def _image_id(record: ImageRecord, no_trunc: bool) -> str:
    return str(record.image_id) if no_trunc else record.image_id.hex[:12]


def created_ago(created: str | None, now: float) -> str:
    """docker's ``units.HumanDuration`` + " ago"; "N/A" when the config has no date."""
    if not created:
        return "N/A"
    try:
        when = datetime.fromisoformat(_FRACTION.sub(r"\1", created).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return "N/A"
    return human_duration(now - when) + " ago"


def human_duration(seconds: float) -> str:
    minutes, hours = int(seconds / 60), int(seconds / 3600)
    if seconds < 1:
        return "Less than a second"
    if seconds < 60:
        return "1 second" if int(seconds) == 1 else f"{int(seconds)} seconds"
    if minutes < 60:
        return "About a minute" if minutes == 1 else f"{minutes} minutes"
    if hours < 48:
        return "About an hour" if hours == 1 else f"{hours} hours"
    for limit, divisor, unit in ((24 * 7 * 2, 24, "days"), (24 * 30 * 2, 24 * 7, "weeks"),
                                 (24 * 365 * 2, 24 * 30, "months")):
        if hours < limit:
            return f"{hours // divisor} {unit}"
    return f"{hours // (24 * 365)} years"


def human_size(size: float) -> str:
    """docker's ``units.HumanSizeWithPrecision(size, 3)``: decimal units, 3 significant digits."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    index = 0
    while size >= 1000 and index < len(units) - 1:
        size /= 1000
        index += 1
    return f"{size:.3g}{units[index]}"
