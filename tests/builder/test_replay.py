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


def test_removed_file_in_a_subdirectory_bypasses_the_record(setup: tuple[Path, Path]) -> None:
    root, context = setup
    (context / "sub").mkdir()
    (context / "sub" / "b.txt").write_text("b\n")
    first, _ = build(root, context)
    (context / "sub" / "b.txt").unlink()
    second, log = build(root, context)
    assert not replayed(log) and second != first


def _context_with_files(context: Path, count: int) -> list[str]:
    relpaths = []
    for index in range(count):
        directory = context / f"d{index % 7}"
        directory.mkdir(exist_ok=True)
        (directory / f"f{index}").write_text(f"{index}\n")
        relpaths.append(f"d{index % 7}/f{index}")
    return relpaths + [f"d{index}" for index in range(7)]


def test_context_record_notices_a_change_in_any_block(tmp_path: Path) -> None:
    from builder.replay.records import context_record, context_unchanged

    relpaths = _context_with_files(tmp_path, 3000)  # three blocks of signatures
    record = {"context": str(tmp_path), **context_record(str(tmp_path), relpaths, None)}
    assert len(record["context_digests"]) == 3 and context_unchanged(record)
    last = sorted(relpaths)[-1]
    (tmp_path / last).write_text("edited, and longer\n")
    assert not context_unchanged(record)


def test_context_record_keeps_the_signatures_the_walk_saw(tmp_path: Path) -> None:
    """A file edited after the build's walk (mid-build) must not replay the build that read it before."""
    from builder.context.local import BuildContext
    from builder.replay.records import context_record, context_unchanged

    relpaths = _context_with_files(tmp_path, 50)
    walked = BuildContext(tmp_path)
    walked.rescan()
    (tmp_path / relpaths[10]).write_text("edited during the build, and longer\n")
    record = {"context": str(tmp_path), **context_record(str(tmp_path), relpaths, walked.walked_signature)}
    assert not context_unchanged(record)
    restat = {"context": str(tmp_path), **context_record(str(tmp_path), relpaths, None)}
    assert context_unchanged(restat)
