"""A context COPY re-run after an edit links the unchanged files from its previous run (builder.copy.reuse).

Every test checks both sides: the inodes shared with the previous run's snapshot, and that the
result (layer bytes, image ID, later snapshots) is exactly what a copy without reuse gives.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from builder.cache.check import check_cache
from builder.cache.lineage import LineageStore
from builder.cache.prune import PrunePolicy, prune_cache
from builder.frontend.dockerfile import DockerfileSource
from builder.services import Services, open_services
from builder.solve import BuildRequest, BuildResult, build
from registry_client import ContentStore, Digest
from runtime import NativeSnapshotter
from tests.builder.cache_store_support import start_build
from tests.support.images import flatten, import_busybox

pytestmark = pytest.mark.privileged

EPOCH = 4_000_000_000  # history times fixed, file mtimes (all earlier) kept as they are
COPY_APP = "FROM busybox:local\nCOPY . /app/\n"


@pytest.fixture
def fresh_root(tmp_path: Path, busybox_tar: Path) -> Callable[[str], Path]:
    """Roots holding the very same busybox:local (an import records its time: import only once)."""
    template = tmp_path / "template"
    import_busybox(template, busybox_tar)
    return lambda name: Path(shutil.copytree(template, tmp_path / name, symlinks=True))


@pytest.fixture
def context(tmp_path: Path) -> Path:
    context = tmp_path / "context"
    (context / "sub" / "deep").mkdir(parents=True)
    for name in ("keep.txt", "edit.txt", "gone.txt", "mode.txt", "touch.txt", "sub/deep/nested.txt"):
        (context / name).write_text(f"{name}\n")
    os.chmod(context / "sub" / "deep" / "nested.txt", 0o640)
    os.symlink("keep.txt", context / "link")
    (context / "empty").mkdir()
    age(context)
    return context


def age(context: Path) -> None:
    """Old times on the context's directories: a link made into one now would show in its mtime."""
    for directory in [context, *(p for p in context.rglob("*") if p.is_dir() and not p.is_symlink())]:
        os.utime(directory, (1_000_000_000, 1_000_000_000))


def run(root: Path, context: Path, dockerfile: str, services: Services | None = None, epoch: int = EPOCH,
        **options: object) -> BuildResult:
    services = services or open_services(root)
    request = BuildRequest(source=DockerfileSource("Dockerfile", None, dockerfile), context=context,
                           source_date_epoch=epoch, **options)  # type: ignore[arg-type]
    return build(request, services)


def copy_snapshot_dir(root: Path, services: Services | None = None) -> Path:
    """The own directory of the snapshot the newest context COPY committed (its lineage record's)."""
    services = services or open_services(root)
    store = LineageStore(root)
    records = [store.read(path.stem) for path in store.directory.glob("*.marshal")]
    newest = max((r for r in records if r is not None), key=lambda r: services.snapshotter.stat(r.snapshot).created)
    return Path(services.snapshotter.own_directory(newest.snapshot))


def inodes(directory: Path) -> dict[str, int]:
    return {str(p.relative_to(directory)): p.lstat().st_ino for p in directory.rglob("*") if p.is_file()
            and not p.is_symlink()}


def layer_members(root: Path, diff_id: object) -> list[tarfile.TarInfo]:
    with ContentStore(root).open(diff_id) as blob, tarfile.open(fileobj=blob, mode="r|") as tar:  # type: ignore[arg-type]
        return list(tar)


def edit(context: Path) -> None:
    (context / "edit.txt").write_text("edited, longer\n")
    (context / "gone.txt").unlink()
    (context / "new.txt").write_text("new\n")
    os.chmod(context / "mode.txt", 0o600)
    stamp = (context / "touch.txt").stat()
    os.utime(context / "touch.txt", ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 5_000_000_000))
    age(context)


def test_one_file_edit_links_the_rest_and_matches_a_fresh_copy(fresh_root: Callable[[str], Path], context: Path,
                                                              tmp_path: Path) -> None:
    root = fresh_root("reused")
    run(root, context, COPY_APP)
    first_dir = copy_snapshot_dir(root)
    before = inodes(first_dir / "app")
    edit(context)
    reused = run(root, context, COPY_APP, tags=("reuse:edited",))
    second_dir = copy_snapshot_dir(root)
    after = inodes(second_dir / "app")
    assert second_dir != first_dir
    assert after["keep.txt"] == before["keep.txt"] and after["sub/deep/nested.txt"] == before["sub/deep/nested.txt"]
    for changed in ("edit.txt", "mode.txt", "touch.txt"):  # content, mode, mtime: a fresh copy each
        assert after[changed] != before[changed], changed
    assert "new.txt" in after and "gone.txt" not in after
    assert (second_dir / "app" / "touch.txt").stat().st_mtime_ns == (context / "touch.txt").stat().st_mtime_ns
    assert (second_dir / "app" / "mode.txt").stat().st_mode & 0o777 == 0o600
    assert (first_dir / "app" / "edit.txt").read_text() == "edit.txt\n"  # the previous run untouched

    fresh = run(fresh_root("fresh"), context, COPY_APP)
    assert reused.image.config.diff_ids == fresh.image.config.diff_ids
    assert reused.image.image_id == fresh.image.image_id
    assert not any(member.islnk() for member in layer_members(root, reused.image.config.diff_ids[-1]))
    tree = flatten(root, "reuse:edited", tmp_path / "tree")
    assert (tree / "app" / "edit.txt").read_text() == "edited, longer\n"
    assert os.readlink(tree / "app" / "link") == "keep.txt" and (tree / "app" / "empty").is_dir()


