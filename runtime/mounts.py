"""Mount descriptions (containerd's ``mount.Mount``) and how to mount and unmount them.

A ``Mount`` is a value: the snapshotter returns them, the container (or a builder step that copies
files) mounts them. Overlay option strings are limited to one page by the kernel; an image with many
layers would exceed it, so a long overlay mount is made from a forked child that ``chdir``s into the
layers' common directory and passes short relative paths (what containerd's ``compactLowerdirOption``
does).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

from runtime import namespaces as ns
from runtime.errors import NamespaceError

_FLAG_OPTIONS = {
    "ro": ns.MS_RDONLY,
    "rw": 0,
    "nosuid": ns.MS_NOSUID,
    "nodev": ns.MS_NODEV,
    "noexec": ns.MS_NOEXEC,
    "bind": ns.MS_BIND,
    "rbind": ns.MS_BIND | ns.MS_REC,
}
_PATH_OPTIONS = ("lowerdir", "upperdir", "workdir")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class Mount:
    """One mount: ``type`` (overlay, bind, tmpfs, ...), ``source`` and its ``options``."""

    type: str
    source: str
    options: tuple[str, ...] = ()

    def option(self, name: str) -> str | None:
        """The value of ``name=value`` in the options, or None."""
        prefix = name + "="
        return next((opt[len(prefix):] for opt in self.options if opt.startswith(prefix)), None)

    @property
    def read_only(self) -> bool:
        return "ro" in self.options

    def lowerdirs(self) -> tuple[str, ...]:
        """Overlay lower directories, topmost first; a bind mount's source is its single "layer"."""
        if self.type == "bind":
            return (self.source,)
        value = self.option("lowerdir")
        return tuple(value.split(":")) if value else ()


def _split_options(mount: Mount) -> tuple[int, list[str]]:
    flags = 0
    data: list[str] = []
    for option in mount.options:
        if option in _FLAG_OPTIONS:
            flags |= _FLAG_OPTIONS[option]
        else:
            data.append(option)
    return flags, data


def mount_one(mount: Mount, target: str) -> None:
    """Mount ``mount`` at ``target``. Read-only binds need a second, remounting call."""
    flags, data = _split_options(mount)
    if flags & ns.MS_BIND:
        ns.mount(mount.source, target, None, flags & ~ns.MS_RDONLY)
        if flags & ns.MS_RDONLY:
            ns.mount(None, target, None, ns.MS_BIND | ns.MS_REMOUNT | ns.MS_RDONLY)
        return
    text = ",".join(data)
    if len(text) < _PAGE_SIZE - 1:
        ns.mount(mount.source, target, mount.type, flags, text or None)
        return
    _mount_with_relative_paths(mount.source, os.path.abspath(target), mount.type, flags, data)


def _mount_with_relative_paths(source: str, target: str, fstype: str, flags: int, data: list[str]) -> None:
    paths = [p for opt in data if opt.split("=", 1)[0] in _PATH_OPTIONS for p in opt.split("=", 1)[1].split(":")]
    base = os.path.commonpath(paths)
    short = []
    for option in data:
        key, sep, value = option.partition("=")
        if key in _PATH_OPTIONS:
            value = ":".join(os.path.relpath(p, base) for p in value.split(":"))
        short.append(f"{key}{sep}{value}")
    text = ",".join(short)
    if len(text) >= _PAGE_SIZE - 1:
        raise NamespaceError(f"overlay options for {target} are too long even as relative paths ({len(text)} bytes)")
    pid = os.fork()
    if pid == 0:  # chdir is process-wide: do it in a throwaway child sharing our mount namespace
        try:
            os.chdir(base)
            ns.mount(source, target, fstype, flags, text)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise NamespaceError(f"mounting {fstype} at {target} with relative lowerdirs from {base} failed")


def mount_all(mounts: Sequence[Mount], target: str) -> None:
    for mount in mounts:
        mount_one(mount, target)


def mount_points() -> list[str]:
    """Mount points of this mount namespace, from /proc/self/mountinfo (octal escapes decoded)."""
    return ns.mount_points()


def unmount_all(target: str) -> None:
    """Unmount everything stacked at ``target`` (lazily, so a busy mount cannot leak).

    ``os.path.ismount`` cannot see a bind mount from the same filesystem, so mountinfo decides.
    """
    target = os.path.abspath(target)
    for _ in range(mount_points().count(target)):
        ns.umount(target, ns.MNT_DETACH)
