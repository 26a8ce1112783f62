"""Deterministic tar archives and where they go (a file, replaced atomically, or stdout).

Archive members carry nothing from the moment or the machine: mtime 0, owner 0:0 with no
user or group names, fixed modes; callers add members in a fixed order. Two exports of the
same image are therefore byte-identical.
"""
from __future__ import annotations

import io
import os
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from builder.errors import UsageError

STDOUT = "-"
_COPY_CHUNK = 1 << 20


class ArchiveWriter:
    """Writes a tar stream member by member; directories are added once, before their files."""

    def __init__(self, out: BinaryIO) -> None:
        self._tar = tarfile.open(fileobj=CountingWriter(out), mode="w", format=tarfile.PAX_FORMAT)
        self._directories: set[str] = set()

    def add_bytes(self, name: str, data: bytes) -> None:
        self._ensure_parents(name)
        self._tar.addfile(self._info(name, tarfile.REGTYPE, len(data), 0o644), io.BytesIO(data))

    def add_file(self, name: str, path: Path, size: int) -> None:
        self._ensure_parents(name)
        with open(path, "rb") as source:
            self._tar.addfile(self._info(name, tarfile.REGTYPE, size, 0o644), source)

    def close(self) -> None:
        self._tar.close()

    def _ensure_parents(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            directory = "/".join(parts[:depth])
            if directory not in self._directories:
                self._directories.add(directory)
                self._tar.addfile(self._info(directory + "/", tarfile.DIRTYPE, 0, 0o755))

    @staticmethod
    def _info(name: str, kind: bytes, size: int, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type, info.size, info.mode, info.mtime = kind, size, mode, 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info


class CountingWriter:
    """A write-only stream that counts bytes: tarfile asks ``tell()``, which pipes cannot answer."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._offset = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self._offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self._offset


@contextmanager
def output_stream(dest: str, what: str) -> Iterator[BinaryIO]:
    """A binary stream for ``dest``: stdout for ``-``, else a temp file renamed over ``dest``
    once everything was written, so a failed export never leaves half an archive behind."""
    if dest == STDOUT:
        if sys.stdout.isatty():
            raise UsageError(f"dest file is required for {what} exporter. refusing to write to console")
        sys.stdout.flush()
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(dest)
    if path.is_dir():
        raise UsageError(f"{what} output {dest}: is a directory, expected a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def copy_file_atomically(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through a temp file in the target directory + rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as data:
            while chunk := data.read(_COPY_CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
