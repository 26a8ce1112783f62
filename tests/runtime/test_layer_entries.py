"""Entries copied from the previous layer blob (runtime.layerentries) give exactly the bytes of a rebuilt layer.

Each case writes a tree's layer with an entry index, makes the next tree (mostly hardlinks to the
first one's files, as a context COPY re-run does), and compares the layer written with the previous
blob against the layer written from the files alone: same bytes always, and only the entries that
may be copied are copied.
"""
from __future__ import annotations

import hashlib
import io
import os
import struct
import threading
from pathlib import Path

import pytest

from runtime.changes import EmptyLower, scan
from runtime.diff import DiffStats, write_changes
from runtime.errors import ContainerError
from runtime.layerentries import WINDOW, PreviousLayer
from runtime.taroutput import INLINE_LIMIT

pytestmark = pytest.mark.privileged  # chown and security.capability need root
NET_RAW_CAPABILITY = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)
TIME_NS = 1_600_000_000_123_456_789


def layer(tree: Path, previous: PreviousLayer | None = None, epoch: int | None = None) -> tuple[bytes, DiffStats]:
    out = io.BytesIO()
    stats = write_changes(scan(str(tree), EmptyLower(), full=True), out, epoch, previous, index=True)
    return out.getvalue(), stats


def put(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(TIME_NS, TIME_NS))


@pytest.fixture
def first(tmp_path: Path) -> tuple[Path, PreviousLayer]:
    tree = tmp_path / "first"
    for index in range(12):
        put(tree / "d" / f"f{index:02d}", f"file {index}\n".encode() * (index + 1))
    put(tree / "big", os.urandom(WINDOW + 5000))  # longer than one read: streamed
    put(tree / "big2", os.urandom(WINDOW + 7000))
    put(tree / "e" / "same-size", b"AAAA")
    blob = tmp_path / "first.tar"
    data, stats = layer(tree)
    blob.write_bytes(data)
    assert stats.index is not None and len(stats.index) == 15 and stats.reused == 0
    return tree, PreviousLayer(str(blob), stats.index)


