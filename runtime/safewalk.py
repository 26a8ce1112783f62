"""Open a directory below a root without ever leaving it: the path checks layer extraction relies on.

Entry names are checked first (``split_entry_name``): no absolute paths, no ``..``, no NUL, no component
over 255 bytes and no path over 4096 bytes. Then ``open_directory`` walks component by component with
``openat(O_NOFOLLOW | O_DIRECTORY)`` relative to the previous directory's descriptor, so no symlink is
followed by the kernel behind our back. A symlink met on the way is followed by hand only when it is
relative and stays inside the root; an absolute one (``a -> /`` then ``a/etc/passwd``) or one climbing
above the root is refused with ``UnsafeLayerError``. Host-side ``realpath`` is never used.
"""
from __future__ import annotations

import errno
import os
import stat

from runtime.errors import LayerFormatError, UnsafeLayerError

NAME_MAX = 255
PATH_MAX = 4096
MAX_SYMLINKS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def split_entry_name(name: str, what: str = "entry") -> list[str]:
    """The components of a tar path, or ``UnsafeLayerError`` with the reason."""
    if "\x00" in name:
        raise UnsafeLayerError(f"{what} {name!r}: NUL byte in path")
    if name.startswith("/"):
        raise UnsafeLayerError(f"{what} {name!r}: absolute path")
    if len(os.fsencode(name)) > PATH_MAX:
        raise UnsafeLayerError(f"{what} {name[:64]!r}...: path longer than {PATH_MAX} bytes")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeLayerError(f"{what} {name!r}: '..' component")
    for part in parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise UnsafeLayerError(f"{what} {name[:64]!r}...: component longer than {NAME_MAX} bytes")
    return parts


def _reopen(root_fd: int, parts: list[str]) -> int:
    fd = os.dup(root_fd)
    for part in parts:
        next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
        os.close(fd)
        fd = next_fd
    return fd


def open_directory(root_fd: int, parts: list[str], create: bool, entry: str) -> int | None:
    """A descriptor for directory ``parts`` below ``root_fd``; None if missing and not ``create``."""
    pending = list(parts)
    real: list[str] = []
    links = 0
    fd = os.dup(root_fd)
    try:
        while pending:
            part = pending.pop(0)
            if part == "..":  # only ever comes from a relative symlink target
                if not real:
                    raise UnsafeLayerError(f"{entry!r}: a symlink on its path climbs above the root")
                real.pop()
                os.close(fd)
                fd = _reopen(root_fd, real)
                continue
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    os.close(fd)
                    return None
                os.mkdir(part, 0o755, dir_fd=fd)
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as error:
                if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                links += 1
                pending = _symlink_target(fd, part, entry, links) + pending
                continue
            os.close(fd)
            fd = next_fd
            real.append(part)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _symlink_target(dir_fd: int, name: str, entry: str, links: int) -> list[str]:
    if not stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
        raise LayerFormatError(f"{entry!r}: {name!r} on its path is not a directory")
    if links > MAX_SYMLINKS:
        raise UnsafeLayerError(f"{entry!r}: too many levels of symbolic links")
    target = os.readlink(name, dir_fd=dir_fd)
    if target.startswith("/"):
        raise UnsafeLayerError(f"{entry!r}: goes through symlink {name!r} -> {target!r}, which points outside the layer root")
    return [part for part in target.split("/") if part not in ("", ".")]
