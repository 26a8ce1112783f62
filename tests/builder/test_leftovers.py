"""What a SIGKILL can leave at each point of a publish, and how the next start deals with it.

The kill loop (test_kill_loop.py) hits these states at random; here each one is made on
purpose, so a regression shows up on every run.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.cache.index import CacheIndex, CacheRecord
from builder.cache.keys import CacheKey
from builder.cache.locks import key_lock_free, key_locked, locks_directory
from builder.services import open_services
from runtime.overlay import OverlaySnapshotter

pytestmark = pytest.mark.privileged
DEAD_PID = 2**22 + 4321  # above pid_max: never alive
KEY = CacheKey("ab" * 32)


def names(root: Path) -> set[str]:
    return {info.name for info in open_services(root).snapshotter.list()}


def commit_step_snapshot(root: Path, key: CacheKey) -> str:
    snapshotter = open_services(root).snapshotter
    snapshotter.prepare("step-active", None)
    snapshotter.commit(f"step-{key.hex}", "step-active")
    return f"step-{key.hex}"


def test_a_directory_left_by_a_create_killed_before_its_commit_is_no_obstacle(tmp_path: Path) -> None:
    snapshotter = OverlaySnapshotter(str(tmp_path))
    snapshotter.prepare("a")
    # The kill came after the directory got its id but before the row was committed: the id is free again.
    orphan = tmp_path / "snapshots" / "2" / "fs"
    orphan.mkdir(parents=True)
    (orphan / "stale").write_text("from the killed build")
    (tmp_path / "snapshots" / "new-dead").mkdir()
    snapshotter.prepare("b")  # takes id 2
    assert not (orphan / "stale").exists()
    snapshotter.cleanup()
    assert sorted(os.listdir(tmp_path / "snapshots")) == ["1", "2"]


def test_a_step_snapshot_without_its_record_is_swept_unless_a_live_build_is_publishing_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    name = commit_step_snapshot(root, KEY)
    with key_locked(root, KEY):  # a live build between its snapshot commit and its record
        assert name in names(root)
    assert name not in names(root)  # the publisher died: the next start removes the snapshot

    name = commit_step_snapshot(root, KEY)
    CacheIndex(root).put(KEY, CacheRecord(name, None))  # not open_services: its sweep would come first
    assert name in names(root)  # published: kept


def test_dead_builds_temp_blobs_and_lock_files_are_swept_at_start(tmp_path: Path) -> None:
    root = tmp_path / "root"
    open_services(root)
    dead_blob = root / "ingest" / f"blob-{DEAD_PID}-0123abcd"
    dead_blob.parent.mkdir(exist_ok=True)
    dead_blob.write_bytes(b"half a layer")
    live_blob = root / "ingest" / f"blob-{os.getpid()}-0123abcd"
    live_blob.write_bytes(b"being written")
    stale_lock = locks_directory(root) / f"{'cd' * 32}.lock"
    stale_lock.parent.mkdir(parents=True, exist_ok=True)
    stale_lock.touch()
    with key_locked(root, KEY):
        open_services(root)
        assert sorted(path.name for path in locks_directory(root).iterdir()) == [f"{KEY.hex}.lock"]
    assert not dead_blob.exists() and live_blob.exists()
    assert list(locks_directory(root).iterdir()) == []  # the holder removes its own file


def test_a_rerun_snapshot_of_its_own_name_is_kept_while_published_and_once_its_record_names_it(
        tmp_path: Path) -> None:
    root = tmp_path / "root"
    rerun = CacheKey("cd" * 32)  # a --no-cache re-run commits as step-<rerun>, its record is KEY's
    name = commit_step_snapshot(root, rerun)
    with key_locked(root, rerun):  # what the publisher holds between the commit and the record
        assert name in names(root)
        CacheIndex(root).put(KEY, CacheRecord(name, None))
    assert name in names(root)  # named by KEY's record: kept
    CacheIndex(root).remove(KEY)
    assert name not in names(root)


class _PublishWatcher(CacheIndex):
    """The real index; at each record write it notes a step snapshot the start-up sweep could take."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.root = root
        self.unguarded: list[str] = []

    def put(self, key: CacheKey, record: CacheRecord, *, used: bool = True) -> None:
        name_hex = record.snapshot.removeprefix("step-")
        earlier = self.get(key)
        recorded = self.has(name_hex) or (earlier is not None and earlier.snapshot == record.snapshot)
        if record.snapshot.startswith("step-") and not recorded:  # a sweep now would find it unrecorded
            with key_lock_free(self.root, name_hex) as free:
                if free:
                    self.unguarded.append(record.snapshot)
        super().put(key, record, used=used)


def test_a_no_cache_run_and_rerun_hold_their_snapshots_lock_until_the_record_is_written(
        built_root: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from builder.frontend.dockerfile import DockerfileSource
    from builder.solve import BuildRequest, build

    context = tmp_path / "context"
    context.mkdir()
    text = f"FROM busybox:local\nRUN echo {tmp_path.name} > /a && cat /proc/sys/kernel/random/uuid > /b\nRUN cp /b /c\n"
    for _ in range(2):  # the first runs under step-<key>, the second under names of its own
        services = open_services(built_root)
        watcher = _PublishWatcher(built_root)
        build(BuildRequest(source=DockerfileSource("Dockerfile", None, text), context=context, no_cache=True),
              replace(services, cache=watcher))
        assert watcher.unguarded == [] and len(watcher.used) >= 2
