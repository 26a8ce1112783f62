"""The local build cache: cache key -> what the step produced.

One JSON file per key under ``<root>/cache/keys/``, written to a temp file and
renamed, so a reader never sees half a record and a crash leaves only a temp file.
A record is only trusted when the snapshot and layer blob it names still exist;
the caller checks that (``lookup`` returns the record, ``usable`` decides).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from builder.cachekey import CacheKey

if TYPE_CHECKING:
    from registry_client import Digest


@dataclass(frozen=True, slots=True)
class CacheRecord:
    snapshot: str  # committed snapshot holding the step's result filesystem
    diff_id: str | None  # the layer's uncompressed digest; None when the step changed nothing
    size: int = 0  # uncompressed layer size in bytes
    created: float = 0.0


class CacheIndex:
    def __init__(self, root: Path) -> None:
        self.directory = root / "cache" / "keys"
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: CacheKey) -> Path:
        return self.directory / f"{key.hex}.json"

    def get(self, key: CacheKey) -> CacheRecord | None:
        try:
            data = json.loads(self._path(key).read_bytes())
            return CacheRecord(**data)
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def put(self, key: CacheKey, record: CacheRecord) -> None:
        if not record.created:
            record = CacheRecord(record.snapshot, record.diff_id, record.size, time.time())
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(asdict(record), handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self._path(key))
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def remove(self, key: CacheKey) -> None:
        self._path(key).unlink(missing_ok=True)

    def layer_digests(self) -> set[str]:
        """Every layer blob a cache record needs: image garbage collection must keep them."""
        found: set[str] = set()
        for path in self.directory.glob("*.json"):
            try:
                diff_id = json.loads(path.read_bytes()).get("diff_id")
            except (OSError, ValueError, AttributeError):
                continue
            if diff_id:
                found.add(diff_id)
        return found


def protected_blobs(root: Path) -> Callable[[], list[Digest]]:
    """The image store's ``protect`` hook: blobs the build cache still needs."""
    def protect() -> list[Digest]:
        from registry_client import Digest

        return [Digest.parse(text) for text in CacheIndex(root).layer_digests()]

    return protect
