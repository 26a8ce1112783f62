"""Copy one selected source into the destination rootfs: fsutil's ``copier`` semantics.

* A directory is merged into an existing one; a file replaces a file or symlink
  but never a directory (``cannot replace to directory``); a directory onto a
  non-directory fails (``cannot copy to non-directory``).
* Metadata (owner, mode, times, xattrs) is copied for everything created below
  the top level and re-applied to existing directories there; the top-level
  directory keeps its own when it already existed (only its times are restored).
* Owner: ``--chown`` if given, else the source's (0:0 for the context).
  ``--chmod`` applies to every copied file and directory, never to symlinks.
* ``--exclude`` and the ``--parents`` include pattern are matched against the
  path below the copied root; directories that do not match are still walked and
  created lazily, only when something inside them is copied.
* Hardlinked files of one copy stay hardlinked; symlinks are copied as symlinks.
* A regular file's data and metadata go through its two open descriptors (kernel-side copy,
  then ``fchown``/``fchmod``/xattrs/``futimens``): no path is looked up again, which on an overlay
  mount costs more than the calls themselves. Names below a directory this copy just made are
  not looked up at all: nothing can be there yet.
* With a ``CopyReuse`` (a context COPY re-run), regular files unchanged since the step's previous
  run are left for it to hardlink from that run's snapshot (``builder.copy.reuse``).

Nothing on the destination side is followed: the target was resolved inside the
root by the caller and every name below it is checked with ``lstat``.
"""
from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from builder.copy.errors import DestinationError
from builder.copy.filters import PathFilter
from builder.copy.owners import Owner
from builder.copy.reuse import CopyReuse
from builder.copy.sources import SourceRoot
from grammar import record

_CHUNK = 1 << 30


class ModeChange(Protocol):
    """What ``--chmod`` needs: grammar's ``ChmodSpec`` (octal or symbolic) fits."""

    def apply(self, mode: int, *, is_dir: bool = False) -> int: ...


@record
class CopyOptions:
    owner: Owner | None = None
    mode: ModeChange | None = None
    paths: PathFilter = PathFilter()  # --exclude, and --parents' include pattern


@record
class FileMetadata:
    """What a copied regular file gets once its data is in (owner first: chown clears setuid bits)."""

    uid: int
    gid: int
    mode: int
    times_ns: tuple[int, int]  # atime, mtime
    keep_capability: bool = False


@dataclass(slots=True)
class _PendingDir:
    source: str
    target: str
    copied: bool


