"""``pybuild history``: docker's columns, sizes and truncation."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from outputs_images import Entry, layer_tar, store_image
from registry_commands_support import Pybuild, assert_clean_failure

from builder.commands.history import ellipsis, table
from builder.imagestore import ImageStore

LONG_STEP = "RUN /bin/sh -c apt-get update && apt-get install -y curl # buildkit"


@pytest.fixture()
def pybuild(tmp_path: Path) -> Pybuild:
    return Pybuild(tmp_path / "root", tmp_path / "docker")


@pytest.fixture()
def image_id(pybuild: Pybuild) -> str:
    layers = [layer_tar([Entry("a", data=b"x" * 1500), Entry("l", "symlink", target="abc")]),
              layer_tar([Entry("b", data=b"y" * 20), Entry("h", "hardlink", target="b")])]
    descriptor = store_image(pybuild.root, layers, "app:1", created_by=("ADD rootfs / # buildkit", LONG_STEP))
    return str(ImageStore(pybuild.root).image(descriptor).image_id)


def ok(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_history_table(pybuild: Pybuild, image_id: str) -> None:
    lines = ok(pybuild("history", "app:1"))
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith(image_id[7:19] + "   ")
    assert "RUN /bin/sh -c apt-get update && apt-get ins…" in lines[1]
    assert "20B" in lines[1] and "1.5kB" in lines[2]  # file bytes + symlink target, hard link once
    assert lines[2].startswith("<missing>")
    assert lines[1].endswith("buildkit.dockerfile.v0")
    assert lines[0].index("CREATED BY") == lines[1].index("RUN")


def test_history_raw_and_quiet(pybuild: Pybuild, image_id: str) -> None:
    lines = ok(pybuild("history", "--no-trunc", "-H", "false", "app:1"))
    assert lines[1].startswith(image_id) and LONG_STEP in lines[1] and "2024-01-01T00:00:00Z" in lines[1]
    assert " 1503 " in lines[2]
    assert ok(pybuild("history", "-q", "app:1")) == [image_id[7:19], "<missing>"]


def test_history_of_an_unknown_image(pybuild: Pybuild) -> None:
    assert_clean_failure(pybuild("history", "nope"), 2, "nope")


def test_ellipsis_and_table_layout() -> None:
    assert ellipsis("abcdef", 4) == "abc…" and ellipsis("abc", 4) == "abc"
    assert table([("A", "BB", "C"), ("aaaa", "b", "")]) == ["A         BB        C", "aaaa      b         "]
