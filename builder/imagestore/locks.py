"""Cross-process locks on files under the state root (``fcntl.flock``).

Two locks guard the store:

- ``index.lock`` serialises read-modify-write cycles of ``index.json`` (held for milliseconds);
- ``gc.lock`` is held SHARED by anything that writes blobs it will reference later (a pull,
  a build, a load) and EXCLUSIVE by blob collection, so a sweep never deletes a blob that a
  running pull has just found present and is about to tag. flock locks die with their
  process, so a killed pull never blocks collection for ever.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def locked(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold ``path``'s flock (created if missing) for the duration of the block; waits."""
    fd = _open_lock(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def lease(root: Path) -> AbstractContextManager[None]:
    """Keep collection away from ``root`` while blobs are being written and tagged (shared gc.lock)."""
    return locked(root / "gc.lock", shared=True)


@contextmanager
def try_locked(path: Path) -> Iterator[bool]:
    """Take ``path``'s exclusive flock if nobody holds it; yields whether we got it."""
    fd = _open_lock(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _open_lock(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
