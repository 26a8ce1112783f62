"""``pybuild cache ls|du|prune|check``: look after the build cache of a state root."""
from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from builder.commands.common import run_reporting

if TYPE_CHECKING:
    from builder.console import Console
    from builder.services import Services



def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ls|du|prune|check")
    actions.add_parser("ls", help="list cache entries, most recently used first")
    actions.add_parser("du", help="show the disk usage of the cache")
    prune = actions.add_parser("prune", help="remove cache entries, least recently used first")
    prune.add_argument("--keep-storage", metavar="SIZE", help="keep at most this much, e.g. 10GB")
    prune.add_argument("--filter", dest="filters", action="append", default=[], metavar="until=DURATION",
                       help="only entries not used for DURATION, e.g. until=24h")
    check = actions.add_parser("check", help="find corrupt or dangling entries (and clean leftovers)")
    check.add_argument("--fix", action="store_true", help="repair what was found")


def run(options: argparse.Namespace) -> int:
    return run_reporting(lambda console: _run(options, console))


def _run(options: argparse.Namespace, console: Console) -> int:
    from builder.services import open_services

    services = open_services(options.root)
    if options.action == "ls":
        return _ls(services, console)
    if options.action == "du":
        return _du(services, console)
    if options.action == "prune":
        return _prune(services, options, console)
    return _check(services, options.fix, console)


def _ls(services: Services, console: Console) -> int:
    from builder.commands.images import human_duration, human_size

    now = time.time()
    rows = [("KEY", "PARENT", "SIZE", "CREATED", "LAST USED")]
    for entry in sorted(services.cache.entries(), key=lambda e: -e.last_used):
        record = entry.record
        rows.append((entry.key.short, (record.parent or "")[:12] or "-",
                     human_size(record.size) if record.diff_id else "0B (no layer)",
                     human_duration(now - record.created) + " ago", human_duration(now - entry.last_used) + " ago"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        console.result_line("   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _du(services: Services, console: Console) -> int:
    from builder.cache.downloads import downloads_size
    from builder.cache.prune import storage_of
    from builder.commands.images import human_size

    entries = list(services.cache.entries())
    layers = {e.record.diff_id for e in entries if e.record.diff_id}
    snapshots = [s for s in services.snapshotter.list() if s.name.startswith("step-")]
    console.result_line(f"Entries:    {len(entries)}")
    console.result_line(f"Layers:     {len(layers)}")
    console.result_line(f"Snapshots:  {len(snapshots)}")
    console.result_line(f"Total:      {human_size(storage_of(entries))}")
    console.result_line(f"Downloads:  {human_size(downloads_size(services.root))} (ADD of URLs)")
    return 0


def _prune(services: Services, options: argparse.Namespace, console: Console) -> int:
    from builder.cache.prune import PrunePolicy, prune_cache
    from builder.commands.images import human_size

    policy = PrunePolicy(parse_size(options.keep_storage) if options.keep_storage else None,
                         parse_filters(options.filters))
    result = prune_cache(services, policy)
    console.result_line(f"Deleted {result.records} entries, {result.snapshots} snapshots, {result.blobs} layers,"
                        f" {result.downloads} downloads")
    console.result_line(f"Total reclaimed space: {human_size(result.reclaimed)}")
    return 0


def _check(services: Services, fix: bool, console: Console) -> int:
    from builder.cache.check import check_cache

    result = check_cache(services, fix=fix)
    if result.leftovers:
        console.info(f"removed {result.leftovers} leftovers of dead builds")
    for problem in result.problems:
        detail = f": {problem.detail}" if problem.detail else ""
        console.result_line(f"{problem.kind} {problem.subject}{detail}{' (fixed)' if fix else ''}")
    if not result.problems:
        console.result_line("cache is consistent")
    return 0 if fix or not result.problems else 1


def parse_size(text: str) -> int:
    from builder.cache.settings import parse_size as parse

    return parse(text)


def parse_filters(filters: list[str]) -> float | None:
    """The ``until=DURATION`` filter in seconds (``24h``, ``1h30m``, ``7d``); None without one."""
    from builder.cache.settings import parse_duration
    from builder.errors import UsageError

    unused_for = None
    for text in filters:
        name, _, value = text.partition("=")
        if name != "until" or not value or value == "0":
            raise UsageError(f"invalid --filter {text!r}: expected until=DURATION, e.g. until=24h")
        try:
            unused_for = parse_duration(value)
        except UsageError:
            raise UsageError(f"invalid --filter {text!r}: expected until=DURATION, e.g. until=24h") from None
    return unused_for
