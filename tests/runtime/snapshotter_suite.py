"""containerd's snapshotter contract as one suite, run against every implementation (test_snapshots.py)."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import pytest

from runtime.errors import SnapshotError
from runtime.hostmounts import mounted
from runtime.snapshots import Kind, Snapshotter, writable_directory

Factory = Callable[[str], Snapshotter]


def write_layer(snapshotter: Snapshotter, key: str, parent: str | None, files: dict[str, str]) -> None:
    with mounted(snapshotter.prepare(key, parent)) as root:
        for name, text in files.items():
            path = Path(root, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


def read_tree(root: str) -> dict[str, str]:
    found = {}
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, root)] = Path(path).read_text()
    return found


class SnapshotterContract:
    factory: Factory

    @pytest.fixture
    def snapshotter(self, tmp_path: Path) -> Snapshotter:
        return type(self).factory(str(tmp_path / "snapshots"))

    def test_prepare_commit_view_shows_the_stacked_content(self, snapshotter: Snapshotter) -> None:
        write_layer(snapshotter, "a-active", None, {"base.txt": "base", "over.txt": "old"})
        snapshotter.commit("a", "a-active")
        write_layer(snapshotter, "b-active", "a", {"over.txt": "new", "dir/added.txt": "added"})
        snapshotter.commit("b", "b-active")
        with mounted(snapshotter.view("b-view", "b")) as root:
            assert read_tree(root) == {"base.txt": "base", "over.txt": "new", "dir/added.txt": "added"}

    def test_stat_reports_kind_and_parent(self, snapshotter: Snapshotter) -> None:
        snapshotter.prepare("a-active")
        assert snapshotter.stat("a-active").kind is Kind.ACTIVE
        snapshotter.commit("a", "a-active")
        info = snapshotter.stat("a")
        assert (info.name, info.kind, info.parent) == ("a", Kind.COMMITTED, None)
        snapshotter.view("v", "a")
        assert (snapshotter.stat("v").kind, snapshotter.stat("v").parent) == (Kind.VIEW, "a")
        with pytest.raises(SnapshotError):
            snapshotter.stat("a-active")  # the key is gone after commit

    def test_keys_are_unique(self, snapshotter: Snapshotter) -> None:
        snapshotter.prepare("x")
        with pytest.raises(SnapshotError, match="already exists"):
            snapshotter.prepare("x")
        snapshotter.commit("c", "x")
        with pytest.raises(SnapshotError, match="already exists"):
            snapshotter.view("c", None)

    def test_parent_must_be_committed(self, snapshotter: Snapshotter) -> None:
        snapshotter.prepare("active")
        with pytest.raises(SnapshotError, match="not committed"):
            snapshotter.prepare("child", "active")
        with pytest.raises(SnapshotError, match="does not exist"):
            snapshotter.prepare("child", "missing")

    def test_views_and_committed_snapshots_cannot_be_committed(self, snapshotter: Snapshotter) -> None:
        snapshotter.prepare("a-active")
        snapshotter.commit("a", "a-active")
        snapshotter.view("v", "a")
        with pytest.raises(SnapshotError, match="not active"):
            snapshotter.commit("v2", "v")
        with pytest.raises(SnapshotError, match="not active"):
            snapshotter.commit("a2", "a")

    def test_committed_snapshots_cannot_be_mounted(self, snapshotter: Snapshotter) -> None:
        snapshotter.prepare("a-active")
        snapshotter.commit("a", "a-active")
        with pytest.raises(SnapshotError, match="committed"):
            snapshotter.mounts("a")

    def test_remove_needs_children_removed_first(self, snapshotter: Snapshotter) -> None:
        snapshotter.prepare("a-active")
        snapshotter.commit("a", "a-active")
        snapshotter.prepare("child", "a")
        with pytest.raises(SnapshotError, match="children"):
            snapshotter.remove("a")
        snapshotter.remove("child")
        snapshotter.remove("a")
        assert snapshotter.list() == []

    def test_background_removal_forgets_at_once_and_deletes_soon(self, snapshotter: Snapshotter) -> None:
        write_layer(snapshotter, "a-active", None, {f"d/f{n}": str(n) for n in range(200)})
        snapshot_directory = Path(snapshotter.own_directory("a-active")).parent  # <snapshots>/<id>/fs
        snapshotter.remove("a-active", background=True)
        assert snapshotter.list() == []
        deadline = time.monotonic() + 20
        while snapshot_directory.exists() or any(snapshot_directory.parent.glob("rm-*")):
            assert time.monotonic() < deadline, "the detached removal did not finish"
            time.sleep(0.05)

    def test_view_is_read_only(self, snapshotter: Snapshotter) -> None:
        write_layer(snapshotter, "a-active", None, {"f": "x"})
        snapshotter.commit("a", "a-active")
        with mounted(snapshotter.view("v", "a")) as root:
            with pytest.raises(OSError):
                Path(root, "g").write_text("y")

    def test_changes_in_a_child_do_not_touch_the_parent(self, snapshotter: Snapshotter) -> None:
        write_layer(snapshotter, "a-active", None, {"f": "parent"})
        snapshotter.commit("a", "a-active")
        with mounted(snapshotter.prepare("b", "a")) as root:
            Path(root, "f").write_text("child")
            os.unlink(Path(root, "f"))
        with mounted(snapshotter.view("v", "a")) as root:
            assert read_tree(root) == {"f": "parent"}

    def test_cleanup_removes_orphaned_directories(self, snapshotter: Snapshotter, tmp_path: Path) -> None:
        snapshotter.prepare("kept")
        orphan = tmp_path / "snapshots" / "snapshots" / "new-crashed"
        orphan.mkdir()
        snapshotter.cleanup()
        assert not orphan.exists()
        assert [info.name for info in snapshotter.list()] == ["kept"]
        assert snapshotter.mounts("kept")

    def test_own_directories_take_writes_and_hold_committed_files(self, snapshotter: Snapshotter) -> None:
        write_layer(snapshotter, "a-active", None, {"base.txt": "base"})
        snapshotter.commit("a", "a-active")
        write_layer(snapshotter, "b-active", "a", {"dir/added.txt": "added"})
        mounts = snapshotter.mounts("b-active")
        own = snapshotter.own_directory("b-active")
        assert writable_directory(mounts) == own
        Path(own, "unmounted.txt").write_text("written while unmounted")
        with mounted(mounts) as root:  # what went into the own directory is the snapshot's content
            assert Path(root, "unmounted.txt").read_text() == "written while unmounted"
        snapshotter.commit("b", "b-active")
        committed = snapshotter.own_directory("b")
        assert committed == own
        assert Path(committed, "dir", "added.txt").read_text() == "added"
        assert os.stat(committed).st_dev == os.stat(snapshotter.own_directory("a")).st_dev  # hardlinks work
        snapshotter.view("v", "b")
        with pytest.raises(SnapshotError, match="view"):
            snapshotter.own_directory("v")

    def test_a_child_never_shares_an_inode_it_can_change_with_its_parent(self, snapshotter: Snapshotter) -> None:
        write_layer(snapshotter, "a-active", None, {"f": "parent"})
        snapshotter.commit("a", "a-active")
        parent_file = Path(snapshotter.own_directory("a"), "f")
        with mounted(snapshotter.prepare("b", "a")) as root:
            with open(Path(root, "f"), "r+") as handle:  # in place: overlay copies up, native has a copy
                handle.write("child!")
            os.chmod(Path(root, "f"), 0o600)
        assert parent_file.read_text() == "parent"
        assert parent_file.stat().st_mode & 0o777 != 0o600