def relink(first: Path, second: Path) -> None:
    """The second tree: every regular file a hardlink to the first tree's (as builder.copy.reuse leaves it)."""
    for directory, _, files in os.walk(first):
        rel = Path(directory).relative_to(first)
        (second / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            os.link(Path(directory) / name, second / rel / name)
    for directory, _, _ in os.walk(first):
        rel = Path(directory).relative_to(first)
        os.utime(second / rel, ns=(TIME_NS, TIME_NS))


def assert_same_as_rebuilt(tree: Path, previous: PreviousLayer, reused: int, epoch: int | None = None) -> DiffStats:
    copied, stats = layer(tree, previous, epoch)
    rebuilt, fresh = layer(tree, None, epoch)
    assert copied == rebuilt
    assert stats.diff_id == fresh.diff_id and stats.index == fresh.index
    assert stats.reused == reused
    return stats


def test_unchanged_files_are_copied_from_the_previous_blob(tmp_path: Path, first) -> None:
    tree, previous = first
    relink(tree, tmp_path / "second")
    stats = assert_same_as_rebuilt(tmp_path / "second", previous, reused=15)
    # The new index points into the new blob: a third layer copies from it just as well.
    blob = tmp_path / "second.tar"
    blob.write_bytes(layer(tmp_path / "second")[0])
    assert stats.index is not None
    put(tmp_path / "second" / "d" / "added", b"new file")
    assert_same_as_rebuilt(tmp_path / "second", PreviousLayer(str(blob), stats.index), reused=15)


@pytest.mark.parametrize("change", ["mode", "owner", "capability", "same size other content", "moved",
                                    "new inode, mtime ns", "big mode"])
def test_a_changed_entry_is_rebuilt_and_the_rest_copied(tmp_path: Path, first, change: str) -> None:
    tree, previous = first
    second = tmp_path / "second"
    relink(tree, second)
    target = second / "d" / "f05"
    if change == "mode":  # the same inode, so its mtime and size match the index: the header tells
        os.chmod(target, 0o600)
    elif change == "owner":
        os.chown(target, 1234, 5678)
    elif change == "capability":
        os.setxattr(target, "security.capability", NET_RAW_CAPABILITY)
    elif change == "same size other content":  # a new inode with the old size, mode and mtime
        os.unlink(target)
        put(target, (tree / "d" / "f05").read_bytes().upper())
        assert target.stat().st_size == (tree / "d" / "f05").stat().st_size
    elif change == "moved":  # the inode is known, but under another path
        os.rename(target, second / "d" / "f05-moved")
    elif change == "new inode, mtime ns":  # a new inode whose mtime differs only below the second
        data = target.read_bytes()
        os.unlink(target)
        put(target, data)
        os.utime(target, ns=(TIME_NS, TIME_NS + 1))
    elif change == "big mode":
        target = second / "big"
        os.chmod(target, 0o600)
    assert_same_as_rebuilt(second, previous, reused=14)


def test_clamped_mtimes_differ_from_the_previous_headers(tmp_path: Path, first) -> None:
    tree, previous = first
    relink(tree, tmp_path / "second")
    assert_same_as_rebuilt(tmp_path / "second", previous, reused=0, epoch=1_500_000_000)


def test_a_missing_or_short_previous_blob_means_rebuilding(tmp_path: Path, first) -> None:
    tree, previous = first
    relink(tree, tmp_path / "second")
    assert_same_as_rebuilt(tmp_path / "second", PreviousLayer(str(tmp_path / "pruned.tar"), previous.entries), 0)
    short = tmp_path / "short.tar"
    short.write_bytes(Path(previous.blob).read_bytes()[:-1025])  # the end and the last entry ("e/same-size") cut
    assert_same_as_rebuilt(tmp_path / "second", PreviousLayer(str(short), previous.entries), reused=14)


@pytest.mark.parametrize("reusing", [False, True])
def test_a_file_that_shrinks_while_written_fails_the_layer(tmp_path: Path, first, reusing: bool) -> None:
    """The writer thread's failure reaches the differ, whether it read the file itself or rebuilt a copied entry."""
    tree, previous = first
    second = tmp_path / "second"
    relink(tree, second)
    if reusing:  # the old header no longer matches, so the writer rebuilds "big" from the file
        os.chmod(second / "big", 0o600)
    changes = scan(str(second), EmptyLower(), full=True)
    with open(second / "big", "r+b") as handle:
        handle.truncate(100)
    with pytest.raises(ContainerError, match="big changed size"):
        write_changes(changes, io.BytesIO(), None, previous if reusing else None)


def test_xattrs_checked_skips_the_capability_lookup_but_never_writes_a_header_without_one(tmp_path: Path,
                                                                                        first) -> None:
    tree, previous = first
    second = tmp_path / "second"
    relink(tree, second)
    checked = PreviousLayer(previous.blob, previous.entries, xattrs_checked=True)
    assert_same_as_rebuilt(second, checked, reused=15)
    # Broken promise (the linking step checks there are none): a capability on a copied inode whose
    # header changed too. The header made without the lookup must not be written.
    os.chmod(second / "d" / "f05", 0o600)
    os.setxattr(second / "d" / "f05", "security.capability", NET_RAW_CAPABILITY)
    with pytest.raises(ContainerError, match="gained a security.capability"):
        layer(second, checked)


def test_many_small_runs_past_the_inline_limit_keep_their_order(tmp_path: Path) -> None:
    """Every other file a new inode: the layer is handed over as dozens of small pieces (a copied run,
    then fresh bytes, ...), more than the writer queue holds when they pass ``INLINE_LIMIT`` together."""
    tree = tmp_path / "first"
    for index in range(48):
        put(tree / f"f{index:02d}", os.urandom(40_000))
    blob = tmp_path / "first.tar"
    data, stats = layer(tree)
    blob.write_bytes(data)
    assert stats.index is not None and len(data) > INLINE_LIMIT
    second = tmp_path / "second"
    relink(tree, second)
    for index in range(0, 48, 2):  # same content, mode and mtime, but another inode: written afresh
        target = second / f"f{index:02d}"
        content = target.read_bytes()
        os.unlink(target)
        put(target, content)
    assert_same_as_rebuilt(second, PreviousLayer(str(blob), stats.index), reused=24)


class ThreadRecordingSink(io.BytesIO):
    """A layer destination that remembers which threads wrote to it."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.threads.add(threading.current_thread().name)
        return super().write(data)


@pytest.mark.parametrize("size, writers", [(5_000, {"MainThread"}), (INLINE_LIMIT, {"layer-writer"})])
def test_a_small_layer_is_written_by_the_caller_and_a_big_one_by_the_helper_thread(tmp_path: Path, size: int,
                                                                                   writers: set[str]) -> None:
    put(tmp_path / "tree" / "file", os.urandom(size))
    sink = ThreadRecordingSink()
    stats = write_changes(scan(str(tmp_path / "tree"), EmptyLower(), full=True), sink)
    assert sink.threads == writers
    assert stats.diff_id == "sha256:" + hashlib.sha256(sink.getvalue()).hexdigest()
    assert stats.size == len(sink.getvalue()) and stats.entries == 1


def test_a_small_layer_whose_file_shrinks_fails_on_the_callers_thread(tmp_path: Path) -> None:
    put(tmp_path / "tree" / "file", b"x" * 5_000)
    changes = scan(str(tmp_path / "tree"), EmptyLower(), full=True)
    os.truncate(tmp_path / "tree" / "file", 100)
    sink = ThreadRecordingSink()
    with pytest.raises(ContainerError, match="file changed size"):
        write_changes(changes, sink)
    assert sink.threads <= {"MainThread"}
