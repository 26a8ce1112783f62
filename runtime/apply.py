"""Apply a layer tar onto a root directory, never touching anything outside it.

``apply_layer(stream, root)`` unpacks entries in order: ``.wh.<name>`` deletes ``name`` from the tree
below (not something this same layer created), ``.wh..wh..opq`` empties its directory of what lower
layers put there, hardlinks link to names already inside the root, device nodes are made when running
as root, and ``SCHILY.xattr`` records become xattrs (never ``*.overlay.*``, which would let a layer
forge overlay whiteouts or redirects). With ``whiteouts="overlay"`` the tree is an empty overlay upperdir
and deletions become char 0:0 whiteouts and opaque xattrs instead (containerd's OverlayConvertWhiteout).

Safety: every path goes through ``runtime.safewalk`` (see there). The final component is never
followed: an existing symlink is replaced, not written through; files are created with ``O_EXCL |
O_NOFOLLOW``; ownership, mode, xattrs and times are set through the new descriptor. Directory times
are applied last, since creating children changes them.
"""
from __future__ import annotations

import os
import shutil
import stat
import tarfile
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

from runtime.diff import OPAQUE_MARKER, WHITEOUT_PREFIX
from runtime.errors import LayerFormatError, UnsafeLayerError
from runtime.safewalk import open_directory, split_entry_name

WhiteoutMode = Literal["delete", "overlay"]
_FORBIDDEN_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.", "security.selinux")
_COPY_CHUNK = 1 << 20


