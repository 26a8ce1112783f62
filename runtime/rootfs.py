"""Assemble a container's root filesystem inside its private mount namespace, then enter it.

Runs in the container's PID 1 before it ``exec``s the user's process. The layout follows runc with
containerd's default spec (what BuildKit uses): proc with Docker's masked and read-only paths, a tmpfs
``/dev`` with the standard nodes, devpts, ``/dev/shm``, mqueue, read-only sysfs, and the generated
``/etc/resolv.conf`` and ``/etc/hosts`` (and for ``pybuild run``, as docker run, ``/etc/hostname``)
bind-mounted read-only.

Device nodes: a RUN step has CAP_MKNOD (Docker's set), and layers may carry device nodes, so nothing a
container or an image can create may open a host device. Every writable mount (the rootfs and all below
it, caller binds, ``/dev``, ``/dev/shm``) is ``nodev``; the standard nodes are read-only bind mounts of
the host's own (a bind mount keeps its device semantics on a nodev parent), and devpts is the one
device filesystem. mknod still works, so such nodes reach the layer, but they cannot be opened. The
devices cgroup (``runtime.cgroups``, v1 only) repeats the allow-list where the host has it.

Mount points missing from the image are created as *stubs* and removed again after the run, with the
parent directory's times restored, so they never show up in the layer (BuildKit's MountStubsCleaner).
The user's process is the container's PID 1, so the shim removes them (``runtime.process``).
"""
from __future__ import annotations

import contextlib
import errno
import marshal
import os
import stat
from dataclasses import dataclass, field

from runtime import namespaces as ns
from runtime.errors import ContainerStartError, NamespaceError
from runtime.mounts import Mount, mount_all
from runtime.paths import scoped_join
from runtime.resources import shm_mount
from runtime.spec import TMPFS_FLAG_WORDS, BindMount, TmpfsMount

MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
# Bound from the host's /dev, checked by number, so a tampered host /dev fails loudly instead.
DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
DEV_LINKS = (
    ("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore"),
)
_NOSUID_NODEV_NOEXEC = ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC


@dataclass(frozen=True, slots=True)
class RootfsPlan:
    root: str                                  # where the rootfs is mounted, in the private namespace
    mounts: tuple[Mount, ...]                  # the snapshot's mounts
    files: tuple[tuple[str, str], ...] = ()    # (container path, host file) bound read-only
    binds: tuple[BindMount | TmpfsMount, ...] = ()  # in mount order
    mount_sysfs: bool = True
    shm_size: int | None = None                # bytes of /dev/shm (--shm-size); None: 64 MiB
    shm_source: str | None = None              # its source name (runtime.resources.shm_mount)


@dataclass(frozen=True, slots=True)
class Stub:
    path: str                 # container path
    is_dir: bool
    parent_times: tuple[int, int]  # (atime_ns, mtime_ns) of the parent before the stub existed


