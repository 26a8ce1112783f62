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
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Sequence

from runtime.changes import CAPABILITY_XATTR, Change, ChangeKind, EmptyLower, LayeredLower, LowerTree, scan
from runtime.errors import ContainerError
from runtime.gotar import BLOCK, END_OF_ARCHIVE, header_bytes
from runtime.hostmounts import mounted
from runtime.mounts import Mount

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


@dataclass(frozen=True, slots=True)
class DiffStats:
    diff_id: str    # "sha256:<hex>" of the uncompressed tar
    size: int       # bytes written
    entries: int    # tar entries written


class _HashingWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        self._out.write(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def diff_id(self) -> str:
        return "sha256:" + self._hash.hexdigest()


def _marker(path: str, name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(os.path.join(path, name))
    info.mode, info.mtime, info.uname, info.gname = 0, 0, "", ""
    return info


def _tarinfo(change: Change, epoch: int | None) -> tarfile.TarInfo | None:
    if change.kind is ChangeKind.DELETE:
        parent, base = os.path.split(change.path)
        return _marker(parent, WHITEOUT_PREFIX + base)
    if change.kind is ChangeKind.OPAQUE:
        return _marker(change.path, OPAQUE_MARKER)
    st, source = change.stat, change.source
    assert st is not None and source is not None
    info = tarfile.TarInfo(change.path)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid, info.uname, info.gname = st.st_uid, st.st_gid, "", ""
    info.mtime = int(st.st_mtime) if epoch is None else min(int(st.st_mtime), epoch)
    kind = stat.S_IFMT(st.st_mode)
    if kind == stat.S_IFREG:
        info.type, info.size = tarfile.REGTYPE, st.st_size
    elif kind == stat.S_IFDIR:
        info.type = tarfile.DIRTYPE
    elif kind == stat.S_IFLNK:
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(source)
    elif kind in (stat.S_IFCHR, stat.S_IFBLK):
        info.type = tarfile.CHRTYPE if kind == stat.S_IFCHR else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif kind == stat.S_IFIFO:
        info.type = tarfile.FIFOTYPE
    else:
        return None  # sockets never go into layers
    try:
        capability = os.getxattr(source, CAPABILITY_XATTR, follow_symlinks=False)
        info.pax_headers = {"SCHILY.xattr." + CAPABILITY_XATTR: capability.decode("utf-8", "surrogateescape")}
    except OSError:
        pass
    return info


def write_changes(changes: Sequence[Change], out: BinaryIO, source_date_epoch: int | None = None) -> DiffStats:
    """Write ``changes`` as a layer tar to ``out``."""
    writer = _HashingWriter(out)
    first_name: dict[tuple[int, int], str] = {}
    entries = 0
    for change in changes:
        info = _tarinfo(change, source_date_epoch)
        if info is None:
            continue
        entries += 1
        st = change.stat
        if info.isreg() and st is not None and st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in first_name:
                info.type, info.linkname, info.size = tarfile.LNKTYPE, first_name[key], 0
                writer.write(header_bytes(info))
                continue
            first_name[key] = change.path
        writer.write(header_bytes(info))
        if info.isreg() and change.source is not None:
            with open(change.source, "rb") as handle:
                _copy_exactly(handle, writer, info.size, change.path)
    writer.write(END_OF_ARCHIVE)
    return DiffStats(writer.diff_id(), writer.size, entries)


def _copy_exactly(source: BinaryIO, writer: _HashingWriter, size: int, path: str) -> None:
    """``size`` bytes of file data, padded to a whole block; a file that shrank meanwhile is an error."""
    left = size
    while left:
        chunk = source.read(min(left, 1 << 20))
        if not chunk:
            raise ContainerError(f"{path} changed size while its layer was written")
        writer.write(chunk)
        left -= len(chunk)
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