@dataclass(slots=True)
class _Applier:
    root_fd: int
    whiteouts: WhiteoutMode
    devices: bool
    created: set[str] = field(default_factory=set)
    dir_times: list[tuple[list[str], int]] = field(default_factory=list)
    entries: int = 0

    def parent(self, parts: list[str], name: str, create: bool = True) -> int | None:
        return open_directory(self.root_fd, parts[:-1], create, name)

    def apply(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = split_entry_name(member.name)
        if not parts:
            if not member.isdir():
                raise UnsafeLayerError(f"entry {member.name!r} would replace the root with a non-directory")
            return
        self.entries += 1
        base = parts[-1]
        if base == OPAQUE_MARKER:
            self._opaque(parts[:-1], member.name)
        elif base.startswith(WHITEOUT_PREFIX):
            self._whiteout(parts[:-1], base[len(WHITEOUT_PREFIX):], member.name)
        else:
            self._create(tar, member, parts)

    def _whiteout(self, dir_parts: list[str], name: str, entry: str) -> None:
        if name in ("", ".", "..") or name.startswith(WHITEOUT_PREFIX):
            raise UnsafeLayerError(f"whiteout {entry!r} names no valid entry")
        parent = open_directory(self.root_fd, dir_parts, self.whiteouts == "overlay", entry)
        if parent is None:
            return
        try:
            path = "/".join([*dir_parts, name])
            if path in self.created:
                return
            _remove_if_present(parent, name)
            if self.whiteouts == "overlay":
                os.mknod(name, stat.S_IFCHR | 0o000, 0, dir_fd=parent)
        finally:
            os.close(parent)

    def _opaque(self, dir_parts: list[str], entry: str) -> None:
        directory = open_directory(self.root_fd, dir_parts, True, entry)
        assert directory is not None
        try:
            if self.whiteouts == "overlay":
                os.setxattr(directory, "trusted.overlay.opaque", b"y")
                return
            for name in os.listdir(directory):
                if "/".join([*dir_parts, name]) not in self.created:
                    _remove_if_present(directory, name)
        finally:
            os.close(directory)

    def _create(self, tar: tarfile.TarFile, member: tarfile.TarInfo, parts: list[str]) -> None:
        parent = self.parent(parts, member.name)
        assert parent is not None
        name = parts[-1]
        try:
            if member.isdir():
                self._directory(parent, name, member, parts)
            else:
                _remove_if_present(parent, name)
                self._non_directory(tar, parent, name, member)
            self.created.add("/".join(parts))
        finally:
            os.close(parent)

    def _directory(self, parent: int, name: str, member: tarfile.TarInfo, parts: list[str]) -> None:
        try:
            existing = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if not stat.S_ISDIR(existing.st_mode):
                _remove_if_present(parent, name)
                raise FileNotFoundError
        except FileNotFoundError:
            os.mkdir(name, 0o700, dir_fd=parent)
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        try:
            _set_metadata(fd, member)
        finally:
            os.close(fd)
        self.dir_times.append((parts, int(member.mtime)))

    def _non_directory(self, tar: tarfile.TarFile, parent: int, name: str, member: tarfile.TarInfo) -> None:
        if member.isreg():
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=parent)
            try:
                _copy(tar.extractfile(member), fd)
                _set_metadata(fd, member)
                os.utime(fd, (member.mtime, member.mtime))
            finally:
                os.close(fd)
            return
        if member.islnk():
            self._hardlink(parent, name, member)
            return
        if member.issym():
            os.symlink(member.linkname, name, dir_fd=parent)
        elif member.ischr() or member.isblk():
            if not self.devices:
                return
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(name, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=parent)
        elif member.isfifo():
            os.mkfifo(name, 0o600, dir_fd=parent)
        else:
            raise LayerFormatError(f"entry {member.name!r} has unsupported type {member.type!r}")
        os.chown(name, member.uid, member.gid, dir_fd=parent, follow_symlinks=False)
        if not member.issym():
            os.chmod(name, member.mode, dir_fd=parent)  # a node we just made: nothing to follow
        os.utime(name, (member.mtime, member.mtime), dir_fd=parent, follow_symlinks=False)

    def _hardlink(self, parent: int, name: str, member: tarfile.TarInfo) -> None:
        target = split_entry_name(member.linkname.lstrip("/"), "hardlink target")
        if not target:
            raise UnsafeLayerError(f"hardlink {member.name!r} points at the root")
        source_dir = open_directory(self.root_fd, target[:-1], False, member.linkname)
        if source_dir is None:
            raise LayerFormatError(f"hardlink {member.name!r}: target {member.linkname!r} does not exist")
        try:
            if stat.S_ISDIR(os.stat(target[-1], dir_fd=source_dir, follow_symlinks=False).st_mode):
                raise UnsafeLayerError(f"hardlink {member.name!r} points at directory {member.linkname!r}")
            os.link(target[-1], name, src_dir_fd=source_dir, dst_dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError as error:
            raise LayerFormatError(f"hardlink {member.name!r}: target {member.linkname!r} does not exist") from error
        finally:
            os.close(source_dir)

    def finish(self) -> None:
        for parts, mtime in reversed(self.dir_times):
            try:
                fd = open_directory(self.root_fd, parts, False, "/".join(parts))
            except (UnsafeLayerError, LayerFormatError, OSError):
                continue  # replaced later in the layer
            if fd is not None:
                os.utime(fd, (mtime, mtime))
                os.close(fd)


def _copy(source: BinaryIO | None, fd: int) -> None:
    if source is None:
        return
    while chunk := source.read(_COPY_CHUNK):
        os.write(fd, chunk)


def _set_metadata(fd: int, member: tarfile.TarInfo) -> None:
    """Owner first (chown clears setuid bits and file capabilities), then mode, then xattrs."""
    os.fchown(fd, member.uid, member.gid)
    os.fchmod(fd, member.mode & 0o7777)
    for key, value in sorted(member.pax_headers.items()):
        if key.startswith("SCHILY.xattr."):
            attribute = key[len("SCHILY.xattr."):]
            if not attribute.startswith(_FORBIDDEN_XATTR_PREFIXES):
                os.setxattr(fd, attribute, value.encode("utf-8", "surrogateescape"))


def _remove_if_present(dir_fd: int, name: str) -> None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)  # the fd-based rmtree never follows symlinks
    else:
        os.unlink(name, dir_fd=dir_fd)


@dataclass(frozen=True, slots=True)
class ApplyStats:
    entries: int


def apply_layer(stream: BinaryIO, root: str, whiteouts: WhiteoutMode = "delete",
                devices: bool | None = None) -> ApplyStats:
    """Unpack the (optionally gzip/bz2/xz-compressed) layer tar ``stream`` onto directory ``root``."""
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    applier = _Applier(root_fd, whiteouts, os.geteuid() == 0 if devices is None else devices)
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                applier.apply(tar, member)
        applier.finish()
    finally:
        os.close(root_fd)
    return ApplyStats(applier.entries)
