"""Turn the changes of a snapshot into an uncompressed layer tar, computing its diffID as it is written.

The tar has Go's archive/tar bytes (``runtime.gotar``), entries in ``runtime.changes`` order, numeric
ids with empty user and group names, whole-second mtimes (clamped to ``source_date_epoch`` when given, for reproducible layers), whiteouts as
empty regular files with mode 0 and mtime 0 (containerd 2.x), ``security.capability`` as a
``SCHILY.xattr`` record, hardlinks as ``TypeLink`` to the first name written. Compression is left to
export time: the diffID (sha256 of these bytes) is what identifies the layer.
"""
from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from typing import BinaryIO, Sequence

from runtime.changes import (CAPABILITY_XATTR, Change, ChangeKind, EmptyLower, LayeredLower, LowerTree, capability,
                             scan)
from runtime.errors import ContainerError
from runtime.gotar import (BLKTYPE, BLOCK, CHRTYPE, DIRTYPE, END_OF_ARCHIVE, FIFOTYPE, LNKTYPE, REGTYPE, SYMTYPE,
                           header)
from runtime.hostmounts import mounted
from runtime.mounts import Mount

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
CAPABILITY_RECORD = ("SCHILY.xattr." + CAPABILITY_XATTR).encode()


@dataclass(frozen=True, slots=True)
class DiffStats:
    diff_id: str    # "sha256:<hex>" of the uncompressed tar
    size: int       # bytes written
    entries: int    # tar entries written


CHUNK = 1 << 20


class _LayerWriter:
    """Hashes and writes the tar in chunks of about 1 MiB.

    A layer is mostly small pieces (a 512-byte header, a few KiB of data, padding per file);
    gathering them first makes hashing and writing a handful of calls per MiB instead of three
    per file.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self._pending = bytearray()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._pending += data
        if len(self._pending) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        self._hash.update(self._pending)
        self._out.write(self._pending)
        self.size += len(self._pending)
        self._pending.clear()

    def diff_id(self) -> str:
        return "sha256:" + self._hash.hexdigest()


_FILE_TYPES = {stat.S_IFREG: REGTYPE, stat.S_IFDIR: DIRTYPE, stat.S_IFLNK: SYMTYPE, stat.S_IFCHR: CHRTYPE,
               stat.S_IFBLK: BLKTYPE, stat.S_IFIFO: FIFOTYPE}  # sockets never go into layers


def _capability(source: str) -> dict[bytes, bytes] | None:
    value = capability(source)
    return None if value is None else {CAPABILITY_RECORD: value}


def write_changes(changes: Sequence[Change], out: BinaryIO, source_date_epoch: int | None = None) -> DiffStats:
    """Write ``changes`` as a layer tar to ``out``."""
    writer = _LayerWriter(out)
    first_name: dict[tuple[int, int], str] = {}
    entries = 0
    for change in changes:
        if change.kind is ChangeKind.DELETE:  # whiteouts: empty regular files, mode 0, mtime 0
            parent, base = os.path.split(change.path)
            writer.write(header(os.path.join(parent, WHITEOUT_PREFIX + base), REGTYPE, 0, 0, 0, 0, 0))
            entries += 1
            continue
        if change.kind is ChangeKind.OPAQUE:
            writer.write(header(os.path.join(change.path, OPAQUE_MARKER), REGTYPE, 0, 0, 0, 0, 0))
            entries += 1
            continue
        st, source = change.stat, change.source
        assert st is not None and source is not None
        typeflag = _FILE_TYPES.get(stat.S_IFMT(st.st_mode))
        if typeflag is None:
            continue
        entries += 1
        mtime = int(st.st_mtime) if source_date_epoch is None else min(int(st.st_mtime), source_date_epoch)
        mode = stat.S_IMODE(st.st_mode)
        if typeflag == REGTYPE and st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in first_name:
                writer.write(header(change.path, LNKTYPE, mode, st.st_uid, st.st_gid, 0, mtime, first_name[key], 0, 0,
                                    _capability(source)))
                continue
            first_name[key] = change.path
        size, linkname, devmajor, devminor = 0, "", 0, 0
        if typeflag == REGTYPE:
            size = st.st_size
        elif typeflag == SYMTYPE:
            linkname = os.readlink(source)
        elif typeflag in (CHRTYPE, BLKTYPE):
            devmajor, devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        writer.write(header(change.path, typeflag, mode, st.st_uid, st.st_gid, size, mtime, linkname, devmajor,
                            devminor, _capability(source)))
        if typeflag == REGTYPE:
            _copy_exactly(source, writer, size, change.path)
    writer.write(END_OF_ARCHIVE)
    writer.flush()
    return DiffStats(writer.diff_id(), writer.size, entries)


def _copy_exactly(source: str, writer: _LayerWriter, size: int, path: str) -> None:
    """``size`` bytes of file data, padded to a whole block; a file that shrank meanwhile is an error."""
    fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        left = size
        while left:
            chunk = os.read(fd, min(left, CHUNK))
            if not chunk:
                raise ContainerError(f"{path} changed size while its layer was written")
            writer.write(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    writer.write(b"\0" * (-size % BLOCK))


def _lower_tree(lower: Sequence[Mount]) -> LowerTree | None:
    if not lower:
        return EmptyLower()
    if len(lower) == 1 and lower[0].type in ("bind", "overlay") and not lower[0].option("upperdir"):
        return LayeredLower(lower[0].lowerdirs())
    return None


def write_diff(lower: Sequence[Mount], upper: Sequence[Mount], out: BinaryIO,
               source_date_epoch: int | None = None) -> DiffStats:
    """The layer that turns the tree of ``lower`` (a view of the parent, or [] for none) into ``upper``.

    An overlay ``upper`` stacked exactly on ``lower``'s directories is diffed by scanning its upperdir;
    bind mounts (native snapshots) by walking both trees; anything else by mounting both and walking.
    """
    lower_tree = _lower_tree(lower)
    if len(upper) == 1 and lower_tree is not None:
        mount = upper[0]
        upperdir = mount.option("upperdir")
        if mount.type == "overlay" and upperdir and isinstance(lower_tree, LayeredLower):
            if lower_tree.layers == mount.lowerdirs():
                return write_changes(scan(upperdir, lower_tree, full=False), out, source_date_epoch)
        if mount.type == "overlay" and upperdir and isinstance(lower_tree, EmptyLower):
            raise ContainerError("an overlay upper needs the view of its lowerdirs as lower")
        if mount.type == "bind":
            return write_changes(scan(mount.source, lower_tree, full=True), out, source_date_epoch)
    with mounted(lower) as lower_root, mounted(upper) as upper_root:
        return write_changes(scan(upper_root, LayeredLower((lower_root,)), full=True), out, source_date_epoch)
