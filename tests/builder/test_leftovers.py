"""What a SIGKILL can leave at each point of a publish, and how the next start deals with it.

The kill loop (test_kill_loop.py) hits these states at random; here each one is made on
purpose, so a regression shows up on every run.
"""
from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.cache.index import CacheEntry, CacheIndex, CacheRecord
from builder.cache.keys import CacheKey
from builder.cache.locks import key_lock_free, key_locked, locks_directory
from builder.cache.stepnames import parse_step_name
from builder.cache.leftovers import sweep_leftovers
from builder.services import Services, open_services
from builder.solve import BuildResult
from registry_client import ContentStore, Digest
from runtime.overlay import OverlaySnapshotter

pytestmark = pytest.mark.privileged
DEAD_PID = 2**22 + 4321  # above pid_max: never alive
KEY = CacheKey("ab" * 32)


def names(root: Path) -> set[str]:
    return {info.name for info in open_services(root).snapshotter.list()}


def commit_step_snapshot(root: Path, key: CacheKey, name: str | None = None) -> str:
    snapshotter = open_services(root).snapshotter
    snapshotter.prepare("step-active", None)
    name = name or f"step-{key.hex}"
    snapshotter.commit(name, "step-active")
    return name


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


def test_a_rerun_snapshot_is_kept_while_published_and_while_its_keys_record_names_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = commit_step_snapshot(root, KEY)
    CacheIndex(root).put(KEY, CacheRecord(first, None))
    rerun = commit_step_snapshot(root, KEY, f"step-{KEY.hex}-r1")  # a --no-cache re-run's own name
    with key_locked(root, KEY):  # what the publisher holds between the commit and the record
        assert rerun in names(root)
        CacheIndex(root).put(KEY, CacheRecord(rerun, None))
    assert {first, rerun} <= names(root)  # step-<key> stays with any record of the key
    CacheIndex(root).put(KEY, CacheRecord(first, None))  # the record names another snapshot now
    assert rerun not in names(root) and first in names(root)
    CacheIndex(root).remove(KEY)
    assert first not in names(root)


class _PublishWatcher(CacheIndex):
    """The real index; at each record write it notes a step snapshot the start-up sweep could take."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.root = root
        self.unguarded: list[str] = []

    def put(self, key: CacheKey, record: CacheRecord, *, used: bool = True) -> None:
        step = parse_step_name(record.snapshot)
        earlier = self.get(key)
        recorded = step is not None and (self.has(step.key_hex) if step.rerun is None else (
            earlier is not None and earlier.snapshot == record.snapshot))
        if step is not None and not recorded:  # a sweep now would find it unrecorded
            with key_lock_free(self.root, step.key_hex) as free:
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


def build_in(root: Path, context: Path, text: str, *, no_cache: bool) -> tuple[Services, BuildResult]:
    """A real build of ``text``; the services it ran with (``cache.used``: the records of its steps)."""
    from builder.frontend.dockerfile import DockerfileSource
    from builder.solve import BuildRequest, build

    context.mkdir(exist_ok=True)
    services = open_services(root)
    result = build(BuildRequest(source=DockerfileSource("Dockerfile", None, text), context=context,
                                no_cache=no_cache), services)
    return services, result


def rerun_snapshots(services: Services) -> dict[str, list[str]]:
    """Key hex -> its re-runs' snapshots, as the snapshotter lists them (no sweep in between)."""
    found: dict[str, list[str]] = {}
    for info in services.snapshotter.list():
        step = parse_step_name(info.name)
        if step is not None and step.rerun is not None:
            found.setdefault(step.key_hex, []).append(info.name)
    return found


def layer_files(root: Path, diff_id: object) -> dict[str, bytes]:
    with ContentStore(root).open(Digest.parse(str(diff_id))) as blob, tarfile.open(fileobj=blob) as tar:
        return {member.name: tar.extractfile(member).read() for member in tar.getmembers() if member.isfile()}


