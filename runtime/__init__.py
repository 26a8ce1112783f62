"""runtime: Linux isolation and filesystem snapshots. Knows nothing about OCI.

* ``run(spec, rootfs_mounts, on_output) -> ExitStatus`` runs a ``ProcessSpec`` in a fresh container
  (``container``, ``supervisor``, ``process``, ``rootfs``, ``network``, ``cgroups``), optionally with
  forwarded stdin or a pty (``Stdio``), signalled through a ``ContainerControl``; ``cleanup_stale``
  releases what a killed pybuild left behind, host mounts from ``mounted`` included (it also runs at
  the start of every ``run``).
* ``OverlaySnapshotter`` / ``NativeSnapshotter`` implement the ``Snapshotter`` contract (``snapshots``).
* ``write_diff(lower_mounts, upper_mounts, out) -> DiffStats`` writes a snapshot's changes as an
  uncompressed layer tar with its diffID; ``apply_layer(stream, root)`` unpacks one safely.

Isolation is Docker's default minus seccomp: namespaces, Docker's capability set, masked and
read-only /proc paths, ``nodev`` on every writable mount with the standard devices bound from the host
(plus the v1 devices cgroup where there is one). There is no seccomp filter yet, so syscalls that
Docker's profile blocks for CAP-less root (``keyctl``, ``add_key``, ``userfaultfd``, ``perf_event_open``,
``unshare`` of a user namespace, ...) are allowed. Applying Docker's profile needs a BPF program
loaded by the main process just before ``execve`` (``prctl(PR_SET_NO_NEW_PRIVS)`` is not required as
root, but a non-root USER needs it); it is left out until a compiler for the profile is worth carrying.
"""
from __future__ import annotations

from runtime.apply import ApplyStats, apply_layer
from runtime.container import run
from runtime.changes import is_whiteout
from runtime.diff import DiffStats, write_diff
from runtime.errors import (
    CgroupError,
    ContainerError,
    ContainerStartError,
    LayerFormatError,
    NamespaceError,
    NetworkError,
    ProcessStartError,
    SnapshotError,
    UnsafeLayerError,
    UserLookupError,
)
from runtime.hostmounts import mounted
from runtime.layerentries import EntryIndex, EntryLocation, PreviousLayer
from runtime.mounts import Mount
from runtime.native import NativeSnapshotter
from runtime.overlay import OverlaySnapshotter, overlay_supported
from runtime.snapshots import Kind, SnapshotInfo, Snapshotter, writable_directory
from runtime.spec import (
    DOCKER_DEFAULT_CAPABILITIES, TMPFS_FLAG_WORDS, BindMount, ExitStatus, Limits, ProcessSpec, Stdio, TmpfsMount,
)
from runtime.supervisor import ContainerControl
from runtime.paths import scoped_components, scoped_join
from runtime.resources import ContainerResources, Ulimit
from runtime.state import cleanup_stale
from runtime.users import Credentials, resolve_user

__all__ = [
    "ApplyStats",
    "BindMount",
    "CgroupError",
    "ContainerControl",
    "ContainerError",
    "ContainerResources",
    "ContainerStartError",
    "DOCKER_DEFAULT_CAPABILITIES",
    "DiffStats",
    "EntryIndex",
    "EntryLocation",
    "ExitStatus",
    "Kind",
    "LayerFormatError",
    "Limits",
    "Mount",
    "NamespaceError",
    "NativeSnapshotter",
    "NetworkError",
    "OverlaySnapshotter",
    "PreviousLayer",
    "ProcessSpec",
    "ProcessStartError",
    "SnapshotError",
    "SnapshotInfo",
    "Stdio",
    "Snapshotter",
    "TMPFS_FLAG_WORDS",
    "TmpfsMount",
    "Ulimit",
    "UnsafeLayerError",
    "UserLookupError",
    "apply_layer",
    "cleanup_stale",
    "Credentials",
    "resolve_user",
    "scoped_components",
    "scoped_join",
    "mounted",
    "overlay_supported",
    "run",
    "write_diff",
    "writable_directory",
    "is_whiteout",
]
