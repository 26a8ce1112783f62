"""The local build cache: cache key -> what the step produced.

One JSON file per key under ``<root>/cache/keys/``, written to a temp file and
renamed, so a reader never sees half a record and a crash leaves only a temp file.
A record is trusted when its layer blob still exists; the snapshot it names is only
a shortcut (``builder.stagestate`` rebuilds a missing one from the layer chain).

The record file's mtime is the entry's *last use*: a hit sets it with ``utime``, which
is atomic and cheaper than rewriting the record (atime is not reliable: noatime).
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from builder.cache.keys import CacheKey
from builder.cache.usage import UsageLedger
from grammar import record

if TYPE_CHECKING:
    from registry_client import Digest

TEMP_PREFIX = "."  # write_file_atomically's temp files: ``.<name>.<random>``


@record
class CacheRecord:
    snapshot: str  # committed snapshot holding the step's result filesystem (may have been removed)
    diff_id: str | None  # the layer's uncompressed digest; None when the step changed nothing
    size: int = 0  # uncompressed layer size in bytes
    created: float = 0.0
    parent: str | None = None  # the previous step's cache key (hex); None for the first step after FROM
    chain: tuple[str, ...] = ()  # every diff_id of the stage's filesystem after this step, base first
    # Set on a step's "fast" key (BuildKit's: the --from source named by its layers, not its files):
    # the content key whose record holds the result. Such an alias has no layer and no snapshot.
    content_key: str | None = None


@record
class CacheEntry:
    key: CacheKey
    record: CacheRecord
    last_used: float


def record_from_json(data: object) -> CacheRecord:
    """A record from its JSON form; raises TypeError/ValueError on anything malformed."""
    if not isinstance(data, dict):
        raise TypeError("a cache record is a JSON object")
    record = CacheRecord(**data)
    if not isinstance(record.snapshot, str) or not isinstance(record.size, int) or record.size < 0:
        raise ValueError("malformed cache record")
    if record.diff_id is not None and not isinstance(record.diff_id, str):
        raise ValueError("malformed cache record diff_id")
    if record.parent is not None and not _is_key_hex(record.parent):
        raise ValueError("malformed cache record parent")
    if record.content_key is not None and not _is_key_hex(record.content_key):
        raise ValueError("malformed cache record content_key")
    chain = tuple(record.chain)
    if not all(isinstance(item, str) for item in chain):
        raise ValueError("malformed cache record chain")
    return replace(record, created=float(record.created), chain=chain)


def _is_key_hex(text: object) -> bool:
    return isinstance(text, str) and len(text) == 64 and all(c in "0123456789abcdef" for c in text)


class CacheIndex:
    """The records of one state root. ``used`` remembers, in order, what this build hit or stored."""

    def __init__(self, root: Path) -> None:
        self.directory = root / "cache" / "keys"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.usage = UsageLedger(root / "cache")  # what GC compares with its limit, without a walk
        self.used: dict[str, CacheRecord] = {}  # key hex -> record: what a cache export sends

    def _path(self, key: CacheKey) -> Path:
        return self.directory / f"{key.hex}.json"

    def get(self, key: CacheKey) -> CacheRecord | None:
        try:
            return record_from_json(json.loads(self._path(key).read_bytes()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def has(self, key_hex: str) -> bool:
        """Whether a record file exists for the key (not whether it is readable)."""
        return (self.directory / f"{key_hex}.json").exists()

    def put(self, key: CacheKey, record: CacheRecord, *, used: bool = True) -> None:
        """Store ``record``; ``used=False`` for records this build did not make (a cache import)."""
        from builder.imagestore.layout import write_file_atomically

        if not record.created:
            record = replace(record, created=time.time())
        data = asdict(record)
        data["chain"] = list(record.chain)
        existed = self.has(key.hex)
        write_file_atomically(self._path(key), json.dumps(data).encode())
        if record.diff_id is not None and not existed:
            self.usage.add(record.size)
        if used:
            self.used[key.hex] = record

    def touch(self, key: CacheKey, record: CacheRecord) -> None:
        """A hit: note the use (LRU pruning) and remember the record for a cache export."""
        try:
            os.utime(self._path(key))
        except FileNotFoundError:
            pass  # pruned meanwhile: the step still has its layer, only the ranking is lost
        self.used[key.hex] = record

    def remove(self, key: CacheKey) -> None:
        self._path(key).unlink(missing_ok=True)

    def entries(self) -> Iterator[CacheEntry]:
        """Every readable record with its last use; unreadable files are ``builder.cache.check``'s job."""
        for path in sorted(self.directory.glob("*.json")):
            if not _is_key_hex(path.stem):
                continue
            try:
                last_used = path.stat().st_mtime
                record = record_from_json(json.loads(path.read_bytes()))
            except (OSError, ValueError, TypeError):
                continue
            yield CacheEntry(CacheKey(path.stem), record, last_used)

    def record_files(self) -> Iterator[Path]:
        """Every file in the index directory, records, temp files and strays alike."""
        yield from sorted(self.directory.iterdir())

    def layer_digests(self) -> set[str]:
        """Every layer blob a cache record needs: image garbage collection must keep them."""
        return {entry.record.diff_id for entry in self.entries() if entry.record.diff_id}


def protected_blobs(root: Path) -> Callable[[], list[Digest]]:
    """The image store's ``protect`` hook: blobs the build cache still needs."""
    def protect() -> list[Digest]:
        from registry_client import Digest, RegistryError

        digests = []
        for text in CacheIndex(root).layer_digests():
            try:
                digests.append(Digest.parse(text))
            except RegistryError:
                continue  # a malformed record protects nothing; ``pybuild cache check`` reports it
        return digests

    return protect
