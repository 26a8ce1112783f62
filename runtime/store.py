"""Snapshot metadata (SQLite, like containerd's bbolt store) and the per-snapshot directories.

Shared by the overlay and native snapshotters. Layout under ``root``::

    metadata.db                SQLite: id, key, kind, parent, created
    snapshots/<id>/fs          the snapshot's files (an overlay upperdir, or a full copy)
    snapshots/<id>/work        overlay's workdir (overlay only)

One connection serves every thread of the process (a build runs stages in parallel threads); a
re-entrant lock around each use makes it safe, and other processes are kept apart by SQLite's own
locking (``BEGIN IMMEDIATE``). Short numeric ids keep overlay's lowerdir option short. A directory is
built under a temporary name and renamed to its id inside the metadata transaction, so a crash leaves either both or an orphan
directory, which ``cleanup`` removes (containerd's rule).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from typing import Callable, Iterator

from runtime.errors import SnapshotError
from runtime.mounts import Mount
from runtime.snapshots import Kind, SnapshotInfo

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    parent TEXT REFERENCES snapshots(key),
    created REAL NOT NULL
)
"""


class SnapshotStore:
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(os.path.join(self.root, "snapshots"), exist_ok=True)
        self._db = sqlite3.connect(os.path.join(self.root, "metadata.db"), isolation_level=None, timeout=30,
                                   check_same_thread=False)
        self._lock = threading.RLock()  # the connection and its transactions are not thread-safe
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def directory(self, snapshot_id: int) -> str:
        return os.path.join(self.root, "snapshots", str(snapshot_id))

    def _row(self, db: sqlite3.Connection, key: str) -> tuple[int, str, str | None, float]:
        row = db.execute("SELECT id, kind, parent, created FROM snapshots WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise SnapshotError(f"snapshot {key!r} does not exist")
        return row

    def create(self, key: str, parent: str | None, kind: Kind, populate: Callable[[str, list[int]], None]) -> int:
        """Insert ``key`` and build its directory with ``populate(tmpdir, parent_chain_ids)``."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM snapshots WHERE key = ?", (key,)).fetchone():
                raise SnapshotError(f"snapshot {key!r} already exists")
            chain = self._chain(db, parent)
            cursor = db.execute("INSERT INTO snapshots (key, kind, parent, created) VALUES (?, ?, ?, ?)",
                                (key, kind.value, parent, time.time()))
            snapshot_id = int(cursor.lastrowid or 0)
            temporary = tempfile.mkdtemp(prefix="new-", dir=os.path.join(self.root, "snapshots"))
            try:
                populate(temporary, chain)
                target = self.directory(snapshot_id)
                if os.path.lexists(target):  # left by a create killed before COMMIT: the id was free again
                    shutil.rmtree(target)
                os.rename(temporary, target)
            except BaseException:
                shutil.rmtree(temporary, ignore_errors=True)
                raise
        return snapshot_id

    def _chain(self, db: sqlite3.Connection, parent: str | None) -> list[int]:
        """Ids of ``parent`` and its ancestors, nearest first."""
        chain: list[int] = []
        if parent is not None:
            snapshot_id, kind, _, _ = self._row(db, parent)
            if kind != Kind.COMMITTED.value:
                raise SnapshotError(f"parent {parent!r} is {kind}, not committed")
        while parent is not None:
            snapshot_id, _, parent, _ = self._row(db, parent)
            chain.append(snapshot_id)
        return chain

    def lookup(self, key: str) -> tuple[int, Kind, list[int]]:
        """Id, kind and parent chain of ``key``."""
        with self._reading() as db:
            snapshot_id, kind, parent, _ = self._row(db, key)
            return snapshot_id, Kind(kind), self._chain(db, parent)

    def commit(self, name: str, key: str) -> int:
        with self._transaction() as db:
            snapshot_id, kind, _, _ = self._row(db, key)
            if kind != Kind.ACTIVE.value:
                raise SnapshotError(f"cannot commit {key!r}: it is {kind}, not active")
            if db.execute("SELECT 1 FROM snapshots WHERE key = ?", (name,)).fetchone():
                raise SnapshotError(f"snapshot {name!r} already exists")
            db.execute("UPDATE snapshots SET key = ?, kind = ? WHERE id = ?", (name, Kind.COMMITTED.value, snapshot_id))
        return snapshot_id

    def remove(self, key: str, *, background: bool = False) -> None:
        """Forget ``key`` at once; its directory is deleted now, or with ``background`` by a detached
        low-priority process (a redundant 20,000-file copy need not hold up a build)."""
        with self._transaction() as db:
            snapshot_id, _, _, _ = self._row(db, key)
            if db.execute("SELECT 1 FROM snapshots WHERE parent = ?", (key,)).fetchone():
                raise SnapshotError(f"cannot remove {key!r}: it has children")
            db.execute("DELETE FROM snapshots WHERE id = ?", (snapshot_id,))
            doomed = os.path.join(self.root, "snapshots", f"rm-{snapshot_id}")
            with contextlib.suppress(FileNotFoundError):
                os.rename(self.directory(snapshot_id), doomed)
        if background:
            delete_detached(doomed)
        else:
            shutil.rmtree(doomed, ignore_errors=True)

    def stat(self, key: str) -> SnapshotInfo:
        with self._reading() as db:
            _, kind, parent, created = self._row(db, key)
        return SnapshotInfo(key, Kind(kind), parent, created)

    def list(self) -> list[SnapshotInfo]:
        with self._reading() as db:
            rows = db.execute("SELECT key, kind, parent, created FROM snapshots ORDER BY id").fetchall()
        return [SnapshotInfo(key, Kind(kind), parent, created) for key, kind, parent, created in rows]

    def cleanup(self) -> None:
        """Delete directories no row owns. Inside a write transaction: no thread or process is then
        between building a directory and committing its row (``create`` holds one throughout)."""
        base = os.path.join(self.root, "snapshots")
        doomed = []
        with self._transaction() as db:
            known = {str(row[0]) for row in db.execute("SELECT id FROM snapshots")}
            for name in os.listdir(base):
                if name in known:
                    continue
                if name.startswith("rm-"):
                    if not _being_deleted(os.path.join(base, name)):
                        doomed.append(name)
                    continue
                try:  # out of the way at once: a later create may reuse a rolled-back id
                    os.rename(os.path.join(base, name), os.path.join(base, f"rm-{name}"))
                    doomed.append(f"rm-{name}")
                except OSError:
                    shutil.rmtree(os.path.join(base, name), ignore_errors=True)
        for name in doomed:
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)


DETACHED_DELETE_GRACE_SECONDS = 600.0  # an ``rm-*`` directory renamed this recently has its own ``rm``


def _being_deleted(path: str) -> bool:
    """Whether a detached ``rm`` (``delete_detached``) is probably still at work on ``path``: the
    rename that doomed it set its ctime. Older leftovers (a killed ``rm``) are deleted by ``cleanup``."""
    try:
        return time.time() - os.stat(path).st_ctime < DETACHED_DELETE_GRACE_SECONDS
    except FileNotFoundError:
        return True  # gone already


def delete_detached(path: str) -> None:
    """``rm -rf`` in its own session at low priority; it outlives pybuild, and if it is killed the
    ``rm-*`` directory it leaves is deleted by the next ``cleanup``."""
    import subprocess

    try:
        subprocess.Popen(["nice", "-n", "10", "rm", "-rf", "--one-file-system", "--", path],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


class DirectorySnapshotter:
    """The Snapshotter contract over ``SnapshotStore``; subclasses say how a directory is filled and
    how it is mounted (``_populate`` and ``_mounts``)."""

    def __init__(self, root: str) -> None:
        self._store = SnapshotStore(root)

    def close(self) -> None:
        self._store.close()

    def _fs(self, snapshot_id: int) -> str:
        return os.path.join(self._store.directory(snapshot_id), "fs")

    def _populate(self, directory: str, chain: list[int]) -> None:
        raise NotImplementedError

    def _mounts(self, snapshot_id: int, kind: Kind, chain: list[int]) -> list[Mount]:
        raise NotImplementedError

    def prepare(self, key: str, parent: str | None = None) -> list[Mount]:
        self._store.create(key, parent, Kind.ACTIVE, self._populate)
        return self.mounts(key)

    def view(self, key: str, parent: str | None) -> list[Mount]:
        self._store.create(key, parent, Kind.VIEW, self._populate)
        return self.mounts(key)

    def mounts(self, key: str) -> list[Mount]:
        snapshot_id, kind, chain = self._store.lookup(key)
        if kind is Kind.COMMITTED:
            raise SnapshotError(f"{key!r} is committed: view or prepare a child to mount it")
        return self._mounts(snapshot_id, kind, chain)

    def commit(self, name: str, key: str) -> None:
        self._store.commit(name, key)

    def remove(self, key: str, *, background: bool = False) -> None:
        self._store.remove(key, background=background)

    def stat(self, key: str) -> SnapshotInfo:
        return self._store.stat(key)

    def list(self) -> list[SnapshotInfo]:
        return self._store.list()

    def cleanup(self) -> None:
        self._store.cleanup()

    def own_directory(self, key: str) -> str:
        snapshot_id, kind, _ = self._store.lookup(key)
        if kind is Kind.VIEW:
            raise SnapshotError(f"{key!r} is a view: it has no directory of its own")
        return self._fs(snapshot_id)
