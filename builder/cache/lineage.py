"""Lineage records: what the last run of a context COPY/ADD left, so its next run can reuse files.

A COPY of the build context re-runs whenever one context file changes, and today's run makes a new
inode for every file. The lineage key names the step *without* the context's digest (same
instruction, flags, dest and stage state below it); its record says which committed snapshot the
last run produced and, per regular file it copied, the image path and the sha256 of the content
copied there. ``builder.copy.reuse`` hardlinks the files whose content is unchanged out of that
snapshot instead of copying them again. It also names that snapshot's layer (diffID) and where each
regular file's entry lies in its tar, so the next layer copies those entries (``runtime.layerentries``).

The record is only a hint: a missing or pruned snapshot means no reuse, and a file is linked only
when the snapshot's file has exactly the metadata the copy would give it. One marshal file per
lineage key under ``<root>/cache/lineage/``, written to a dot-named temp file and renamed
(``builder.cache.leftovers`` sweeps dead temp files; ``cache check``/``prune`` drop records whose
snapshot is gone).
"""
from __future__ import annotations

import marshal
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from builder.cache.index import TEMP_PREFIX
from grammar import record

_FORMAT_VERSION = 2  # 2: the layer's diffID and entry index (runtime.layerentries)
LINEAGE_TABLE = "lineage"  # the directory under <root>/cache


@record
class LineageRecord:
    snapshot: str  # the committed snapshot the step's last run produced
    files: dict[str, bytes]  # image path of each copied regular file -> sha256 of its content
    layer: str | None = None  # that snapshot's layer diffID, when its entry index is known
    entries: dict[str, tuple[int, ...]] | None = None  # where its regular files' tar entries are


class LineageStore:
    def __init__(self, root: Path) -> None:
        self.directory = root / "cache" / LINEAGE_TABLE

    def _path(self, key_hex: str) -> Path:
        return self.directory / f"{key_hex}.marshal"

    def read(self, key_hex: str) -> LineageRecord | None:
        return _load(self._path(key_hex))

    def write(self, key_hex: str, record: LineageRecord) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = marshal.dumps((_FORMAT_VERSION, record.snapshot, record.files, record.layer, record.entries))
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f"{TEMP_PREFIX}{key_hex}.")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(payload)
            os.replace(temporary, self._path(key_hex))  # readers see the old record or the new one
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def drop_stale(self, snapshot_exists: Callable[[str], bool]) -> int:
        """Delete the records whose snapshot is gone (or that do not parse); how many went."""
        dropped = 0
        for path in _children(self.directory):
            if path.name.startswith(TEMP_PREFIX) or path.suffix != ".marshal":
                continue
            record = _load(path)
            if record is None or not snapshot_exists(record.snapshot):
                path.unlink(missing_ok=True)
                dropped += 1
        return dropped


def _load(path: Path) -> LineageRecord | None:
    try:
        version, snapshot, files, layer, entries = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None  # missing, torn, from another Python or another format: no reuse
    if version != _FORMAT_VERSION or not isinstance(snapshot, str) or not isinstance(files, dict):
        return None
    if not isinstance(layer, str) or not isinstance(entries, dict):
        layer, entries = None, None
    return LineageRecord(snapshot, files, layer, entries)


def _children(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except FileNotFoundError:
        return []
