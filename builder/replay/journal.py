"""What a build read from outside its Dockerfile, so an identical request can be answered
from a record instead of being rebuilt (see ``builder.replay.records``).

The solver notes every base image it resolved locally, and every context path whose
content fed a cache key. Anything whose freshness cannot be checked locally (an ADD
of a URL or a git repository) makes the build unrecordable.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Protocol


class WalkedSignatures(Protocol):
    """The build context as its walk saw it (``BuildContext`` fits)."""

    root: str

    def walked_signature(self, relpath: str) -> Sequence[int] | None: ...


class BuildJournal:
    """Mutable on purpose: it accumulates while the build runs (from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bases: dict[str, str] = {}  # normalised image name -> index.json entry digest
        self.context_paths: set[str] = set()
        # The stat signatures the context's walk took, before any content was hashed: recording
        # those rather than stat'ing again at the end means a file edited mid-build is seen as
        # changed by the next replay check (and it saves a second stat of every path).
        self.walked: WalkedSignatures | None = None
        self.unrecordable: list[str] = []

    def base(self, name: str, entry_digest: str) -> None:
        with self._lock:
            self.bases[name] = entry_digest

    def context(self, relpaths: Iterable[str], walked: WalkedSignatures | None = None) -> None:
        with self._lock:
            self.context_paths.update(relpaths)
            if walked is not None:
                self.walked = walked

    def forbid(self, reason: str) -> None:
        with self._lock:
            self.unrecordable.append(reason)
