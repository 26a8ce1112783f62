"""The ADD-from-URL download cache (``<root>/cache/http``, written by ``builder.copy.remote_files``):
how much it holds, and pruning it with the build cache.

A download's file mtime is its last use: ``remote_files`` sets it when an ETag revalidation
reuses the content. Pruning follows ``pybuild cache prune``'s policy: with no limit every
download goes; with ``until=`` those unused for that long. ``keep-storage`` counts layers only,
so it leaves downloads to ``until=`` (and GC's ``keep-duration``). URL records whose content is
gone are dropped with it (a revalidation without content would be useless).
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from grammar import record


@record
class DownloadsPruned:
    files: int
    reclaimed: int  # bytes


def downloads_directory(root: Path) -> Path:
    return root / "cache" / "http"


def downloads_size(root: Path) -> int:
    """Bytes of downloaded content kept for ADD's revalidation."""
    total = 0
    for entry in _content_files(downloads_directory(root)):
        with contextlib.suppress(FileNotFoundError):
            total += entry.stat().st_size
    return total


def prune_downloads(root: Path, unused_for: float | None, now: float) -> DownloadsPruned:
    """Remove downloads unused for ``unused_for`` seconds (all of them when None), then dangling URL records.

    The caller holds the store's exclusive lock: no build is reading a download meanwhile.
    """
    directory = downloads_directory(root)
    files = reclaimed = 0
    for entry in _content_files(directory):
        try:
            status = entry.stat()
        except FileNotFoundError:
            continue
        if unused_for is not None and status.st_mtime > now - unused_for:
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            files += 1
            reclaimed += status.st_size
    _drop_dangling_records(directory)
    return DownloadsPruned(files, reclaimed)


def _content_files(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory / "content") as entries:
            return [entry for entry in entries if entry.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _drop_dangling_records(directory: Path) -> None:
    try:
        records = list((directory / "urls").iterdir())
    except FileNotFoundError:
        return
    for path in records:
        try:
            digest = json.loads(path.read_bytes()).get("digest", "")
        except (OSError, ValueError, AttributeError):
            digest = ""
        hex_digest = digest.partition(":")[2] if isinstance(digest, str) else ""
        if not hex_digest or not (directory / "content" / hex_digest).is_file():
            path.unlink(missing_ok=True)
