"""Turn the changes of a snapshot into an uncompressed layer tar, computing its diffID as it is written.

The tar has Go's archive/tar bytes (``runtime.gotar``), entries in ``runtime.changes`` order, numeric
ids with empty user and group names, whole-second mtimes (clamped to ``source_date_epoch`` when given, for reproducible layers), whiteouts as
empty regular files with mode 0 and mtime 0 (containerd 2.x), ``security.capability`` as a
``SCHILY.xattr`` record, hardlinks as ``TypeLink`` to the first name written. Compression is left to
export time: the diffID (sha256 of these bytes) is what identifies the layer.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from runtime.changes import (CAPABILITY_XATTR, Change, ChangeKind, EmptyLower, LayeredLower, LowerTree, capability,
                             scan)
from runtime.errors import ContainerError
from runtime.gotar import (BLKTYPE, BLOCK, CHRTYPE, DIRTYPE, END_OF_ARCHIVE, FIFOTYPE, LNKTYPE, REGTYPE, SYMTYPE,
                           header)
from runtime.hostmounts import mounted
from runtime.layerentries import WINDOW, EntryIndex, EntrySource, PreviousLayer, ReusedEntry, run_span
from runtime.mounts import Mount
from runtime.taroutput import TarOutput, write_entry

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
CAPABILITY_RECORD = ("SCHILY.xattr." + CAPABILITY_XATTR).encode()


@dataclass(frozen=True, slots=True)
class DiffStats:
    diff_id: str    # "sha256:<hex>" of the uncompressed tar
    size: int       # bytes written
    entries: int    # tar entries written
    index: EntryIndex | None = None  # where each regular file's full entry is (when asked for)
    reused: int = 0  # entries copied from the previous layer blob


CHUNK = 1 << 20


class _LayerWriter:
    """Gathers the tar's small pieces into ~1 MiB ones and queues reused entries in long runs.

    A layer is mostly small pieces (a 512-byte header, a few KiB of data, padding per file);
    gathering them makes hashing and writing a handful of calls per MiB instead of three per file.
    Entries copied from the previous layer blob (``runtime.layerentries``) are queued while they are
    contiguous there, and read in one go. The hashing and writing happen in ``runtime.taroutput``
    (in its helper thread, in order, while the differ goes on, unless the layer is small).
    """

    def __init__(self, out: BinaryIO, entries: EntrySource | None = None) -> None:
        self._output = TarOutput(out, entries)
        self._pending = bytearray()
        self._entries = entries
        self._run: list[ReusedEntry] = []  # contiguous in the old blob
        self.size = 0  # bytes handed to the output

    @property
    def offset(self) -> int:
        """Where the next byte lands in the tar."""
        return self.size + len(self._pending) + run_span(self._run)

    def write(self, data: bytes) -> None:
        if self._run:
            self.flush()
        if len(data) >= CHUNK:  # a big piece of file data: no need to gather it first
            self.flush()
            self._output.put(data)
            self.size += len(data)
            return
        self._pending += data
        if len(self._pending) >= CHUNK:
            self.flush()

    def reuse(self, entry: ReusedEntry) -> None:
        """Queue an entry to copy from the previous blob (``EntrySource.find`` said it may be)."""
        if self._run and (entry.offset != self._run[-1].offset + self._run[-1].length
                          or run_span(self._run) + entry.length > WINDOW):
            self.flush()
        self._run.append(entry)

    def flush(self) -> None:
        """Hand over what is gathered: the pending bytes, then the queued run (always the older first)."""
        if self._pending:
            pending, self._pending = self._pending, bytearray()  # the output owns it now
            self._output.put(pending)
            self.size += len(pending)
        if self._run:
            run, self._run = self._run, []
            self._output.put(run)
            self.size += run_span(run)

    @property
    def reused(self) -> int:
        return 0 if self._entries is None else self._entries.copied

    @property
    def xattrs_checked(self) -> bool:
        return self._entries is not None and self._entries.xattrs_checked

    def reuse_offset(self, path: str, st: os.stat_result, header: bytes, length: int) -> int | None:
        return None if self._entries is None else self._entries.find(path, st, header, length)

    def finish(self) -> str:
        """The diffID, once everything is written."""
        self.flush()
        return "sha256:" + self._output.finish()

    def close(self) -> None:
        self._output.close()


_FILE_TYPES = {stat.S_IFREG: REGTYPE, stat.S_IFDIR: DIRTYPE, stat.S_IFLNK: SYMTYPE, stat.S_IFCHR: CHRTYPE,
               stat.S_IFBLK: BLKTYPE, stat.S_IFIFO: FIFOTYPE}  # sockets never go into layers


def _capability(source: str) -> dict[bytes, bytes] | None:
    value = capability(source)
    return None if value is None else {CAPABILITY_RECORD: value}


def write_changes(changes: Sequence[Change], out: BinaryIO, source_date_epoch: int | None = None,
                  previous: PreviousLayer | None = None, index: bool = False) -> DiffStats:
    """Write ``changes`` as a layer tar to ``out``.

    ``previous``: copy the entries of files unchanged since that layer from its blob
    (``runtime.layerentries``); ``index``: return where each regular file's entry is, for the next layer.
    """
    entries_source = _open_entries(previous) if previous is not None else None
    writer = _LayerWriter(out, entries_source)
    try:
        return _write_changes(changes, writer, source_date_epoch, {} if index else None)
    finally:
        writer.close()
        if entries_source is not None:
            entries_source.close()


def _open_entries(previous: PreviousLayer) -> EntrySource | None:
    try:
        return EntrySource(previous)
    except OSError:  # the blob was pruned meanwhile: every entry is rebuilt
        return None


def _write_changes(changes: Sequence[Change], writer: _LayerWriter, source_date_epoch: int | None,
                   index: EntryIndex | None) -> DiffStats:
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
        if typeflag == REGTYPE:
            _write_regular(writer, change.path, st, source, mode, mtime, index)
            continue
        linkname, devmajor, devminor = "", 0, 0
        if typeflag == SYMTYPE:
            linkname = os.readlink(source)
        elif typeflag in (CHRTYPE, BLKTYPE):
            devmajor, devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        writer.write(header(change.path, typeflag, mode, st.st_uid, st.st_gid, 0, mtime, linkname, devmajor, devminor,
                            _capability(source)))
    writer.write(END_OF_ARCHIVE)
    diff_id = writer.finish()
    return DiffStats(diff_id, writer.size, entries, index, writer.reused)


def _write_regular(writer: _LayerWriter, path: str, st: os.stat_result, source: str, mode: int, mtime: int,
                   index: EntryIndex | None) -> None:
    """A regular file's full entry: copied from the previous layer blob when it may be, else header and data."""
    size = st.st_size
    padding = -size % BLOCK
    # A file that is an inode of the previous layer has no xattrs (``PreviousLayer.xattrs_checked``): its
    # header needs the capability lookup only if the entry cannot be copied and is written afresh.
    capability = None if writer.xattrs_checked else _capability(source)
    block = header(path, REGTYPE, mode, st.st_uid, st.st_gid, size, mtime, "", 0, 0, capability)
    old_offset = writer.reuse_offset(path, st, block, len(block) + size + padding)
    if old_offset is None and writer.xattrs_checked and (capability := _capability(source)):
        block = header(path, REGTYPE, mode, st.st_uid, st.st_gid, size, mtime, "", 0, 0, capability)
    length = len(block) + size + padding
    if index is not None:
        index[path] = (writer.offset, length, len(block), st.st_dev, st.st_ino, st.st_mtime_ns)
    if old_offset is not None:
        writer.reuse(ReusedEntry(old_offset, length, block, source, size, path))
        return
    write_entry(block, source, size, path, writer.write)