def test_chown_chmod_and_a_dest_through_a_base_symlink(fresh_root: Callable[[str], Path], context: Path) -> None:
    dockerfile = ("FROM busybox:local\nRUN mkdir -p /srv/data && echo base > /srv/data/edit.txt && "
                  "ln -s /srv/data /data && chmod 0711 /srv\n"
                  "COPY --chown=1000:1001 --chmod=0750 . /data/\n")
    past = 1_500_000_000  # clamps the RUN's times: its layer is the same on every root
    root = fresh_root("reused")
    run(root, context, dockerfile, epoch=past)
    before = inodes(copy_snapshot_dir(root) / "srv" / "data")
    edit(context)
    reused = run(root, context, dockerfile, epoch=past)
    directory = copy_snapshot_dir(root) / "srv" / "data"
    after = inodes(directory)
    assert after["keep.txt"] == before["keep.txt"]
    assert after["edit.txt"] != before["edit.txt"]
    linked = (directory / "keep.txt").stat()
    assert (linked.st_uid, linked.st_gid, linked.st_mode & 0o7777) == (1000, 1001, 0o750)
    fresh = run(fresh_root("fresh"), context, dockerfile, epoch=past)
    assert reused.image.config.diff_ids == fresh.image.config.diff_ids
    assert reused.image.image_id == fresh.image.image_id


def test_a_later_run_changing_a_linked_file_leaves_both_copies_alone(fresh_root: Callable[[str], Path],
                                                                   context: Path, tmp_path: Path) -> None:
    dockerfile = COPY_APP + "RUN echo changed >> /app/keep.txt && chmod 0600 /app/sub/deep/nested.txt\n"
    root = fresh_root("root")
    first = run(root, context, dockerfile, tags=("reuse:first",))
    first_dir = copy_snapshot_dir(root)
    edit(context)
    run(root, context, dockerfile, tags=("reuse:second",))
    second_dir = copy_snapshot_dir(root)
    assert (second_dir / "app/keep.txt").stat().st_ino == (first_dir / "app/keep.txt").stat().st_ino
    for directory in (first_dir, second_dir):
        assert (directory / "app/keep.txt").read_text() == "keep.txt\n"
        assert (directory / "app/sub/deep/nested.txt").stat().st_mode & 0o777 == 0o640
    copy_layer = {m.name: m for m in layer_members(root, first.image.config.diff_ids[-2])}
    assert copy_layer["app/keep.txt"].size == len("keep.txt\n")
    tree = flatten(root, "reuse:second", tmp_path / "second")
    assert (tree / "app/keep.txt").read_text() == "keep.txt\nchanged\n"
    assert check_cache(open_services(root)).problems == ()


def test_pruned_previous_run_means_a_plain_copy(fresh_root: Callable[[str], Path], context: Path) -> None:
    root = fresh_root("root")
    run(root, context, COPY_APP)
    services = open_services(root)
    prune_cache(services, PrunePolicy())  # every record, the step snapshot and its lineage record
    assert list(LineageStore(root).directory.glob("*.marshal")) == []
    edit(context)
    rebuilt = run(root, context, COPY_APP)
    assert all(p.stat().st_nlink == 1 for p in (copy_snapshot_dir(root) / "app").rglob("*.txt"))
    # a record naming a snapshot removed behind its back: no reuse either, and no error
    (context / "edit.txt").write_text("again\n")
    services = open_services(root)
    services.snapshotter.remove(LineageStore(root).read(next(LineageStore(root).directory.glob("*.marshal")).stem)
                                .snapshot)  # type: ignore[union-attr]
    again = run(root, context, COPY_APP)
    assert again.image.config.diff_ids[-1] != rebuilt.image.config.diff_ids[-1]
    assert all(p.stat().st_nlink == 1 for p in (copy_snapshot_dir(root) / "app").rglob("*.txt"))
    assert check_cache(open_services(root), fix=True).problems == ()


def test_no_cache_copies_everything_afresh(fresh_root: Callable[[str], Path], context: Path) -> None:
    root = fresh_root("root")
    run(root, context, COPY_APP)
    before = inodes(copy_snapshot_dir(root) / "app")
    edit(context)
    run(root, context, COPY_APP, no_cache=True)
    after = inodes(copy_snapshot_dir(root) / "app")
    assert not set(before.values()) & set(after.values())


