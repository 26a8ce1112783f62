"""What builds killed half way leave in a state root, and the sweep every start runs.

A SIGKILL can land anywhere; the publish order (blob, then snapshot commit, then cache
record, under the key's lock: ``builder.stagestate``) makes every leftover garbage, never a
lie. The leftovers, and how a start recognises them without stopping live builds:

- active and view snapshots named by ``temporary_key``: their pid is dead;
- step snapshots committed just before the kill, whose record was never written: nothing
  records them and the lock of the key their name carries is free (a live publisher holds
  it until the record is written, also for a --no-cache re-run's ``step-<key>-r<n>``,
  ``builder.cache.stepnames``); a start looks only at the record of that key, so published
  snapshots cost no walk of all records;
- temp files of the cache's tables (older than a grace period) and of blob writes
  (``ingest/`` files whose name carries a dead pid);
- lock files of dead holders (``builder.cache.locks``);
- snapshot directories the metadata does not know (``Snapshotter.cleanup``);
- host mounts of dead builds (``runtime.cleanup_stale``).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Collection
from pathlib import Path

from builder.cache.index import TEMP_PREFIX, CacheIndex
from builder.cache.keys import CacheKey
from builder.cache.locks import key_lock_free, sweep_stale_locks
from builder.cache.stepnames import StepName, parse_step_name
from builder.layers import temporary_key_owner
from grammar import record
from runtime import Kind, SnapshotError, SnapshotInfo, Snapshotter, cleanup_stale

TEMP_GRACE_SECONDS = 60.0  # a live writer renames its temp file within milliseconds
# Directories under <root>/cache whose files are written temp-then-rename (dot-named temps); the
# staging directories of new cache mounts (``mounts/.new-*``) are born the same way.
_TABLES = (".", "compressed", "explain", "builds", "context/context-stat", "mounts", "lineage", "selections")


@record
class Swept:
    snapshots: int
    files: int  # temp files and lock files

    @property
    def total(self) -> int:
        return self.snapshots + self.files


def sweep_leftovers(root: Path, snapshotter: Snapshotter, cache: CacheIndex, now: float | None = None) -> Swept:
    """Remove what dead builds left; safe while other builds on ``root`` run. Cheap when there is nothing."""
    now = time.time() if now is None else now
    with contextlib.suppress(OSError):
        cleanup_stale(str(root / "run"))
    snapshots = len(sweep_dead_snapshots(snapshotter))
    snapshots += len(sweep_unpublished_steps(root, snapshotter, cache))
    snapshotter.cleanup()
    files = sweep_temp_files(root, cache, now) + sweep_stale_locks(root)
    return Swept(snapshots, files)


def sweep_dead_snapshots(snapshotter: Snapshotter) -> list[str]:
    """Remove active and view snapshots left by builds that died (their key names the pid)."""
    removed = []
    for info in reversed(snapshotter.list()):  # children before parents
        if info.kind is Kind.COMMITTED:
            continue
        owner = temporary_key_owner(info.name)
        if owner is not None and not process_alive(owner):
            with contextlib.suppress(SnapshotError):
                snapshotter.remove(info.name)
                removed.append(info.name)
    return removed


def sweep_unpublished_steps(root: Path, snapshotter: Snapshotter, cache: CacheIndex) -> list[str]:
    """Step snapshots committed by a build killed before it wrote the record (leaves, key lock free)."""
    if not _unrecorded_leaves(snapshotter.list(), lambda name, step: _kept_by_its_key(cache, name, step)):
        return []  # the usual case: each leaf checked against its own key's record, no record walk
    removed = []
    with contextlib.ExitStack() as held:
        suspects = unrecorded_step_snapshots(snapshotter, cache)
        keys = {_key_hex(name) for name in suspects}  # each key locked once: a second try would find it busy
        free_keys = {key for key in keys if held.enter_context(key_lock_free(root, key))}  # busy: being published
        free = [name for name in suspects if _key_hex(name) in free_keys]
        # A publisher that let go since the first look has written its record: look again, locks held.
        unrecorded = set(unrecorded_step_snapshots(snapshotter, cache)) if free else set()
        for name in free:
            if name in unrecorded:
                with contextlib.suppress(SnapshotError):
                    snapshotter.remove(name)
                    removed.append(name)
    return removed


def unrecorded_step_snapshots(snapshotter: Snapshotter, cache: CacheIndex) -> list[str]:
    """Committed step snapshots no record keeps and no other snapshot builds on, children first.

    A record keeps the snapshot it names and, if it names another, ``step-<its key>`` too. A step
    snapshot whose record is gone but that still has a child is kept: the child's filesystem is
    layered on it.
    """
    entries = list(cache.entries())
    keyed = {entry.key.hex for entry in entries}
    named = {entry.record.snapshot for entry in entries}

    def recorded(name: str, step: StepName) -> bool:
        return name in named or (step.rerun is None and step.key_hex in keyed)

    infos = snapshotter.list()
    found: list[str] = []
    while leaves := _unrecorded_leaves(infos, recorded, gone=found):
        found += leaves  # removing a leaf may make its parent a leaf
    return found


def _unrecorded_leaves(infos: list[SnapshotInfo], recorded: Callable[[str, StepName], bool],
                       gone: Collection[str] = ()) -> list[str]:
    """The committed step snapshots in ``infos`` (less ``gone``) nothing builds on and ``recorded`` does not keep."""
    live = [info for info in infos if info.name not in gone]
    parents = {info.parent for info in live if info.parent}
    return [info.name for info in live if info.kind is Kind.COMMITTED and info.name not in parents
            and (step := parse_step_name(info.name)) is not None and not recorded(info.name, step)]


def _kept_by_its_key(cache: CacheIndex, name: str, step: StepName) -> bool:
    """Whether the record of the key in ``name`` keeps it: any record ``step-<key>``, only the one naming it a re-run's.

    One record looked at, never all: a superseded re-run snapshot (its remover died, or a build
    still used it) is a suspect, and the walk decides.
    """
    if step.rerun is None:
        return cache.has(step.key_hex)
    record = cache.get(CacheKey(step.key_hex))
    return record is not None and record.snapshot == name


def _key_hex(name: str) -> str:
    step = parse_step_name(name)
    assert step is not None  # only step snapshots are suspects
    return step.key_hex


def sweep_temp_files(root: Path, cache: CacheIndex, now: float) -> int:
    """Temp files of the cache's JSON tables older than the grace period, and blob temp files of dead writers."""
    removed = 0
    for directory in (cache.directory, *(root / "cache" / name for name in _TABLES)):
        for path in _children(directory):
            if path.name.startswith(TEMP_PREFIX) and _older_than(path, now - TEMP_GRACE_SECONDS):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed += 1
    ingest = root / "ingest"
    for path in ingest.iterdir() if ingest.is_dir() else ():
        owner = _writer_pid(path.name)
        if owner is not None and not process_alive(owner):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _children(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except FileNotFoundError:
        return []


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _older_than(path: os.PathLike[str], limit: float) -> bool:
    try:
        return os.stat(path).st_mtime < limit
    except FileNotFoundError:
        return False


def _writer_pid(name: str) -> int | None:
    """The pid in a content store temp file name ``<prefix>-<pid>-<hex8>``."""
    parts = name.rsplit("-", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() and len(parts[2]) == 8 else None
