"""``mounted(mounts)``: a snapshot mounted in the host's namespace for the length of a ``with`` block.

The builder uses it to copy files into or out of snapshots and to apply layers. Unlike a container's
mounts, these outlive a SIGKILLed pybuild, so each is recorded (``runtime.state``) before it is made
and ``cleanup_stale`` undoes it. The mount is ``nodev`` and ``nosuid``: a hostile image's
``/etc/passwd`` may be a device node, and reading it must not read a host device.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator, Sequence

from runtime import namespaces as ns
from runtime.errors import NamespaceError
from runtime.mounts import Mount, mount_all, unmount_all
from runtime.state import MOUNT_REGISTRY, ContainerState


@contextlib.contextmanager
def mounted(mounts: Sequence[Mount], parent: str | None = None, *, registry: str = MOUNT_REGISTRY) -> Iterator[str]:
    """Mount ``mounts`` on a fresh directory in ``parent`` (default: the temporary directory)."""
    record = ContainerState.create(registry, "mounts")
    try:
        target = os.path.join(parent or tempfile.gettempdir(), f"pybuild-mnt-{record.id}")
        record.remember("mounts", [target])  # before the directory exists: no window leaks either
        os.mkdir(target, 0o700)
        try:
            mount_all(mounts, target)
            ns.set_mount_attributes(target, ns.MOUNT_ATTR_NODEV | ns.MOUNT_ATTR_NOSUID)
            yield target
        finally:
            with contextlib.suppress(NamespaceError):
                unmount_all(target)
            os.rmdir(target)
    finally:
        record.close()
