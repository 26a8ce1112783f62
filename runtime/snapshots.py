"""The Snapshotter contract (containerd's ``snapshots.Snapshotter``, synchronous, paths instead of ctx).

Glossary
--------
* **snapshot**: a directory tree with a parent (or none). Its content is the parent's plus its own
  changes; how that is stored is the implementation's business (overlay upperdirs, full copies).
* **key**: the name of an *active* or *view* snapshot, chosen by the caller; unique among all snapshots.
* **name**: the name of a *committed* snapshot, given at ``commit``; unique among all snapshots.
* **active**: writable; made by ``prepare``. It can be mounted, changed, committed or removed.
* **view**: read-only; made by ``view``. It can be mounted or removed, never committed.
* **committed**: immutable; made by ``commit`` from an active snapshot. Only committed snapshots can be
  parents. It cannot be mounted directly: ``view`` or ``prepare`` a child of it.
* **mounts**: the ``Mount`` list that, mounted in order on one target, shows the snapshot's tree.

Lifecycle
---------
::

    prepare(key, parent?) --> active --commit(name, key)--> committed (key is gone)
    view(key, parent)     --> view
    remove(key_or_name)   : any kind, but only without children (remove children first)

``parent`` is always a committed name (or None for an empty base). ``prepare``/``view`` of an existing
key, ``commit`` of a view or of a committed snapshot, and ``remove`` of a parent are ``SnapshotError``s.
Committed data is never copied again: a commit is a metadata change.

Own directories
---------------
``own_directory`` names the host directory holding what a snapshot itself stores: for an active
snapshot the directory its writes land in (``writable_directory`` of its mounts), for a committed one
the files it added (overlay: its upperdir; native: its full tree). Both live on the snapshotter's own
filesystem, so a file of a committed snapshot can be hardlinked into an *unmounted* active one
(``builder.copy.reuse``). A committed snapshot's files are immutable and may share inodes with later
snapshots: nothing may ever write, chmod, chown or utime them in place; children never share their
parent's inodes (overlay copies up, native copies).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from runtime.mounts import Mount


class Kind(enum.Enum):
    ACTIVE = "active"
    VIEW = "view"
    COMMITTED = "committed"


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    name: str            # key for active/view snapshots, name for committed ones
    kind: Kind
    parent: str | None
    created: float       # seconds since the epoch


class Snapshotter(Protocol):
    def prepare(self, key: str, parent: str | None = None) -> list[Mount]:
        """Create an active (writable) snapshot on top of committed ``parent``; return its mounts."""

    def view(self, key: str, parent: str | None) -> list[Mount]:
        """Create a read-only snapshot showing committed ``parent``; return its mounts."""

    def mounts(self, key: str) -> list[Mount]:
        """The mounts of an existing active or view snapshot."""

    def commit(self, name: str, key: str) -> None:
        """Turn active snapshot ``key`` into committed snapshot ``name``; ``key`` stops existing."""

    def remove(self, key: str, *, background: bool = False) -> None:
        """Delete a snapshot of any kind; it must have no children. ``background``: its files go
        after this returns (the snapshot is gone from the store at once either way)."""

    def stat(self, key: str) -> SnapshotInfo:
        """Information about a snapshot, by key or name."""

    def list(self) -> list[SnapshotInfo]:
        """Every snapshot, in creation order."""

    def cleanup(self) -> None:
        """Remove storage no snapshot owns any more (left by a crash mid-operation)."""

    def own_directory(self, key: str) -> str:
        """The host directory of an active or committed snapshot's own files (see above); views have none."""


def writable_directory(mounts: list[Mount]) -> str | None:
    """Where writes through an active snapshot's ``mounts`` land (its upperdir, or the bind source).

    None for mounts of another shape. Write there only while the mounts are not mounted.
    """
    if len(mounts) != 1:
        return None
    mount = mounts[0]
    if mount.type == "overlay":
        return mount.option("upperdir")
    if mount.type == "bind" and "rw" in mount.options:
        return mount.source
    return None
