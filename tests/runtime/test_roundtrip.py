"""Property: applying a RUN's layer onto its lower reproduces the upper tree exactly."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from layer_trees import diff_native, diff_overlay, dump_tree, make_lower, move

from runtime.apply import apply_layer

pytestmark = pytest.mark.privileged
NAMES = ["f", "d", "d/y", "d/sub", "d/sub/x", "link", "n", "d/n", "e", "d/sub/n"]


def _touches_a_symlink(root: Path, *paths: Path) -> bool:
    """Generated steps run on the host: never let one follow a symlink (``d -> /etc``) out of the tree."""
    for path in paths:
        current = path
        while current != root:
            if current.is_symlink():
                return True
            current = current.parent
    return False


def _do(root: Path, op: tuple) -> None:
    kind, name, extra = op
    path = root / name
    other = root / extra if kind in ("hardlink", "move") else path
    acts_on_the_link_itself = kind in ("remove", "chown")
    if _touches_a_symlink(root, path.parent, other.parent) or (
            not acts_on_the_link_itself and _touches_a_symlink(root, path, other)):
        return
    try:
        if kind == "write" and not path.is_fifo():  # writing a fifo without a reader blocks forever
            path.write_text(extra)
        elif kind == "chmod" and not path.is_symlink():  # Linux cannot chmod a symlink itself
            os.chmod(path, extra)
        elif kind == "chown":
            os.chown(path, extra, extra, follow_symlinks=False)
        elif kind == "remove":
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        elif kind == "mkdir":
            path.mkdir()
        elif kind == "symlink":
            path.symlink_to(extra)
        elif kind == "hardlink":
            os.link(root / extra, path, follow_symlinks=False)
        elif kind == "move":
            move(path, root / extra)
        elif kind == "fifo":
            os.mkfifo(path)
    except OSError:
        pass  # the generated step does not apply to this tree (e.g. the parent is gone): skip it


operations = st.lists(st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), st.text("ab\n", max_size=5)),
    st.tuples(st.just("chmod"), st.sampled_from(NAMES), st.sampled_from([0o600, 0o755, 0o4755, 0o1777])),
    st.tuples(st.just("chown"), st.sampled_from(NAMES), st.sampled_from([0, 1000])),
    st.tuples(st.just("remove"), st.sampled_from(NAMES), st.none()),
    st.tuples(st.just("mkdir"), st.sampled_from(NAMES), st.none()),
    st.tuples(st.just("symlink"), st.sampled_from(NAMES), st.sampled_from(["f", "/etc", "../x"])),
    st.tuples(st.just("hardlink"), st.sampled_from(NAMES), st.sampled_from(["f", "d/y", "d/sub/x"])),
    st.tuples(st.just("move"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("fifo"), st.sampled_from(NAMES), st.none()),
), max_size=8)


def _roundtrip(differ, ops: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        lower = make_lower(base / "lower")
        (base / "work").mkdir()
        layer, _, expected = differ(lower, base / "work", lambda root: [_do(root, op) for op in ops])
        result = base / "result"
        subprocess.run(["cp", "-a", str(lower), str(result)], check=True)
        apply_layer(io.BytesIO(layer), str(result))
        assert dump_tree(result) == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_overlay_layer_roundtrip(ops: list[tuple]) -> None:
    _roundtrip(diff_overlay, ops)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_native_layer_roundtrip(ops: list[tuple]) -> None:
    _roundtrip(diff_native, ops)