@dataclass(slots=True)
class TreeCopier:
    """Copies from one ``SourceRoot`` into ``dest_root``; ``written`` collects image paths."""

    source: SourceRoot
    dest_root: str
    options: CopyOptions
    written: list[str] = field(default_factory=list)
    reuse: CopyReuse | None = None
    _inodes: dict[tuple[int, int], str] = field(default_factory=dict)
    _pending: list[_PendingDir] = field(default_factory=list)
    _data: DataCopier = field(default_factory=lambda: DataCopier())

    def copy(self, relpath: str, target: str, components: str = "", overwrite: bool = False,
             include_info: tuple[bool, ...] = (), exclude_info: tuple[bool, ...] = (), fresh: bool = False) -> None:
        """Copy ``relpath`` to ``target``; ``fresh``: its parent was just created here, so it is not there yet."""
        st = self.source.lstat(relpath)
        if st is None:
            return
        paths = self.options.paths
        include, include_info, exclude_info = paths.admits(components, include_info, exclude_info)
        is_dir = stat.S_ISDIR(st.st_mode)
        if not include and not (is_dir and paths.may_take_below(components)):
            return
        target_st: os.stat_result | None = None
        if not fresh:
            try:
                target_st = os.lstat(target)
            except FileNotFoundError:
                pass
        if include and self._pending:
            self._create_pending_parents(overwrite)
        if is_dir:
            created = self._copy_directory(relpath, components, target, st, overwrite, include,
                                           include_info, exclude_info, target_st)
            if not overwrite or not include:
                if created:
                    self._set_metadata(relpath, st, target)
                elif include and target_st is not None:
                    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
                return
        else:
            self._replace_non_directory(target, target_st)
            if stat.S_ISREG(st.st_mode):
                if self.reuse is not None and self._left_to_link(relpath, st, target):
                    return
                if self._copy_regular(relpath, st, target):
                    return
            else:
                self._copy_node(relpath, st, target)
        self._set_metadata(relpath, st, target)

    def _left_to_link(self, relpath: str, st: os.stat_result, target: str) -> bool:
        assert self.reuse is not None
        uid, gid = self._owner_ids(st)
        if not self.reuse.place_file(relpath, st, self.source.host(relpath), self.image_path(target), uid, gid,
                                     self._mode_for(st)):
            return False
        self._record(target)
        return True

    def _copy_directory(self, relpath: str, components: str, target: str, st: os.stat_result,
                        overwrite: bool, include: bool, include_info: tuple[bool, ...],
                        exclude_info: tuple[bool, ...], target_st: os.stat_result | None) -> bool:
        created = False
        if include:
            created = self._directory_only(target, st, overwrite, target_st)
        if not include:  # made lazily, once something below it is copied
            self._pending.append(_PendingDir(relpath, target, False))
        try:
            prefix = relpath + "/" if relpath else ""
            below = components + "/" if components else ""
            inside = target if target.endswith("/") else target + "/"
            for name in self.source.names(relpath):
                self.copy(prefix + name, inside + name, below + name, True, include_info, exclude_info, created)
        finally:
            if not include:
                self._pending.pop()
        return created

    def _directory_only(self, target: str, st: os.stat_result, overwrite: bool,
                        existing: os.stat_result | None = None) -> bool:
        if existing is None:
            try:
                existing = os.lstat(target)
            except FileNotFoundError:
                os.mkdir(target, 0o700)  # the real mode is set once the children are in
                self._record(target)
                return True
        if not stat.S_ISDIR(existing.st_mode):
            raise DestinationError(f"cannot copy to non-directory: {self.image_path(target)}")
        if overwrite:
            os.chmod(target, self._mode_for(st))
            self._record(target)
        return False

    def _create_pending_parents(self, overwrite: bool) -> None:
        for pending in self._pending:
            if pending.copied:
                continue
            st = os.stat(self.source.host(pending.source))
            if self._directory_only(pending.target, st, overwrite):
                self._set_metadata(pending.source, st, pending.target)
            pending.copied = True

    def _replace_non_directory(self, target: str, target_st: os.stat_result | None) -> None:
        if target_st is None:
            return
        if stat.S_ISDIR(target_st.st_mode):
            raise DestinationError(f"cannot replace to directory {self.image_path(target)} with file")
        os.unlink(target)

    def _copy_regular(self, relpath: str, st: os.stat_result, target: str) -> bool:
        """Copy a regular file; True when its metadata is set too (False: a link to an earlier copy)."""
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            first = self._inodes.get(key)
            if first is not None:
                os.link(first, target)
                self._record(target)
                return False
            self._inodes[key] = target
        uid, gid = self._owner_ids(st)
        metadata = FileMetadata(uid, gid, self._mode_for(st), (st.st_atime_ns, st.st_mtime_ns),
                                keep_capability=not self.source.from_context)
        copy_file(self.source.host(relpath), target, metadata, self._data)
        self._record(target)
        return True

    def _copy_node(self, relpath: str, st: os.stat_result, target: str) -> None:
        """A symlink or special file (regular files: ``_copy_regular``)."""
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(self.source.host(relpath)), target)
        elif self.source.from_context and stat.S_ISSOCK(mode):
            # fsutil's transfer recreates fifos and device nodes but has no socket type: an empty file
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        else:
            os.mknod(target, stat.S_IFMT(mode) | 0o600, st.st_rdev)
        self._record(target)

    def _mode_for(self, st: os.stat_result) -> int:
        perm = stat.S_IMODE(st.st_mode)
        if self.options.mode is None:
            return perm
        return self.options.mode.apply(perm, is_dir=stat.S_ISDIR(st.st_mode)) & 0o7777

    def _set_metadata(self, relpath: str, st: os.stat_result, target: str) -> None:
        """Owner first (chown clears setuid bits), then mode, times and xattrs."""
        uid, gid = self._owner_ids(st)
        os.chown(target, uid, gid, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(target, self._mode_for(st))
            _copy_xattrs(self.source.host(relpath), target, keep_capability=not self.source.from_context)
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)

    def _owner_ids(self, st: os.stat_result) -> tuple[int, int]:
        if self.options.owner is not None:
            return self.options.owner.uid, self.options.owner.gid
        if self.source.from_context:
            return 0, 0
        return st.st_uid, st.st_gid

    def image_path(self, host_path: str) -> str:
        return host_path[len(self.dest_root):] or "/"

    def _record(self, target: str) -> None:
        self.written.append(target[len(self.dest_root):] or "/")


