"""The snapshotter contract for both implementations, and overlay specifics (options, many layers)."""
from __future__ import annotations

from pathlib import Path

import pytest
from snapshotter_suite import SnapshotterContract, read_tree, write_layer

from runtime.hostmounts import mounted
from runtime.native import NativeSnapshotter
from runtime.overlay import OverlaySnapshotter

pytestmark = pytest.mark.privileged


class TestOverlaySnapshotter(SnapshotterContract):
    factory = OverlaySnapshotter


class TestNativeSnapshotter(SnapshotterContract):
    factory = NativeSnapshotter


def test_overlay_mounts_disable_redirect_dir_metacopy_and_index(tmp_path: Path) -> None:
    snapshotter = OverlaySnapshotter(str(tmp_path))
    snapshotter.prepare("a-active")
    snapshotter.commit("a", "a-active")
    [mount] = snapshotter.prepare("b", "a")
    assert mount.type == "overlay"
    assert {"redirect_dir=off", "metacopy=off", "index=off"} <= set(mount.options)


def test_overlay_stacks_more_layers_than_one_page_of_options_allows(tmp_path: Path) -> None:
    root = tmp_path / ("a-deliberately-long-directory-name-" * 3)
    snapshotter = OverlaySnapshotter(str(root))
    parent = None
    for index in range(120):
        write_layer(snapshotter, f"active-{index}", parent, {f"layer-{index}": str(index)})
        snapshotter.commit(f"layer-{index}", f"active-{index}")
        parent = f"layer-{index}"
    [mount] = snapshotter.prepare("top", parent)
    assert len(",".join(mount.options)) > 4096
    with mounted([mount]) as merged:
        tree = read_tree(merged)
    assert tree == {f"layer-{index}": str(index) for index in range(120)}
