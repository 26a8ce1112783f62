"""Copying a regular file's tar entry from the previous layer blob instead of rebuilding it.

After a context COPY re-run (``builder.copy.reuse``) nearly every file of the new layer is a hardlink
to the very inode the previous layer's tar was written from, so its entry (header, data, padding)
would come out byte for byte as it is in that blob. The differ records where each regular file's
entry lies (``EntryIndex``); the next layer copies such an entry's bytes from the old blob in long
contiguous ranges (one ``pread`` per few MiB instead of an open/read/close per file) and hashes them
as part of the new stream, so the result is exactly what rebuilding would give.

An entry is copied only when all of these hold, otherwise it is rebuilt from the file:

* same tar path, and the file is the same inode (device, inode number) with the same mtime (ns)
  as the one the old entry was written from: committed snapshots are never modified in place, so
  its content is the content in the old blob;
* the header the differ makes now (mode, owner, size, whole-second mtime as clamped, xattr
  records, name) equals the old entry's header bytes, compared as the range is read;
* the entry lies within the old blob.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from runtime.errors import ContainerError

# One regular file's full entry in a layer blob:
# (offset of its header, length of header + data + padding, header length, st_dev, st_ino, st_mtime_ns)
EntryLocation = tuple[int, int, int, int, int, int]
EntryIndex = dict[str, EntryLocation]  # tar path -> location

WINDOW = 8 << 20  # bytes of contiguous entries read with one pread
_STREAM_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class PreviousLayer:
    """The previous layer's uncompressed blob and where its regular files' entries are."""

    blob: str  # host path of the blob (content-addressed, never modified)
    entries: Mapping[str, EntryLocation]
    # True when every file of the new layer that is the same inode as one of ``entries`` was found
    # to have no extended attributes by the step that linked it (``builder.copy.reuse``): the
    # differ then makes those headers without looking for a ``security.capability``.
    xattrs_checked: bool = False


@dataclass(frozen=True, slots=True)
class ReusedEntry:
    """An entry to copy from the old blob; rebuilt from ``source`` if its old header turns out different."""

    offset: int  # in the old blob
    length: int  # the same whether copied or rebuilt: header, ``size`` bytes of data, padding
    header: bytes  # the header the differ made for the file now
    source: str  # host path of the file
    size: int
    path: str  # tar path (for errors)


def run_span(run: Sequence[ReusedEntry]) -> int:
    """Bytes from the start of a run's first entry to the end of its last (contiguous: all of the run), 0 if empty."""
    return run[-1].offset + run[-1].length - run[0].offset if run else 0


Emit = Callable[[bytes | memoryview], None]
Rebuild = Callable[[ReusedEntry], None]


class EntrySource:
    """The old blob, open for the duration of one diff."""

    def __init__(self, previous: PreviousLayer) -> None:
        self._entries = previous.entries
        self.xattrs_checked = previous.xattrs_checked
        self._fd = os.open(previous.blob, os.O_RDONLY | os.O_CLOEXEC)
        self._size = os.fstat(self._fd).st_size
        self.copied = 0  # entries emitted from the old blob

    def close(self) -> None:
        os.close(self._fd)

    def find(self, path: str, st: os.stat_result, header: bytes, length: int) -> int | None:
        """The old offset of ``path``'s entry when it may be copied (see the module docstring), else None."""
        found = self._entries.get(path)
        if found is None:
            return None
        offset, old_length, header_length, dev, ino, mtime_ns = found
        if (ino != st.st_ino or dev != st.st_dev or mtime_ns != st.st_mtime_ns or old_length != length
                or header_length != len(header) or offset + length > self._size):
            return None
        return offset

    def copy(self, run: list[ReusedEntry], emit: Emit, rebuild: Rebuild) -> None:
        """Emit ``run`` (contiguous in the old blob, at most WINDOW long unless a single entry)."""
        start, span = run[0].offset, run_span(run)
        if span > WINDOW:
            assert len(run) == 1
            self._stream_one(run[0], emit, rebuild)
            return
        data = memoryview(self._read(start, span))
        good_from = 0  # data[good_from:] not emitted yet
        for entry in run:
            at = entry.offset - start
            if data[at:at + len(entry.header)] != entry.header:
                if at > good_from:
                    emit(data[good_from:at])
                rebuild(entry)
                good_from = at + entry.length
            else:
                self.copied += 1
        if span > good_from:
            emit(data[good_from:])

    def _stream_one(self, entry: ReusedEntry, emit: Emit, rebuild: Rebuild) -> None:
        if self._read(entry.offset, len(entry.header)) != entry.header:
            rebuild(entry)
            return
        emit(entry.header)
        self.copied += 1
        position, end = entry.offset + len(entry.header), entry.offset + entry.length
        while position < end:
            chunk = self._read(position, min(_STREAM_CHUNK, end - position))
            emit(chunk)
            position += len(chunk)

    def _read(self, offset: int, length: int) -> bytes:
        data = os.pread(self._fd, length, offset)
        if len(data) != length:  # checked against the size when found: the blob was truncated meanwhile
            raise ContainerError("the previous layer blob shrank while its entries were copied")
        return data