def _lower_tree(lower: Sequence[Mount]) -> LowerTree | None:
    if not lower:
        return EmptyLower()
    if len(lower) == 1 and lower[0].type in ("bind", "overlay") and not lower[0].option("upperdir"):
        return LayeredLower(lower[0].lowerdirs())
    return None


def write_diff(lower: Sequence[Mount], upper: Sequence[Mount], out: BinaryIO,
               source_date_epoch: int | None = None, previous: PreviousLayer | None = None,
               index: bool = False) -> DiffStats:
    """The layer that turns the tree of ``lower`` (a view of the parent, or [] for none) into ``upper``.

    An overlay ``upper`` stacked exactly on ``lower``'s directories is diffed by scanning its upperdir;
    bind mounts (native snapshots) by walking both trees; anything else by mounting both and walking.
    ``previous`` and ``index`` (see ``write_changes``) apply to the first two only: through a mount,
    device numbers do not identify the files' inodes.
    """
    lower_tree = _lower_tree(lower)
    if len(upper) == 1 and lower_tree is not None:
        mount = upper[0]
        upperdir = mount.option("upperdir")
        if mount.type == "overlay" and upperdir and isinstance(lower_tree, LayeredLower):
            if lower_tree.layers == mount.lowerdirs():
                return write_changes(scan(upperdir, lower_tree, full=False), out, source_date_epoch, previous, index)
        if mount.type == "overlay" and upperdir and isinstance(lower_tree, EmptyLower):
            raise ContainerError("an overlay upper needs the view of its lowerdirs as lower")
        if mount.type == "bind":
            return write_changes(scan(mount.source, lower_tree, full=True), out, source_date_epoch, previous, index)
    with mounted(lower) as lower_root, mounted(upper) as upper_root:
        return write_changes(scan(upper_root, LayeredLower((lower_root,)), full=True), out, source_date_epoch)