class _RecordWalkCounter(CacheIndex):
    """The real index; counts the walks over all records, what a start on its slow path does."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.walks = 0

    def entries(self) -> Iterator[CacheEntry]:
        self.walks += 1
        return super().entries()


def two_changing_steps(tmp_path: Path) -> str:
    return (f"FROM busybox:local\nRUN echo {tmp_path.name} > /a && cat /proc/sys/kernel/random/uuid > /b\n"
            "RUN cp /b /c\n")


def test_a_start_after_no_cache_reruns_walks_no_records_yet_takes_an_unpublished_rerun(
        built_root: Path, tmp_path: Path) -> None:
    text = two_changing_steps(tmp_path)
    for no_cache in (False, True, True):
        services, _ = build_in(built_root, tmp_path / "context", text, no_cache=no_cache)
    published = {record.snapshot for record in services.cache.used.values()}
    assert len(published) == 2 and all(parse_step_name(name).rerun == 2 for name in published)

    counter = _RecordWalkCounter(built_root)
    sweep_leftovers(built_root, services.snapshotter, counter)
    assert counter.walks == 0  # each step snapshot checked against its own key's record only
    assert published <= {info.name for info in services.snapshotter.list()}

    # A third re-run killed between its snapshot commit and its record: the next start walks and takes it.
    last_key = parse_step_name(sorted(published)[0]).key_hex
    orphan = commit_step_snapshot(built_root, CacheKey(last_key), f"step-{last_key}-r3")
    counter = _RecordWalkCounter(built_root)
    with key_locked(built_root, CacheKey(last_key)):  # unless its publisher is alive
        sweep_leftovers(built_root, services.snapshotter, counter)
        assert counter.walks > 0 and orphan in {info.name for info in services.snapshotter.list()}
    assert orphan not in names(built_root) and published <= names(built_root)


def test_successive_no_cache_reruns_leave_one_rerun_snapshot_per_step_the_one_its_record_names(
        built_root: Path, tmp_path: Path) -> None:
    text = two_changing_steps(tmp_path)
    build_in(built_root, tmp_path / "context", text, no_cache=False)
    for number in (1, 2, 3):
        services, _ = build_in(built_root, tmp_path / "context", text, no_cache=True)
        reruns = rerun_snapshots(services)
        assert len(services.cache.used) == 2
        for key_hex, record in services.cache.used.items():
            assert reruns[key_hex] == [record.snapshot] == [f"step-{key_hex}-r{number}"]
            assert f"step-{key_hex}" in names(built_root)  # the first run's: the key's own name


def test_steps_after_a_rerun_see_the_reruns_files_also_below_a_layer_equal_to_the_earlier_one(
        built_root: Path, tmp_path: Path) -> None:
    text = (f"FROM busybox:local\nRUN echo {tmp_path.name} > /a && cat /proc/sys/kernel/random/uuid > /p\n"
            "RUN touch -d @1 /same\nRUN cp /p /q\n")
    _, first = build_in(built_root, tmp_path / "context", text, no_cache=False)
    _, rerun = build_in(built_root, tmp_path / "context", text, no_cache=True)
    *_, made, same, copied = rerun.image.config.diff_ids
    assert same == first.image.config.diff_ids[-2]  # the earlier run's snapshot of it stands on the old /p
    new_p = layer_files(built_root, made)["p"]
    assert new_p != layer_files(built_root, first.image.config.diff_ids[-3])["p"]
    assert layer_files(built_root, copied)["q"] == new_p

    _, later = build_in(built_root, tmp_path / "context", text + "RUN cat /q /same > /z\n", no_cache=False)
    assert later.image.config.diff_ids[:-1] == rerun.image.config.diff_ids  # the re-run's records hit
    assert layer_files(built_root, later.image.config.diff_ids[-1])["z"] == new_p


def test_cache_prune_keeps_the_rerun_snapshots_records_name_and_removes_an_orphan_one(
        built_root: Path, tmp_path: Path) -> None:
    from builder.cache.prune import PrunePolicy, prune_cache

    text = two_changing_steps(tmp_path)
    build_in(built_root, tmp_path / "context", text, no_cache=False)
    services, _ = build_in(built_root, tmp_path / "context", text, no_cache=True)
    published = {record.snapshot for record in services.cache.used.values()}
    key = CacheKey(parse_step_name(sorted(published)[0]).key_hex)
    orphan = commit_step_snapshot(built_root, key, f"step-{key.hex}-r7")  # after the start's sweep
    result = prune_cache(services, PrunePolicy(keep_storage=1 << 60))  # no record goes
    listed = {info.name for info in services.snapshotter.list()}
    assert result.records == 0 and result.snapshots >= 1
    assert orphan not in listed and published <= listed
