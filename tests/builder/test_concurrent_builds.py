"""Four pybuild processes on one root at once: they share the cache, and shared work runs once."""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.builder.cache_store_support import cache_check, run_pybuild, start_build
from tests.support.images import import_busybox

pytestmark = pytest.mark.privileged

# Every build starts with the same two steps; the second is slow and counts its runs in a cache
# mount (which is no part of any cache key), so the count says how often it really ran.
SHARED = ("FROM busybox:local\nRUN echo base > /base\n"
          "RUN --mount=type=cache,id=runs,target=/runs sh -c 'echo ran >> /runs/slow; sleep 2; echo slow > /slow'\n")
DOCKERFILES = {
    "a.Dockerfile": SHARED + "RUN echo a > /a\n",
    "b.Dockerfile": SHARED + "RUN echo b > /b\nRUN echo b2 >> /b\n",
    "c.Dockerfile": SHARED + "COPY c.txt /c.txt\n",
    "d.Dockerfile": SHARED + "WORKDIR /work\nRUN echo d > d\n",
}


@pytest.fixture
def context(tmp_path: Path) -> Path:
    context = tmp_path / "context"
    context.mkdir()
    (context / "c.txt").write_text("c\n")
    for name, text in DOCKERFILES.items():
        (context / name).write_text(text)
    return context


@pytest.fixture
def fresh_root(tmp_path: Path, busybox_tar: Path) -> Callable[[str], Path]:
    """Roots holding the very same busybox:local (an import records its time: import only once)."""
    template = tmp_path / "template"
    import_busybox(template, busybox_tar)

    def make(name: str) -> Path:
        return Path(shutil.copytree(template, tmp_path / name, symlinks=True))

    return make


def slow_runs(root: Path) -> int:
    counters = list((root / "cache" / "mounts").glob("*/slow"))
    assert len(counters) == 1
    return len(counters[0].read_text().splitlines())


def test_four_concurrent_builds_share_work_and_match_sequential_builds(
        tmp_path: Path, fresh_root: Callable[[str], Path], context: Path) -> None:
    shared = fresh_root("concurrent")
    builds = {name: start_build(shared, context, name, tmp_path / f"{name}.iid") for name in DOCKERFILES}
    outputs = {name: process.communicate(timeout=180) for name, process in builds.items()}
    for name, process in builds.items():
        assert process.returncode == 0, f"{name}:\n{outputs[name][1]}"
    assert slow_runs(shared) == 1, "the shared slow RUN must run once for all four builds"
    cached = [name for name, (_, log) in outputs.items() if "sleep 2" in log and _slow_step_cached(log)]
    assert len(cached) == 3, cached
    concurrent_ids = {name: (tmp_path / f"{name}.iid").read_text() for name in DOCKERFILES}
    checked = cache_check(shared)
    assert checked.returncode == 0 and "cache is consistent" in checked.stdout, checked.stdout

    sequential = fresh_root("sequential")
    for name in DOCKERFILES:
        process = start_build(sequential, context, name, tmp_path / f"{name}.seq")
        _, log = process.communicate(timeout=120)
        assert process.returncode == 0, log
    assert slow_runs(sequential) == 1
    assert {name: (tmp_path / f"{name}.seq").read_text() for name in DOCKERFILES} == concurrent_ids
    assert len(set(concurrent_ids.values())) == 4


def test_identical_builds_started_together_store_each_step_once(
        tmp_path: Path, fresh_root: Callable[[str], Path], context: Path) -> None:
    root = fresh_root("root")
    first = start_build(root, context, "a.Dockerfile", tmp_path / "1.iid")
    second = start_build(root, context, "a.Dockerfile", tmp_path / "2.iid")
    logs = [first.communicate(timeout=120)[1], second.communicate(timeout=120)[1]]
    assert first.returncode == 0 and second.returncode == 0, logs
    assert (tmp_path / "1.iid").read_text() == (tmp_path / "2.iid").read_text()
    assert slow_runs(root) == 1
    listing = run_pybuild(root, "cache", "ls")
    assert len(listing.stdout.splitlines()) == 1 + 3  # header + base, slow and /a steps, each stored once


def _slow_step_cached(log: str) -> bool:
    """Whether the plain log shows the slow RUN as a cache hit."""
    step = next(line.split()[0] for line in log.splitlines() if "sleep 2" in line and line.startswith("#"))
    return any(line.startswith(f"{step} CACHED") for line in log.splitlines())
