"""Re-running a context COPY/ADD without re-creating the files that did not change.

On this machine's ext4 creating a file costs ~0.3-0.7 ms (inode allocation) and ``link`` ~20 us,
so after a one-file edit most of a big ``COPY . /app/`` was spent making inodes for files that are
byte-for-byte those of the step's previous run. ``builder.cache.lineage`` remembers that run's
committed snapshot and the content it copied per image path; this module lets the tree copier
leave such a file out (``CopyReuse.place_file``) and, once the active snapshot is unmounted,
hardlinks it from the previous snapshot's own directory into the new one's (``finish``).

Why this is sound:

* a file is linked only when its context content digest equals the recorded one, it has one name
  in the context, neither side has xattrs, and the previous snapshot's file already has the exact
  mode, owner, size and mtime the copy would give it: nothing is changed on a linked inode, ever
  (committed snapshots are immutable; a later RUN writing it copies up or works on a copy);
* links are made in the *unmounted* writable directory (an overlay upperdir must not change under
  a mounted overlay) and into directories the copy already made or copied up there; a whiteout the
  copy left by replacing a lower file is replaced as overlay would; every directory linked into gets
  its times back, so the tree is what a plain copy leaves and the layer tar is byte-identical (the
  diff only writes hardlink entries for names sharing an inode *within* the layer);
* anything unexpected (a directory missing in the upper, the previous snapshot removed meanwhile)
  falls back to copying that file through the mount.

The layer is cheap too: a linked file is the very inode the previous run's layer tar was written
from, so ``CopyLineage`` (a ``builder.layers.LayerLineage``) hands ``commit_layer`` that layer's
diffID and entry index, the differ copies those entries' bytes from the old blob
(``runtime.layerentries``), and the new layer's index goes into this run's record.
"""
from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from builder.cache.lineage import LineageRecord, LineageStore
from grammar import record
from runtime import EntryIndex, EntryLocation, Kind, SnapshotError, Snapshotter, is_whiteout, mounted


class DigestSource(Protocol):
    """What the copy asks the build context (``BuildContext.known_digest`` fits)."""

    def known_digest(self, relpath: str, st: os.stat_result) -> str | None: ...


@record
class _Deferred:
    image_path: str
    image_parent: str
    previous: str  # host path of the file in the previous snapshot's own directory
    source: str  # host path of the context file (for the fallback copy)
    uid: int
    gid: int
    mode: int
    times_ns: tuple[int, int]


@dataclass(slots=True)
class CopyReuse:
    """One run of a context COPY: which files to link from the previous run, and this run's record."""

    context: DigestSource
    previous_dir: str | None  # the previous run's snapshot's own directory (None: nothing to reuse)
    previous_files: dict[str, bytes]
    files: dict[str, bytes] = field(default_factory=dict)  # this run: image path -> content sha256
    deferred: list[_Deferred] = field(default_factory=list)
    _real_dirs: dict[str, bool] = field(default_factory=dict)

    def place_file(self, relpath: str, st: os.stat_result, source: str, image_path: str,
                   uid: int, gid: int, mode: int) -> bool:
        """A regular file about to be copied to ``image_path``; True: ``finish`` links it, create nothing."""
        digest_hex = self.context.known_digest(relpath, st)
        if digest_hex is None:  # changed since it was hashed: copied, not recorded
            self.files.pop(image_path, None)
            return False
        digest = bytes.fromhex(digest_hex)
        self.files[image_path] = digest
        if self.previous_dir is None or st.st_nlink != 1 or self.previous_files.get(image_path) != digest:
            return False
        image_parent = image_path.rpartition("/")[0] or "/"
        if not self._real_directory(image_parent):
            return False
        previous = self.previous_dir + image_path
        try:
            old = os.lstat(previous)
        except OSError:
            return False
        if not (stat.S_ISREG(old.st_mode) and stat.S_IMODE(old.st_mode) == mode and (old.st_uid, old.st_gid) == (uid, gid)
                and old.st_size == st.st_size and old.st_mtime_ns == st.st_mtime_ns):
            return False
        if _has_xattrs(source) or _has_xattrs(previous):
            return False
        self.deferred.append(_Deferred(image_path, image_parent, previous, source, uid, gid, mode,
                                       (st.st_atime_ns, st.st_mtime_ns)))
        return True

    def _real_directory(self, image_dir: str) -> bool:
        """Whether ``image_dir`` is a directory (no symlink on the way) in the previous snapshot's directory."""
        known = self._real_dirs.get(image_dir)
        if known is not None:
            return known
        if image_dir == "/":
            real = True
        else:
            real = self._real_directory(posixpath.dirname(image_dir))
            if real:
                try:
                    real = stat.S_ISDIR(os.lstat(f"{self.previous_dir}{image_dir}").st_mode)
                except OSError:
                    real = False
        self._real_dirs[image_dir] = real
        return real

    def finish(self, writable: str, mounts: list[Any]) -> int:
        """Link the deferred files into the unmounted ``writable`` directory; copy the rest. How many linked."""
        failed = _link_all(self.deferred, writable)
        if failed:
            with mounted(mounts) as root:
                _copy_through_mount(failed, root)
        return len(self.deferred) - len(failed)