def test_native_snapshotter_links_too(fresh_root: Callable[[str], Path], context: Path, tmp_path: Path) -> None:
    dockerfile = COPY_APP + "RUN echo changed >> /app/keep.txt\n"

    def native(root: Path) -> Services:
        services = open_services(root)
        return dataclasses.replace(services, snapshotter=NativeSnapshotter(str(root / "snapshots" / "native")))

    root = fresh_root("native")
    run(root, context, dockerfile, native(root))
    first_dir = copy_snapshot_dir(root, native(root))
    edit(context)
    reused = run(root, context, dockerfile, native(root), tags=("reuse:native",))
    second_dir = copy_snapshot_dir(root, native(root))
    assert (second_dir / "app/keep.txt").stat().st_ino == (first_dir / "app/keep.txt").stat().st_ino
    assert (first_dir / "app/keep.txt").read_text() == "keep.txt\n"
    fresh_root_dir = fresh_root("native-fresh")
    fresh = run(fresh_root_dir, context, dockerfile, native(fresh_root_dir))
    assert reused.image.config.diff_ids[:-1] == fresh.image.config.diff_ids[:-1]


def test_concurrent_rebuilds_on_one_root(fresh_root: Callable[[str], Path], context: Path, tmp_path: Path) -> None:
    root = fresh_root("root")
    run(root, context, COPY_APP)
    edit(context)
    copies = []
    for index in range(2):
        other = Path(shutil.copytree(context, tmp_path / f"context-{index}", symlinks=True))
        (other / "Dockerfile").write_text(COPY_APP)
        (other / "edit.txt").write_text(f"build {index}\n")
        copies.append(other)
    processes = [start_build(root, other, "Dockerfile", tmp_path / f"iid-{index}", "-t", f"reuse:c{index}")
                 for index, other in enumerate(copies)]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    for index in range(2):
        tree = flatten(root, f"reuse:c{index}", tmp_path / f"tree-{index}")
        assert (tree / "app/edit.txt").read_text() == f"build {index}\n"
        assert (tree / "app/keep.txt").read_text() == "keep.txt\n"
    assert check_cache(open_services(root)).problems == ()


def test_layer_entries_are_recorded_and_a_rebuilt_layer_matches_a_fresh_one(fresh_root: Callable[[str], Path],
                                                                           context: Path) -> None:
    """The layer of a re-run copies its unchanged entries from the previous layer blob (runtime.layerentries)."""
    root = fresh_root("reused")
    first = run(root, context, COPY_APP)
    store = LineageStore(root)
    record = store.read(next(store.directory.glob("*.marshal")).stem)
    assert record is not None and record.layer == str(first.image.config.diff_ids[-1])
    assert record.entries is not None and {"app/keep.txt", "app/sub/deep/nested.txt"} <= set(record.entries)
    edit(context)
    for round_ in range(3):  # each run copies from the one before; the last from a blob deleted meanwhile
        (context / "edit.txt").write_text(f"round {round_}\n")
        if round_ == 2:
            ContentStore(root).delete(Digest.parse(record.layer))  # type: ignore[arg-type]
        reused = run(root, context, COPY_APP)
        fresh = run(fresh_root(f"fresh-{round_}"), context, COPY_APP)
        assert reused.image.image_id == fresh.image.image_id
        record = store.read(next(store.directory.glob("*.marshal")).stem)
        assert record is not None and record.layer == str(reused.image.config.diff_ids[-1])


def test_a_file_that_gained_an_xattr_is_copied_not_linked(fresh_root: Callable[[str], Path], context: Path) -> None:
    """Same content, mode and mtime, but an xattr now: the copy gets it, the previous run's inode is left alone."""
    root = fresh_root("reused")
    run(root, context, COPY_APP)
    first_dir = copy_snapshot_dir(root)
    os.setxattr(context / "keep.txt", "user.note", b"added")
    (context / "edit.txt").write_text("edited\n")
    reused = run(root, context, COPY_APP)
    second_dir = copy_snapshot_dir(root)
    assert (second_dir / "app/keep.txt").stat().st_ino != (first_dir / "app/keep.txt").stat().st_ino
    assert os.getxattr(second_dir / "app/keep.txt", "user.note") == b"added"
    assert os.listxattr(first_dir / "app/keep.txt") == []
    nested = "app/sub/deep/nested.txt"
    assert (second_dir / nested).stat().st_ino == (first_dir / nested).stat().st_ino
    fresh = run(fresh_root("fresh"), context, COPY_APP)
    assert reused.image.image_id == fresh.image.image_id


def test_a_redundant_no_cache_rerun_keeps_the_entry_index_of_the_snapshot_kept(fresh_root: Callable[[str], Path],
                                                                              context: Path) -> None:
    """A --no-cache re-run commits nothing new (the snapshot exists): the index must keep naming that snapshot's inodes."""
    root = fresh_root("root")
    run(root, context, COPY_APP)
    run(root, context, COPY_APP, no_cache=True)
    store = LineageStore(root)
    record = store.read(next(store.directory.glob("*.marshal")).stem)
    assert record is not None and record.entries is not None
    kept = Path(open_services(root).snapshotter.own_directory(record.snapshot))
    assert record.entries["app/keep.txt"][4] == (kept / "app" / "keep.txt").stat().st_ino
    edit(context)
    reused = run(root, context, COPY_APP)
    assert reused.image.image_id == run(fresh_root("fresh"), context, COPY_APP).image.image_id