@dataclass(slots=True)
class DataCopier:
    """Kernel-side file copies, remembering which calls this pair of filesystems refused.

    ``copy_file_range`` lets the kernel copy (or reflink) within one filesystem, but it fails
    with EXDEV from the context into an overlay mount; trying it once per file, then resetting
    and truncating the target (which makes ext4 flush on close), cost more than the copy.
    ``sendfile`` copies between any two regular files without a trip through Python.
    """

    copy_range: bool = True
    send_file: bool = True

    def copy(self, source_fd: int, target_fd: int) -> None:
        if self.copy_range:
            if _kernel_copy(_copy_range, source_fd, target_fd):
                return
            self.copy_range = False
        if self.send_file:
            if _kernel_copy(_send_file, source_fd, target_fd):
                return
            self.send_file = False
        while chunk := os.read(source_fd, 1 << 20):
            os.write(target_fd, chunk)


def _copy_range(source_fd: int, target_fd: int) -> int:
    return os.copy_file_range(source_fd, target_fd, _CHUNK)


def _send_file(source_fd: int, target_fd: int) -> int:
    return os.sendfile(target_fd, source_fd, None, _CHUNK)


_UNSUPPORTED = frozenset({errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP})


def _kernel_copy(call: Callable[[int, int], int], source_fd: int, target_fd: int) -> bool:
    """Copy with ``call`` until the end; False (and nothing copied) when the filesystems refuse it."""
    copied = 0
    try:
        while count := call(source_fd, target_fd):
            copied += count
        return True
    except OSError as error:
        if error.errno not in _UNSUPPORTED:
            raise
    if copied:  # refused midway (never seen, but then start over)
        os.lseek(source_fd, 0, os.SEEK_SET)
        os.lseek(target_fd, 0, os.SEEK_SET)
        os.ftruncate(target_fd, 0)
    return False


def copy_file(source: str, target: str, metadata: FileMetadata | None = None,
              data: DataCopier | None = None) -> None:
    """Create ``target`` (which must not exist) with ``source``'s content, then ``metadata`` if given."""
    source_fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        target_fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            (data or DataCopier()).copy(source_fd, target_fd)
            if metadata is not None:
                os.chown(target_fd, metadata.uid, metadata.gid)
                os.chmod(target_fd, metadata.mode)
                _copy_xattrs(source_fd, target_fd, metadata.keep_capability)
                os.utime(target_fd, ns=metadata.times_ns)
        finally:
            os.close(target_fd)
    finally:
        os.close(source_fd)


_CAPABILITY_XATTR = "security.capability"


def _copy_xattrs(source: str | int, target: str | int, keep_capability: bool) -> None:
    """Best effort, as BuildKit (its handler logs and ignores xattr errors).

    A file capability never survives BuildKit's context transfer: fsutil's receiver sets the
    xattrs before its chown, and the kernel drops ``security.capability`` on chown.
    Paths are never followed; descriptors (both sides, or neither) are the files themselves.
    """
    nofollow: dict[str, bool] = {} if isinstance(source, int) else {"follow_symlinks": False}
    try:
        names = os.listxattr(source, **nofollow)
    except OSError:
        return
    for name in names:
        if name == _CAPABILITY_XATTR and not keep_capability:
            continue
        try:
            os.setxattr(target, name, os.getxattr(source, name, **nofollow), **nofollow)
        except OSError:
            continue
