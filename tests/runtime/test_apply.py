"""Layer application: plain trees and overlay upperdirs (whiteouts as char 0:0 and opaque xattrs)."""
from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
from layer_trees import describe, make_lower
from test_apply_security import directory, hardlink, reg, symlink

from runtime.apply import apply_layer
from runtime.hostmounts import mounted
from runtime.mounts import Mount
from runtime.overlay import OVERLAY_OPTIONS

pytestmark = pytest.mark.privileged


def _tar(entries: list) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            info.mtime = 1_234_567_890
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    buffer.seek(0)
    return buffer


LAYER = [directory("d", 0o750), reg("d/.wh..wh..opq", b""), reg("d/new", b"n", 0o4755), reg(".wh.f", b""),
         symlink("s", "/etc/passwd"), hardlink("d/h", "d/new")]


def test_apply_onto_a_plain_tree(tmp_path: Path) -> None:
    root = make_lower(tmp_path / "root")
    stats = apply_layer(_tar(LAYER), str(root))
    assert stats.entries == len(LAYER)
    assert sorted(os.listdir(root)) == ["d", "link", "s"]
    assert sorted(os.listdir(root / "d")) == ["h", "new"]
    assert stat.S_IMODE(os.stat(root / "d" / "new").st_mode) == 0o4755
    assert os.stat(root / "d" / "new").st_ino == os.stat(root / "d" / "h").st_ino
    assert os.readlink(root / "s") == "/etc/passwd"
    assert os.stat(root / "d").st_mtime == 1_234_567_890  # directory times are set last
    assert stat.S_IMODE(os.stat(root / "d").st_mode) == 0o750


def test_apply_into_an_overlay_upperdir_converts_whiteouts(tmp_path: Path) -> None:
    lower = make_lower(tmp_path / "lower")
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    apply_layer(_tar(LAYER), str(upper), whiteouts="overlay")
    whiteout = os.lstat(upper / "f")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert os.getxattr(upper / "d", "trusted.overlay.opaque") == b"y"
    options = (f"lowerdir={lower}", f"upperdir={upper}", f"workdir={work}", *OVERLAY_OPTIONS)
    with mounted([Mount("overlay", "overlay", options)]) as merged:
        assert sorted(os.listdir(merged)) == ["d", "link", "s"]
        assert sorted(os.listdir(Path(merged, "d"))) == ["h", "new"]


def test_whiteout_does_not_delete_what_the_same_layer_created(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    apply_layer(_tar([reg("a", b"1"), reg(".wh.a", b"")]), str(root))
    assert (root / "a").read_bytes() == b"1"


def test_layer_lists_the_opaque_marker_right_after_its_directory() -> None:
    assert describe(_tar(LAYER).getvalue())[:2] == ["d/", "d/.wh..wh..opq"]