@dataclass(slots=True)
class StubRecord:
    stubs: list[Stub] = field(default_factory=list)

    def ensure(self, root: str, path: str, is_dir: bool) -> str:
        """The host path for container ``path``, creating it (and missing parents) as stubs."""
        host = scoped_join(root, path)
        if os.path.lexists(host):
            return host
        parent = os.path.dirname(host)
        if not os.path.lexists(parent):
            self.ensure(root, "/" + os.path.relpath(parent, root), True)
        before = os.stat(parent)
        if is_dir:
            os.mkdir(host, 0o755)
        else:
            os.close(os.open(host, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        self.stubs.append(Stub("/" + os.path.relpath(host, root), is_dir, (before.st_atime_ns, before.st_mtime_ns)))
        return host

    def encode(self) -> bytes:
        """The record as bytes for another process (the shim removes the stubs once the container is gone)."""
        return marshal.dumps([(stub.path, stub.is_dir, stub.parent_times) for stub in self.stubs])

    @classmethod
    def decode(cls, data: bytes) -> StubRecord:
        return cls([Stub(path, is_dir, (times[0], times[1])) for path, is_dir, times in marshal.loads(data)])


def build_rootfs(plan: RootfsPlan) -> StubRecord:
    record = StubRecord()
    mount_all(plan.mounts, plan.root)
    root = plan.root
    ns.set_mount_attributes(root, ns.MOUNT_ATTR_NODEV)  # before anything that must keep its devices
    ns.mount("proc", record.ensure(root, "/proc", True), "proc", _NOSUID_NODEV_NOEXEC)
    _mount_dev(record.ensure(root, "/dev", True), plan.shm_size, plan.shm_source)
    if plan.mount_sysfs:
        ns.mount("sysfs", record.ensure(root, "/sys", True), "sysfs", _NOSUID_NODEV_NOEXEC | ns.MS_RDONLY)
    _mask_paths(root)
    for path, source in plan.files:  # generated /etc files: noexec too, as runc binds them for BuildKit
        _bind(source, record.ensure(root, path, False), read_only=True, extra=ns.MOUNT_ATTR_NOEXEC)
    for bind in plan.binds:
        if isinstance(bind, TmpfsMount):
            _mount_tmpfs(bind, record.ensure(root, bind.target, True))
            continue
        target = record.ensure(root, bind.target, os.path.isdir(bind.source))
        _bind(bind.source, target, bind.read_only, recursive=True)
    return record


# mount(8) flag words a tmpfs may carry: (MS_* bit, whether the word sets it or clears it)
_TMPFS_FLAG_BITS = {  # the flags of runtime.spec.TMPFS_FLAG_WORDS
    "rdonly": ns.MS_RDONLY, "nosuid": ns.MS_NOSUID, "noexec": ns.MS_NOEXEC, "sync": ns.MS_SYNCHRONOUS,
    "dirsync": ns.MS_DIRSYNC, "noatime": ns.MS_NOATIME, "nodiratime": ns.MS_NODIRATIME,
    "relatime": ns.MS_RELATIME, "strictatime": ns.MS_STRICTATIME,
}


def _mount_tmpfs(tmpfs: TmpfsMount, target: str) -> None:
    flags = ns.MS_NODEV  # like every writable mount here: no node made inside may open a host device
    data = []
    for option in tmpfs.options:
        if "=" in option:
            data.append(option)
        elif option in TMPFS_FLAG_WORDS:
            flag, sets = TMPFS_FLAG_WORDS[option]
            bit = _TMPFS_FLAG_BITS[flag]
            flags = flags | bit if sets else flags & ~bit
        else:
            raise ContainerStartError(f"unsupported tmpfs option {option!r} for {tmpfs.target}")
    ns.mount("tmpfs", target, "tmpfs", flags, ",".join(data) or None)


def _bind(source: str, target: str, read_only: bool, recursive: bool = False, extra: int = 0) -> None:
    """Bind ``source`` (and with ``recursive`` its submounts) nodev, read-only + nosuid if asked, plus ``extra``."""
    ns.mount(source, target, None, ns.MS_BIND | (ns.MS_REC if recursive else 0))
    read_only_flags = ns.MOUNT_ATTR_RDONLY | ns.MOUNT_ATTR_NOSUID if read_only else 0
    ns.set_mount_attributes(target, ns.MOUNT_ATTR_NODEV | read_only_flags | extra)


def _mount_dev(dev: str, shm_size: int | None, shm_source: str | None) -> None:
    ns.mount("tmpfs", dev, "tmpfs", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_STRICTATIME, "mode=755,size=65536k")
    for name, major, minor in DEVICES:
        target = os.path.join(dev, name)
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        ns.mount(_host_device(name, major, minor), target, None, ns.MS_BIND)
        # Read-only stops chmod/chown of the host's inode; reading and writing a device still work.
        ns.mount(None, target, None, ns.MS_BIND | ns.MS_REMOUNT | ns.MS_RDONLY | ns.MS_NOSUID | ns.MS_NOEXEC)
    for name, target in DEV_LINKS:
        if target == "/proc/kcore" and not os.path.exists(target):
            continue  # as runc: /dev/core only where the kernel has /proc/kcore (CONFIG_PROC_KCORE)
        os.symlink(target, os.path.join(dev, name))
    for name in ("pts", "shm", "mqueue"):
        os.mkdir(os.path.join(dev, name), 0o755)
    ns.mount("devpts", os.path.join(dev, "pts"), "devpts", ns.MS_NOSUID | ns.MS_NOEXEC,
             "newinstance,ptmxmode=0666,mode=0620,gid=5")
    source, shm_options = shm_mount(shm_size, shm_source)
    ns.mount(source, os.path.join(dev, "shm"), "tmpfs", _NOSUID_NODEV_NOEXEC, shm_options)
    ns.mount("mqueue", os.path.join(dev, "mqueue"), "mqueue", _NOSUID_NODEV_NOEXEC)


def _host_device(name: str, major: int, minor: int) -> str:
    path = os.path.join("/dev", name)  # still the host's /dev: this runs before pivot_root
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ContainerStartError(f"the host has no {path} to bind into the container") from None
    if not stat.S_ISCHR(info.st_mode) or info.st_rdev != os.makedev(major, minor):
        raise ContainerStartError(f"host {path} is not the character device {major}:{minor}")
    return path


def _mask_paths(root: str) -> None:
    # These live on the proc/sysfs mounts we just made, so no image symlink can redirect them.
    for path in MASKED_PATHS:
        host = root + path
        if os.path.isdir(host):
            ns.mount("tmpfs", host, "tmpfs", ns.MS_RDONLY, "size=0")
        elif os.path.exists(host):
            ns.mount(os.path.join(root, "dev/null"), host, None, ns.MS_BIND)
    for path in READONLY_PATHS:
        host = root + path
        if os.path.exists(host):
            _bind(host, host, read_only=True, recursive=True)


def enter_rootfs(root: str) -> None:
    """``pivot_root`` into ``root`` and drop the old root (runc's pivot_root(".", ".") trick)."""
    os.chdir(root)
    ns.pivot_root(".", ".")
    ns.umount(".", ns.MNT_DETACH)
    os.chdir("/")


def remove_stubs(record: StubRecord) -> None:
    """Undo the stubs, newest first, with ``/`` the container root, after every process is gone."""
    for stub in reversed(record.stubs):
        with contextlib.suppress(NamespaceError):  # parents of mount points are not mounted
            ns.umount(stub.path, ns.MNT_DETACH)
        try:
            os.rmdir(stub.path) if stub.is_dir else _unlink_if_empty(stub.path)
        except OSError as error:
            if error.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                continue  # the process put something there: it is part of the layer now
            if error.errno == errno.EROFS:
                continue  # a read-only root (run --read-only) is never committed: its stubs go with it
            raise
        parent = os.path.dirname(stub.path)
        with contextlib.suppress(OSError):
            os.utime(parent, ns=stub.parent_times, follow_symlinks=False)


def _unlink_if_empty(path: str) -> None:
    if os.lstat(path).st_size == 0:
        os.unlink(path)
