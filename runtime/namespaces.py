"""Thin ctypes wrappers over the Linux primitives Python 3.11's ``os`` lacks.

Python 3.11 has no ``os.unshare``/``os.setns``/``pivot_root``/``mount``; they are reached through libc.
Every wrapper raises ``NamespaceError`` with errno and the arguments, so a failing setup says what failed.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import os
import re
import socket
import struct

from runtime.errors import NamespaceError

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
_libc.unshare.argtypes = (ctypes.c_int,)
_libc.setns.argtypes = (ctypes.c_int, ctypes.c_int)
_libc.sethostname.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
_libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
_libc.syscall.restype = ctypes.c_long

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_STRICTATIME = 1 << 24
MS_SYNCHRONOUS = 16
MS_DIRSYNC = 128
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_RELATIME = 1 << 21
MNT_DETACH = 2
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000
# statvfs f_flag bits that a bind remount must repeat, or it would clear them (ST_RELATIME is 1<<12).
_KEPT_STATVFS_FLAGS = {0x1: MS_RDONLY, 0x2: MS_NOSUID, 0x4: MS_NODEV, 0x8: MS_NOEXEC, 0x400: 1 << 10,
                       0x800: 1 << 11, 0x1000: 1 << 21}

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

_SYS_PIVOT_ROOT = 155  # x86_64
_SYS_MOUNT_SETATTR = 442  # the same on every architecture (added after the syscall tables were unified)
_SYS_CAPGET = 125
_SYS_CAPSET = 126
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def _check(result: int, what: str) -> None:
    if result < 0:
        err = ctypes.get_errno()
        raise NamespaceError(f"{what}: {os.strerror(err)} (errno {err})")


def _bytes(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), f"setns({fd}, {nstype:#x})")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    result = _libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data))
    _check(result, f"mount({source!r}, {target!r}, {fstype!r}, {flags:#x}, {data!r})")


def umount(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_bytes(target), flags), f"umount2({target!r}, {flags})")


def set_mount_attributes(target: str, attributes: int) -> None:
    """Add ``MOUNT_ATTR_*`` flags to the mount at ``target`` and every mount below it, atomically.

    Kernels before 5.12 lack ``mount_setattr``: there each mount is remounted on its own, which is
    equivalent as long as nothing mounts below ``target`` concurrently (true in a fresh namespace).
    """
    request = struct.pack("QQQQ", attributes, 0, 0, 0)
    result = _libc.syscall(_SYS_MOUNT_SETATTR, _AT_FDCWD, _bytes(target), _AT_RECURSIVE, request, len(request))
    if result == 0:
        return
    if ctypes.get_errno() != errno.ENOSYS:
        _check(result, f"mount_setattr({target!r}, {attributes:#x})")
    for mount_point in mount_points_below(target):
        _remount_adding(mount_point, attributes)


def mount_points() -> list[str]:
    """Mount points of this mount namespace, oldest first, from /proc/self/mountinfo."""
    with open("/proc/self/mountinfo", "rb") as handle:
        lines = handle.read().splitlines()
    # Spaces, tabs, newlines and backslashes in paths come as octal escapes.
    return [os.fsdecode(re.sub(rb"\\([0-7]{3})", lambda match: bytes([int(match.group(1), 8)]), line.split(b" ")[4]))
            for line in lines]


def mount_points_below(target: str) -> list[str]:
    """``target`` and the mount points under it, parents first."""
    prefix = target.rstrip("/") + "/"
    return [point for point in mount_points() if point == target or point.startswith(prefix)]


def remount_read_only(target: str) -> None:
    """Make the mount at ``target`` read-only, keeping its other flags; the mounts below it stay as they are."""
    _remount_adding(target, MS_RDONLY)


def _remount_adding(target: str, attributes: int) -> None:
    current = os.statvfs(target).f_flag
    flags = MS_BIND | MS_REMOUNT | attributes  # MOUNT_ATTR_{RDONLY,NOSUID,NODEV,NOEXEC} equal their MS_ bits
    for statvfs_bit, mount_bit in _KEPT_STATVFS_FLAGS.items():
        if current & statvfs_bit:
            flags |= mount_bit
    mount(None, target, None, flags)


def pivot_root(new_root: str, put_old: str) -> None:
    result = _libc.syscall(_SYS_PIVOT_ROOT, _bytes(new_root), _bytes(put_old))
    _check(result, f"pivot_root({new_root!r}, {put_old!r})")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), f"sethostname({name!r})")


def prctl(option: int, arg2: int = 0, arg3: int = 0) -> None:
    _check(_libc.prctl(option, arg2, arg3, 0, 0), f"prctl({option}, {arg2})")


def set_parent_death_signal(signum: int) -> None:
    """Ask the kernel to send ``signum`` when the parent *thread* dies (a SIGKILLed pybuild included)."""
    prctl(PR_SET_PDEATHSIG, signum)


def last_capability() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        return int(handle.read())


def limit_capabilities(keep: frozenset[int]) -> None:
    """Drop every capability outside ``keep`` from the bounding, inheritable and ambient sets.

    After ``execve`` a root process gets permitted = bounding set (its file caps are "all"), so this
    alone gives root Docker's CapEff; a non-root user ends up with no effective capabilities.
    """
    for cap in range(last_capability() + 1):
        if cap not in keep:
            prctl(PR_CAPBSET_DROP, cap)
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = ctypes.create_string_buffer(struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, 0))
    data = ctypes.create_string_buffer(24)
    _check(_libc.syscall(_SYS_CAPGET, header, data), "capget")
    words = list(struct.unpack("6I", data.raw))
    mask = sum(1 << cap for cap in keep)
    words[2] &= mask & 0xFFFFFFFF  # inheritable, low word
    words[5] &= mask >> 32  # inheritable, high word
    data = ctypes.create_string_buffer(struct.pack("6I", *words))
    _check(_libc.syscall(_SYS_CAPSET, header, data), "capset")


_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def bring_up_loopback() -> None:
    """``ip link set lo up`` in the current network namespace, with two ioctls instead of netlink."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))
