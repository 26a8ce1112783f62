"""Freeing disk space: deleting blobs no image needs, and stale ``ingest/`` files.

Collection is mark and sweep under the EXCLUSIVE ``gc.lock`` (see locks.py), so it never
races a pull or build holding a lease. Two kinds of blobs may go:

- *candidates*: blobs of images just removed; they go at once unless something kept uses
  them (another image, or a digest the ``protect`` hook names, e.g. the build cache);
- *orphans* (only in a full sweep, ``prune``): any other unreferenced blob, but only once it
  is older than ``ORPHAN_GRACE_SECONDS``, in case a writer without a lease is about to tag it.

``ingest/`` files are the temp files of blob writes; a killed pull leaves one behind. A file
not written to for ``INGEST_MAX_AGE_SECONDS`` belongs to a dead writer (a live one writes
continuously) and is deleted whenever a store is opened.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterable

from grammar import record
from registry_client import Digest

INGEST_MAX_AGE_SECONDS = 3600.0
ORPHAN_GRACE_SECONDS = 3600.0


@record
class Collected:
    blobs: int
    bytes: int


def sweep_ingest(root: Path, max_age: float = INGEST_MAX_AGE_SECONDS, now: float | None = None) -> int:
    """Delete temp files in ``root/ingest`` untouched for ``max_age`` seconds; return how many."""
    limit = (time.time() if now is None else now) - max_age
    removed = 0
    try:
        entries = list(os.scandir(root / "ingest"))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < limit:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            pass  # another process swept it first
    return removed


def stored_blobs(root: Path) -> Iterable[tuple[Digest, Path]]:
    """Every blob file under ``root/blobs`` with its digest."""
    blobs = root / "blobs"
    if not blobs.is_dir():
        return
    for algorithm in os.scandir(blobs):
        if not algorithm.is_dir(follow_symlinks=False):
            continue
        for entry in os.scandir(algorithm.path):
            if entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
                yield Digest(algorithm.name, entry.name), Path(entry.path)


def delete_blobs(root: Path, keep: set[Digest], candidates: set[Digest] | None,
                 grace: float = ORPHAN_GRACE_SECONDS, now: float | None = None) -> Collected:
    """Delete ``candidates`` (or, if None, every stored blob older than ``grace``) not in ``keep``.

    The caller holds the exclusive gc lock.
    """
    if candidates is not None:
        targets = [(digest, root / "blobs" / digest.algorithm / digest.hex) for digest in candidates]
        oldest_allowed = float("inf")
    else:
        targets = list(stored_blobs(root))
        oldest_allowed = (time.time() if now is None else now) - grace
    count = size = 0
    for digest, path in targets:
        if digest in keep:
            continue
        try:
            stat = path.stat()
            if stat.st_mtime >= oldest_allowed:
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        count += 1
        size += stat.st_size
    return Collected(count, size)