def _link_all(deferred: list[_Deferred], writable: str) -> list[_Deferred]:
    times: dict[str, tuple[int, int] | None] = {}
    failed = []
    for item in deferred:
        parent = writable + item.image_parent
        if parent not in times:
            times[parent] = _directory_times(parent)
        if times[parent] is None or not _link(item.previous, writable + item.image_path):
            failed.append(item)
    for parent, found in times.items():
        if found is not None:
            os.utime(parent, ns=found, follow_symlinks=False)
    return failed


def _directory_times(path: str) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_atime_ns, st.st_mtime_ns) if stat.S_ISDIR(st.st_mode) else None


def _link(previous: str, target: str) -> bool:
    try:
        os.link(previous, target, follow_symlinks=False)
        return True
    except FileExistsError:
        pass
    except OSError:
        return False
    # The copy replaced a file of a lower layer: overlay left a whiteout, which a new file replaces.
    try:
        if not is_whiteout(target, os.lstat(target)):
            return False
        os.unlink(target)
        os.link(previous, target, follow_symlinks=False)
        return True
    except OSError:
        return False


def _copy_through_mount(failed: list[_Deferred], root: str) -> None:
    from builder.copy.tree import FileMetadata, copy_file

    times: dict[str, tuple[int, int] | None] = {}
    for item in failed:
        target = root + item.image_path
        parent = os.path.dirname(target)
        if parent not in times:
            times[parent] = _directory_times(parent)
        copy_file(item.source, target, FileMetadata(item.uid, item.gid, item.mode, item.times_ns))
    for parent, found in times.items():
        if found is not None:
            os.utime(parent, ns=found, follow_symlinks=False)


def _has_xattrs(path: str) -> bool:
    try:
        return bool(os.listxattr(path, follow_symlinks=False))
    except OSError as error:
        return error.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP)


@dataclass(slots=True)
class CopyLineage:
    """A context COPY/ADD step's lineage: the previous run to reuse, and where this run is recorded."""

    snapshotter: Snapshotter
    store: LineageStore
    context: DigestSource
    key_hex: str  # the lineage key: the step without its context digest
    snapshot: str  # the snapshot this run's result is committed as
    reuse_previous: bool  # False with --no-cache: copy everything afresh, still record the run
    run: CopyReuse | None = None
    stored: LineageRecord | None = None  # the record found at the start (also read with --no-cache)
    previous: LineageRecord | None = None  # the record of the run files are reused from
    layer: tuple[str, EntryIndex | None, str] | None = None  # this run's layer: diffID, entry index, snapshot

    def start(self) -> CopyReuse:
        self.stored = self.store.read(self.key_hex)
        previous = self.stored if self.reuse_previous else None
        directory = self._committed_directory(previous.snapshot) if previous is not None else None
        self.previous = previous if directory else None
        self.run = CopyReuse(self.context, directory, previous.files if previous is not None and directory else {})
        return self.run

    def previous_layer(self) -> tuple[str, Mapping[str, EntryLocation], bool] | None:
        """``builder.layers.LayerLineage``: the reused run's layer, whose unchanged entries can be copied.

        Its files in the new snapshot are exactly those ``CopyReuse`` linked (the rest are new inodes),
        and it links only files without xattrs: the differ need not look for capabilities there.
        """
        previous = self.previous
        if previous is None or previous.layer is None or previous.entries is None or self.run is None:
            return None
        if not self.run.deferred:  # nothing linked: no file is the same inode as in that layer
            return None
        return previous.layer, previous.entries, True

    def layer_written(self, diff_id: str, entries: EntryIndex | None, snapshot: str) -> None:
        self.layer = (diff_id, entries, snapshot)

    def _committed_directory(self, name: str) -> str | None:
        try:
            if self.snapshotter.stat(name).kind is not Kind.COMMITTED:
                return None
            return self.snapshotter.own_directory(name)
        except SnapshotError:  # removed meanwhile: no reuse
            return None

    def publish(self, committed: str | None) -> None:
        """Record this run once its result is the committed snapshot it was to be (not for an empty diff)."""
        if self.run is not None and committed == self.snapshot:
            layer, entries, written_as = self.layer if self.layer is not None else (None, None, None)
            if written_as != committed:  # a --no-cache re-run's copy was dropped for the earlier snapshot
                entries = None
            stored = self.stored
            if entries is None and stored is not None and (stored.snapshot, stored.layer) == (committed, layer):
                entries = stored.entries  # the index of the snapshot kept still holds
            self.store.write(self.key_hex, LineageRecord(self.snapshot, self.run.files, layer if entries else None,
                                                         entries))

