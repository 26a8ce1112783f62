"""Per-cache-key locks: two builds sharing a root run an identical step only once.

A build that misses the cache for key K takes ``<root>/cache/locks/<K>.lock`` (``flock``,
exclusive, waiting), looks K up again (the holder before it may have published it) and only
then runs the step and publishes blob, snapshot and record, all before letting go. flock locks
die with their process, so a killed build never blocks the others.

Lock files do not pile up: the holder unlinks its file before releasing it. A waiter that then
gets the lock holds it on a file no longer in the directory, so after every acquisition the
open file is compared with the path (device and inode) and the acquisition is retried on a
mismatch. The same rule lets the start-up sweep delete the files killed builds left behind.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from builder.cache.keys import CacheKey

LOCK_SUFFIX = ".lock"


def locks_directory(root: Path) -> Path:
    return root / "cache" / "locks"


@contextlib.contextmanager
def key_locked(root: Path, key: CacheKey) -> Iterator[None]:
    """Hold the exclusive lock of ``key`` for the block (waits for another build holding it)."""
    path = locks_directory(root) / f"{key.hex}{LOCK_SUFFIX}"
    fd = _acquire(path, blocking=True)
    assert fd is not None
    try:
        yield
    finally:
        _release(path, fd)


@contextlib.contextmanager
def key_lock_free(root: Path, key_hex: str) -> Iterator[bool]:
    """Whether nobody holds ``key_hex``'s lock; if so it is held (without waiting) for the block."""
    path = locks_directory(root) / f"{key_hex}{LOCK_SUFFIX}"
    fd = _acquire(path, blocking=False)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            _release(path, fd)


def sweep_stale_locks(root: Path) -> int:
    """Delete lock files of dead builds (any file whose lock can be taken at once)."""
    removed = 0
    try:
        names = os.listdir(locks_directory(root))
    except FileNotFoundError:
        return 0
    for name in names:
        if not name.endswith(LOCK_SUFFIX):
            continue
        with key_lock_free(root, name.removesuffix(LOCK_SUFFIX)) as free:
            removed += free  # the release unlinks it
    return removed


def _acquire(path: Path, *, blocking: bool) -> int | None:
    """An fd holding ``path``'s flock on the file currently at ``path``; None if busy (non-blocking)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        if _still_linked(path, fd):
            return fd
        os.close(fd)  # the previous holder unlinked it: lock the file now at ``path``


def _still_linked(path: Path, fd: int) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def _release(path: Path, fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # while still locked: see the module docstring
    os.close(fd)
