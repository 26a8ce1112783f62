"""A running estimate of the cache's size, so the after-build GC check costs one small read.

``<root>/cache/usage.json`` holds ``{"bytes": N, "walked": T}``: ``bytes`` was exact at time
``T`` (the last full walk, by GC or ``cache prune``) and every stored record has added its
layer size since. It only over-estimates: a layer shared by two records counts twice until
the next walk, and blobs that vanish are only noticed then. An over-estimate costs one walk,
which resets the figure; a missing or unreadable file means "unknown" and triggers one too.
Updates are read-modify-write under ``usage.lock`` (flock), so concurrent builds add up.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from builder.imagestore.locks import locked
from grammar import record


@record
class Usage:
    bytes: int
    walked: float  # when ``bytes`` was last computed from every record


class UsageLedger:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "usage.json"
        self._lock = directory / "usage.lock"

    def read(self) -> Usage | None:
        try:
            document = json.loads(self.path.read_bytes())
            return Usage(int(document["bytes"]), float(document["walked"]))
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def add(self, size: int) -> None:
        if size <= 0:
            return
        with locked(self._lock):
            usage = self.read()
            if usage is not None:  # unknown stays unknown: the next walk computes it
                self._write(Usage(usage.bytes + size, usage.walked))

    def reset(self, size: int, walked: float) -> None:
        with locked(self._lock):
            self._write(Usage(size, walked))

    def _write(self, usage: Usage) -> None:
        # temp + rename without fsync: a lost update after a crash only means one walk more
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.write_text(json.dumps({"bytes": usage.bytes, "walked": usage.walked}))
        os.replace(temporary, self.path)
