"""The layer tar's bytes hashed and written in order by a helper thread, while the differ makes the next ones.

A small layer (fewer than ``INLINE_LIMIT`` bytes handed over by ``finish``, say a RUN that wrote a
few files) is written by the caller itself at ``finish``: starting and joining the thread would cost
more than it saves.

The differ's own work is Python (a header per entry, a few syscalls per file); writing a 250 MB
layer is mostly the kernel copying pages, and sha256 is C: both release the GIL. Handing finished
pieces to a writer thread lets them run on the second core while the differ goes on, and the
hashing of a big piece runs in a third thread while the writer writes it (``OverlappedHash``).

Pieces are written exactly in the order they are handed over. A piece is either bytes (owned by
the writer from then on: the caller must not change them) or a run of entries to copy from the
previous layer blob (``runtime.layerentries``), which the writer reads, checks and copies itself.
A failure in the writer (a file that shrank, an I/O error) is raised to the differ at its next
hand-over or at ``finish``.
"""
from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable
from typing import BinaryIO

from runtime.changes import capability
from runtime.errors import ContainerError
from runtime.gotar import BLOCK
from runtime.layerentries import EntrySource, ReusedEntry, run_span

Bytes = bytes | bytearray | memoryview
Piece = Bytes | list[ReusedEntry]
READ_CHUNK = 1 << 20
INLINE_LIMIT = 1 << 20  # a layer handed over in fewer bytes than this is written without the helper thread
_QUEUED_PIECES = 8  # at most ~8 MiB of data waits for the writer: the differ is rarely that far ahead


class OverlappedHash:
    """sha256 of a stream, each big piece hashed in a helper thread while the caller writes it.

    With a second core free, the hashing of a 250 MB layer (~0.2 s) costs no wall time. A piece is
    hashed before ``hash_while`` returns: the caller may reuse its buffer at once.
    """

    _OVERLAP_FROM = 256 << 10  # smaller pieces are hashed inline: a hand-off costs more than it saves

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._thread: threading.Thread | None = None
        self._requests: queue.SimpleQueue[Bytes | None] = queue.SimpleQueue()
        self._hashed: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()

    def hash_while(self, data: Bytes, write: Callable[[Bytes], object]) -> None:
        if len(data) < self._OVERLAP_FROM:
            self._hash.update(data)
            write(data)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._hash_requests, name="layer-hash", daemon=True)
            self._thread.start()
        self._requests.put(data)
        try:
            write(data)
        finally:
            failure = self._hashed.get()
        if failure is not None:
            raise failure

    def _hash_requests(self) -> None:
        while (data := self._requests.get()) is not None:
            try:
                self._hash.update(data)
            except BaseException as error:  # handed to the caller, which waits for every piece
                self._hashed.put(error)
            else:
                self._hashed.put(None)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._thread is not None:
            self._requests.put(None)
            self._thread.join()
            self._thread = None


def write_entry(header: bytes, source: str, size: int, path: str, emit: Callable[[bytes], object]) -> None:
    """A regular file's whole tar entry: ``header``, ``size`` bytes of ``source``, zeros up to a whole block."""
    emit(header)
    _stream_file(source, size, path, emit)
    emit(b"\0" * (-size % BLOCK))


def _stream_file(source: str, size: int, path: str, emit: Callable[[bytes], object]) -> None:
    """Exactly ``size`` bytes of ``source`` in pieces of up to 1 MiB; a file that shrank meanwhile is an error."""
    fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        left = size
        while left:
            chunk = os.read(fd, min(left, READ_CHUNK))
            if not chunk:
                raise ContainerError(f"{path} changed size while its layer was written")
            emit(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)


class TarOutput:
    """Writes handed-over pieces to ``out`` in order, hashing them on the way.

    Pieces are held until they add up to ``INLINE_LIMIT``: then the helper thread starts and writes
    them and the rest; if ``finish`` comes first, the caller writes them itself.
    """

    def __init__(self, out: BinaryIO, entries: EntrySource | None) -> None:
        self._out = out
        self._entries = entries
        self._hash = OverlappedHash()
        self._held: list[Piece] = []
        self._held_bytes = 0
        self._pieces: queue.Queue[Piece | None] = queue.Queue(_QUEUED_PIECES)
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None

    def put(self, piece: Piece) -> None:
        if self._failure is not None:
            raise self._failure
        if self._thread is None:
            self._held.append(piece)
            self._held_bytes += run_span(piece) if isinstance(piece, list) else len(piece)
            if self._held_bytes >= INLINE_LIMIT:
                self._start_thread()
            return
        self._pieces.put(piece)

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._write_pieces, name="layer-writer", daemon=True)
        self._thread.start()
        held, self._held = self._held, []
        for piece in held:
            self._pieces.put(piece)

    def finish(self) -> str:
        """Wait until everything is written; the stream's sha256 (hex)."""
        held, self._held = self._held, []
        for piece in held:  # a small layer: written here, its failures raised as they happen
            self._write(piece)
        self.close()
        if self._failure is not None:
            raise self._failure
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._pieces.put(None)
            self._thread.join()
        self._hash.close()

    def _write_pieces(self) -> None:
        while (piece := self._pieces.get()) is not None:
            if self._failure is not None:
                continue  # drained until the differ notices
            try:
                self._write(piece)
            except BaseException as error:
                self._failure = error

    def _write(self, piece: Piece) -> None:
        if isinstance(piece, list):
            assert self._entries is not None
            self._entries.copy(piece, self._emit, self._rebuild)
        else:
            self._emit(piece)

    def _emit(self, data: Bytes) -> None:
        self._hash.hash_while(data, self._out.write)

    def _rebuild(self, entry: ReusedEntry) -> None:
        """An entry whose old header turned out different: header, file data and padding afresh."""
        assert self._entries is not None
        if self._entries.xattrs_checked and capability(entry.source) is not None:
            # its header was made without a capability lookup (``PreviousLayer.xattrs_checked``)
            raise ContainerError(f"{entry.path} gained a security.capability while its layer was written")
        write_entry(entry.header, entry.source, entry.size, entry.path, self._emit)
