"""Filesystem changes -> expected layer entries, for overlay upperdirs and native full copies."""
from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest
from layer_trees import describe, diff_native, diff_overlay, make_lower, members, move

pytestmark = pytest.mark.privileged
# VFS_CAP_REVISION_2 with CAP_NET_RAW permitted and effective, as `setcap cap_net_raw+ep` writes it
NET_RAW_CAPABILITY = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)


def _write(path: Path, text: str) -> None:
    path.write_text(text)


def _recreate(root: Path) -> None:
    shutil.rmtree(root / "d")
    (root / "d").mkdir()
    _write(root / "d" / "new", "n")


def _dir_to_symlink(root: Path) -> None:
    shutil.rmtree(root / "d")
    (root / "d").symlink_to("f")


def _dir_to_file(root: Path) -> None:
    shutil.rmtree(root / "d")
    _write(root / "d", "now a file")


def _setcap(root: Path) -> None:
    _write(root / "ping", "binary")
    os.setxattr(root / "ping", "security.capability", NET_RAW_CAPABILITY)


def _false_change(root: Path) -> None:
    os.rename(root / "f", root / "g")
    os.rename(root / "g", root / "f")


CASES = {
    "create": (lambda r: _write(r / "new.txt", "new"), ["new.txt"], None),
    "modify": (lambda r: _write(r / "f", "changed"), ["f"], None),
    "chmod": (lambda r: os.chmod(r / "f", 0o4755), ["f"], None),
    "chown": (lambda r: os.chown(r / "f", 1000, 1000), ["f"], None),
    "delete file": (lambda r: os.unlink(r / "f"), [".wh.f"], None),
    "delete dir": (lambda r: shutil.rmtree(r / "d"), [".wh.d"], None),
    "delete nested": (lambda r: os.unlink(r / "d" / "sub" / "x"), ["d/", "d/sub/", "d/sub/.wh.x"], None),
    "dir to file": (_dir_to_file, ["d"], None),
    "dir to symlink": (_dir_to_symlink, ["d -> f"], None),
    "rm -rf and recreate": (_recreate, ["d/", "d/.wh..wh..opq", "d/new"], ["d/", "d/.wh.sub", "d/.wh.y", "d/new"]),
    "hardlink": (lambda r: os.link(r / "f", r / "f2"), ["f", "f2 => f"], None),
    "fifo": (lambda r: os.mkfifo(r / "pipe"), ["pipe|"], None),
    "device node": (lambda r: os.mknod(r / "null", 0o666 | 0o020000, os.makedev(1, 3)), ["null c 1:3"], None),
    "setcap": (_setcap, ["ping"], None),
    "rename dir": (lambda r: move(r / "d", r / "e"), [".wh.d", "e/", "e/sub/", "e/sub/x", "e/y"], None),
    "false change": (_false_change, [], None),
    "socket is skipped": (lambda r: __import__("socket").socket(1).bind(str(r / "sock")), [], None),
}


@pytest.mark.parametrize("differ", ["overlay", "native"])
@pytest.mark.parametrize("case", CASES)
def test_change_maps_to_expected_entries(tmp_path: Path, differ: str, case: str) -> None:
    operation, expected, native_expected = CASES[case]
    lower = make_lower(tmp_path / "lower")
    (tmp_path / "work").mkdir()
    layer, stats, _ = (diff_overlay if differ == "overlay" else diff_native)(lower, tmp_path / "work", operation)
    assert describe(layer) == (native_expected if differ == "native" and native_expected else expected)
    assert stats.entries == len(expected if differ == "overlay" or not native_expected else native_expected)


@pytest.mark.parametrize("differ", [diff_overlay, diff_native])
def test_entry_metadata(tmp_path: Path, differ) -> None:
    lower = make_lower(tmp_path / "lower")
    (tmp_path / "work").mkdir()

    def operation(root: Path) -> None:
        os.chmod(root / "f", 0o4755)
        os.chown(root / "d" / "y", 1000, 2000)
        os.unlink(root / "d" / "sub" / "x")
        _setcap(root)

    layer, _, _ = differ(lower, tmp_path / "work", operation)
    entries = members(layer)
    assert entries["f"].mode == 0o4755
    assert (entries["d/y"].uid, entries["d/y"].gid, entries["d/y"].uname, entries["d/y"].gname) == (1000, 2000, "", "")
    whiteout = entries["d/sub/.wh.x"]
    assert (whiteout.mode, whiteout.size, whiteout.mtime, whiteout.isreg()) == (0, 0, 0, True)
    capability = entries["ping"].pax_headers["SCHILY.xattr.security.capability"]
    assert capability.encode("utf-8", "surrogateescape") == NET_RAW_CAPABILITY


def test_whiteouts_are_never_written_as_hardlinks(tmp_path: Path) -> None:
    """All whiteouts of an overlay mount share one inode; they must still be separate .wh. entries."""
    lower = make_lower(tmp_path / "lower")
    (tmp_path / "work").mkdir()

    def operation(root: Path) -> None:
        os.unlink(root / "f")
        os.unlink(root / "link")
        os.unlink(root / "d" / "y")

    layer, _, _ = diff_overlay(lower, tmp_path / "work", operation)
    assert describe(layer) == [".wh.f", ".wh.link", "d/", "d/.wh.y"]


def test_layers_are_reproducible_with_source_date_epoch(tmp_path: Path) -> None:
    import io

    from runtime.changes import EmptyLower, scan
    from runtime.diff import write_changes

    tree = tmp_path / "tree"
    tree.mkdir()
    _write(tree / "a", "same")
    first = io.BytesIO()
    write_changes(scan(str(tree), EmptyLower(), full=True), first, source_date_epoch=1_000)
    os.utime(tree / "a", (2_000_000_000, 2_000_000_000))
    second = io.BytesIO()
    stats = write_changes(scan(str(tree), EmptyLower(), full=True), second, source_date_epoch=1_000)
    assert first.getvalue() == second.getvalue()
    assert members(second.getvalue())["a"].mtime == 1_000
    import hashlib

    assert stats.diff_id == "sha256:" + hashlib.sha256(second.getvalue()).hexdigest()
    assert stats.size == len(second.getvalue())
