"""Fully cached rebuilds answered from the build record, and every change that must bypass it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.images import import_busybox

pytestmark = pytest.mark.privileged

DOCKERFILE = "FROM busybox:local\nCOPY . /app/\nRUN cat /app/a.txt > /copied\n"


def pybuild(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "builder.cli", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def setup(tmp_path: Path, busybox_tar: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    import_busybox(root, busybox_tar)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "a.txt").write_text("one\n")
    return root, context


def build(root: Path, context: Path, *extra: str) -> tuple[str, str]:
    result = pybuild(root, "build", "--progress", "plain", "-t", "replay:1", *extra, str(context))
    assert result.returncode == 0, result.stderr
    image_id = next(line.split()[2] for line in result.stderr.splitlines() if line.startswith("writing image"))
    return image_id, result.stderr


def replayed(log: str) -> bool:
    # A real build prints DONE lines for its steps; a replay only CACHED ones.
    return "DONE" not in log and "CACHED" in log


def test_unchanged_rebuild_is_replayed_with_the_same_image(setup: tuple[Path, Path]) -> None:
    root, context = setup
    first, log = build(root, context)
    assert not replayed(log)
    second, log = build(root, context)
    assert replayed(log) and second == first


def test_edited_file_bypasses_the_record(setup: tuple[Path, Path]) -> None:
    root, context = setup
    first, _ = build(root, context)
    (context / "a.txt").write_text("two\n")
    second, log = build(root, context)
    assert not replayed(log) and second != first


def test_new_file_in_a_copied_directory_bypasses_the_record(setup: tuple[Path, Path]) -> None:
    root, context = setup
    first, _ = build(root, context)
    (context / "b.txt").write_text("new\n")
    second, log = build(root, context)
    assert not replayed(log) and second != first


def test_new_ignore_file_bypasses_the_record(setup: tuple[Path, Path]) -> None:
    root, context = setup
    build(root, context)
    (context / ".dockerignore").write_text("nothing-matches\n")
    _, log = build(root, context)
    assert not replayed(log)


def test_removed_tag_bypasses_the_record(setup: tuple[Path, Path]) -> None:
    root, context = setup
    first, _ = build(root, context)
    assert pybuild(root, "rmi", "replay:1").returncode == 0
    second, log = build(root, context)
    assert not replayed(log) and second == first  # rebuilt from the layer cache, tag restored
    assert pybuild(root, "inspect", "replay:1").returncode == 0


def test_retagged_base_bypasses_the_record(setup: tuple[Path, Path], tmp_path: Path) -> None:
    root, context = setup
    build(root, context)
    other = tmp_path / "other.tar"
    subprocess.run(["tar", "-cf", str(other), "-C", str(context), "a.txt"], check=True)
    assert pybuild(root, "import", str(other), "busybox:local").returncode == 0
    result = pybuild(root, "build", "--progress", "plain", "-t", "replay:1", str(context))
    assert not replayed(result.stderr)  # the new base has no shell, so the RUN now fails
    assert result.returncode != 0


def test_no_cache_never_replays(setup: tuple[Path, Path]) -> None:
    root, context = setup
    build(root, context)
    _, log = build(root, context, "--no-cache")
    assert not replayed(log)
