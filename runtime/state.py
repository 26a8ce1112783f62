"""Per-container state directories, so a SIGKILLed pybuild leaves nothing behind for long.

``<state_root>/containers/<id>/`` holds the generated /etc files, the rootfs mount point and
``record.json`` (the host resources the container owns: cgroup directories and a network lease).
The creating process holds an exclusive ``flock`` on ``<id>/lock`` for the container's lifetime. A
directory whose lock can be taken belongs to a dead pybuild: ``cleanup_stale`` releases what its record
lists and deletes it. The kernel does the rest: mounts live in the container's own mount namespace and
its processes die with their parent (PR_SET_PDEATHSIG), taking the netns and the veth pair with them.

Host-side mounts (``runtime.hostmounts.mounted``: snapshots mounted for COPY, diff or apply) are the
exception: they live in the host's mount namespace. They use the same locked records, under
``<registry>/mounts/``, with one machine-wide registry (``MOUNT_REGISTRY``): the mount table is
host-wide, and the builder mounts without knowing its ``--root``. Their targets are only ``rmdir``ed,
never deleted recursively, so a mount that cannot be undone never costs a snapshot's files.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from typing import Any

from runtime import cgroups
from runtime.errors import NamespaceError
from runtime.mounts import unmount_all

DEFAULT_STATE_ROOT = "/run/pybuild"
MOUNT_REGISTRY = DEFAULT_STATE_ROOT


@dataclass(slots=True)
class ContainerState:
    state_root: str
    id: str
    directory: str
    lock_fd: int
    record: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, state_root: str, kind: str = "containers") -> ContainerState:
        """A new, locked directory under ``<state_root>/<kind>``. It is built under a dot name and renamed
        once locked, so a concurrent ``cleanup_stale`` never mistakes a directory being born for a dead one."""
        container_id = secrets.token_hex(6)
        base = os.path.join(state_root, kind)
        os.makedirs(base, mode=0o700, exist_ok=True)
        newborn = os.path.join(base, f".new-{container_id}")
        os.mkdir(newborn, 0o700)
        lock_fd = os.open(os.path.join(newborn, "lock"), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        directory = os.path.join(base, container_id)
        os.rename(newborn, directory)
        return cls(state_root, container_id, directory, lock_fd)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def remember(self, key: str, value: Any) -> None:
        """Record a host resource before it exists, so a crash right after still finds it."""
        self.record[key] = value
        temporary = self.path("record.json.tmp")
        with open(temporary, "w") as handle:
            json.dump(self.record, handle)
        os.replace(temporary, self.path("record.json"))

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        os.close(self.lock_fd)


def release_resources(record: dict[str, Any]) -> None:
    """Free what a container record lists; each step tolerates the resource being gone already."""
    for target in record.get("mounts", []):
        with contextlib.suppress(NamespaceError):
            unmount_all(target)
        with contextlib.suppress(OSError):
            os.rmdir(target)
    cgroups.remove(record.get("cgroups", []))
    lease = record.get("lease")
    if lease:
        from runtime import network  # only needed when the container had a network lease

        network.release(lease)


def _remove_if_old(directory: str, age_seconds: float = 60.0) -> None:
    with contextlib.suppress(FileNotFoundError):
        if time.time() - os.stat(directory).st_mtime > age_seconds:
            shutil.rmtree(directory, ignore_errors=True)


def cleanup_stale(state_root: str, mount_registry: str = MOUNT_REGISTRY) -> list[str]:
    """Release the resources of containers and host mounts whose pybuild died; returns the containers' ids."""
    _sweep(mount_registry, "mounts")
    cleaned = _sweep(state_root, "containers")
    cgroups.remove_orphans()  # of pybuilds killed with a state root nobody revisits
    return cleaned


def _sweep(state_root: str, kind: str) -> list[str]:
    base = os.path.join(state_root, kind)
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return []
    cleaned = []
    for name in names:
        directory = os.path.join(base, name)
        if name.startswith("."):
            _remove_if_old(directory)
            continue
        try:
            lock_fd = os.open(os.path.join(directory, "lock"), os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            shutil.rmtree(directory, ignore_errors=True)  # died before taking its lock
            continue
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            continue  # alive
        record: dict[str, Any] = {}
        with contextlib.suppress(FileNotFoundError, ValueError):
            with open(os.path.join(directory, "record.json")) as handle:
                record = json.load(handle)
        release_resources(record)
        shutil.rmtree(directory, ignore_errors=True)
        os.close(lock_fd)
        cleaned.append(name)
    return cleaned
