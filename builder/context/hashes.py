"""Content hashes of context files, with a persistent stat cache so unchanged files are never re-read.

The cache maps a relative path to the ``(dev, ino, size, mtime_ns, ctime_ns, mode)``
it had when hashed, plus its sha256. A file whose stat still matches is not
opened again. Files changed within ``_racy_window`` of being hashed are not
persisted: a write in the same timestamp tick would leave the stat unchanged
(git's "racily clean" problem), so they are simply hashed again next time.

Hashing runs in a thread pool: ``hashlib`` releases the GIL while it digests a
buffer and so do ``os.read`` calls, so two cores are kept busy.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from builder.context.walk import Signature

_FORMAT_VERSION = 2
_SMALL_FILE = 1 << 20  # read in one call below this size
_BATCH = 64  # files per pool task: keeps executor overhead off small files
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class StatCache:
    """``relpath -> (signature, sha256 hex)`` persisted in one marshal file (None: memory only)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, tuple[Signature, str]] = {}
        self._persist: dict[str, bool] = {}
        self._dirty = False
        if path is not None:
            self._entries = _load(path)
            self._persist = dict.fromkeys(self._entries, True)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry (the next ``save`` writes an empty table)."""
        self._entries.clear()
        self._persist.clear()
        self._dirty = True

    def lookup(self, relpath: str, signature: Signature) -> str | None:
        found = self._entries.get(relpath)
        return found[1] if found is not None and found[0] == signature else None

    def store(self, relpath: str, signature: Signature, digest: str, hashed_at_ns: int) -> None:
        self._entries[relpath] = (signature, digest)
        self._persist[relpath] = not _racy(signature, hashed_at_ns)
        self._dirty = True

    def forget_missing(self, present: Iterable[str]) -> None:
        """Drop entries for paths no longer in the context, so the file does not grow forever."""
        keep = set(present)
        stale = [relpath for relpath in self._entries if relpath not in keep]
        for relpath in stale:
            del self._entries[relpath]
            self._persist.pop(relpath, None)
        self._dirty = self._dirty or bool(stale)

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        persist = self._persist
        payload = {relpath: entry for relpath, entry in self._entries.items() if persist.get(relpath, False)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(marshal.dumps((_FORMAT_VERSION, payload)))
        os.replace(temporary, self.path)  # atomic: a concurrent reader sees the old or the new file
        self._dirty = False


def _load(path: Path) -> dict[str, tuple[Signature, str]]:
    try:
        version, payload = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return {}  # missing, torn or from another Python: start over
    if version != _FORMAT_VERSION or not isinstance(payload, dict):
        return {}
    return payload  # marshal gives back the (signature tuple, digest) pairs as stored


def _racy(signature: Signature, hashed_at_ns: int) -> bool:
    changed_ns = max(signature[3], signature[4])
    # Whole-second timestamps mean a coarse filesystem (FAT, some network mounts).
    window_ns = 2_000_000_000 if changed_ns % 1_000_000_000 == 0 else 100_000_000
    return changed_ns + window_ns > hashed_at_ns


def sha256_files(root: str, relpaths: list[str], workers: int | None = None) -> dict[str, str]:
    """sha256 hex of each ``root/relpath``, hashed in parallel."""
    if not relpaths:
        return {}
    batches = [relpaths[start:start + _BATCH] for start in range(0, len(relpaths), _BATCH)]
    if len(batches) == 1:
        return dict(_hash_batch(root, batches[0]))
    workers = workers or min(8, 2 * (os.cpu_count() or 1))
    digests: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for results in pool.map(lambda batch: _hash_batch(root, batch), batches):
            digests.update(results)
    return digests


def _hash_batch(root: str, relpaths: list[str]) -> list[tuple[str, str]]:
    return [(relpath, sha256_file(os.path.join(root, relpath))) for relpath in relpaths]


def sha256_file(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return _EMPTY_SHA256
        if size < _SMALL_FILE:
            return hashlib.sha256(os.read(fd, size + 1)).hexdigest()
        with os.fdopen(fd, "rb", buffering=0, closefd=False) as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    finally:
        os.close(fd)


def now_ns() -> int:
    return time.time_ns()
