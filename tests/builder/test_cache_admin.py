"""``pybuild cache ls|du|prune|check`` on a real root, and a build killed with SIGKILL mid-RUN."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder.cache.check import check_cache
from builder.cache.prune import PrunePolicy, prune_cache
from builder.commands.cache import parse_filters, parse_size
from builder.errors import UsageError
from builder.frontend.dockerfile import DockerfileSource
from builder.services import open_services
from builder.solve import BuildRequest, build
from registry_client import Digest
from tests.support.images import import_busybox

DOCKERFILE = "FROM busybox:local\nRUN echo one > /one\nRUN echo two > /two\n"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def root(tmp_path: Path, busybox_tar: Path) -> Path:
    root = tmp_path / "root"
    import_busybox(root, busybox_tar)
    return root


def build_once(root: Path, context: Path, dockerfile: str = DOCKERFILE) -> None:
    services = open_services(root)
    build(BuildRequest(source=DockerfileSource("Dockerfile", None, dockerfile), context=context), services)


def pybuild(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "builder.cli", "--root", str(root), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_sizes_and_durations_parse_like_docker() -> None:
    assert parse_size("10GB") == 10 << 30 and parse_size("512m") == 512 << 20 and parse_size("100") == 100
    assert parse_filters(["until=24h"]) == 86400 and parse_filters(["until=1h30m"]) == 5400
    assert parse_filters([]) is None
    with pytest.raises(UsageError):
        parse_filters(["until=soon"])
    with pytest.raises(UsageError):
        parse_size("lots")


@pytest.mark.privileged
def test_ls_du_and_prune_by_last_use(root: Path, tmp_path: Path) -> None:
    build_once(root, tmp_path)
    listing = pybuild(root, "cache", "ls")
    assert listing.returncode == 0 and len(listing.stdout.splitlines()) == 3  # header + two RUNs
    assert "Entries:    2" in pybuild(root, "cache", "du").stdout
    services = open_services(root)
    entries = sorted(services.cache.entries(), key=lambda e: e.record.created)
    os.utime(services.cache.directory / f"{entries[0].key.hex}.json", (0, 0))  # used long ago
    services.images.prune()  # the unnamed image would keep its layers; the cache protects its own
    result = prune_cache(services, PrunePolicy(unused_for=86400))
    assert result.records == 1 and [e.key for e in services.cache.entries()] == [entries[1].key]
    assert result.blobs == 1 and not services.store.exists(Digest.parse(entries[0].record.diff_id))
    assert result.snapshots == 0  # the first step's snapshot stays: the second one is layered on it
    assert check_cache(services).problems == ()
    build_once(root, tmp_path)  # the kept entry still hits on top of the re-run first step
    pruned = pybuild(root, "cache", "prune", "--keep-storage", "0")
    assert pruned.returncode == 0 and "Deleted 2 entries" in pruned.stdout
    assert list(open_services(root).cache.entries()) == []
    assert pybuild(root, "cache", "check").returncode == 0


@pytest.mark.privileged
def test_check_finds_and_fixes_corrupt_and_dangling_entries(root: Path, tmp_path: Path) -> None:
    build_once(root, tmp_path)
    services = open_services(root)
    first, second = sorted(services.cache.entries(), key=lambda e: e.record.created)
    blob = services.store.path(Digest.parse(first.record.diff_id))
    blob.chmod(0o644)
    blob.write_bytes(b"not the layer")
    services.store.path(Digest.parse(second.record.diff_id)).unlink()
    (services.cache.directory / f"{'0' * 64}.json").write_text("{broken")
    found = pybuild(root, "cache", "check")
    assert found.returncode == 1
    assert {line.split()[0] for line in found.stdout.splitlines()} == {"corrupt-blob", "missing-blob", "unreadable"}
    assert pybuild(root, "cache", "check", "--fix").returncode == 0
    result = check_cache(open_services(root))
    assert result.problems == (), result
    build_once(root, tmp_path)  # both steps run again and the cache is whole
    assert len(list(open_services(root).cache.entries())) == 2
    assert check_cache(open_services(root)).problems == ()


@pytest.mark.privileged
def test_a_build_killed_mid_run_leaves_a_consistent_cache(root: Path, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox:local\nRUN echo before > /before\n"
                                        "RUN echo started > /started && sleep 5\n")
    build = subprocess.Popen([sys.executable, "-m", "builder.cli", "--root", str(root), "build",
                              "--progress", "plain", str(context)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    assert build.stderr is not None
    for line in build.stderr:  # wait until the RUN is running
        if "RUN echo started" in line:
            break
    time.sleep(0.5)
    build.send_signal(signal.SIGKILL)
    build.wait()
    checked = pybuild(root, "cache", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "cache is consistent" in checked.stdout
    (context / "Dockerfile").write_text("FROM busybox:local\nRUN echo before > /before\nRUN echo after > /after\n")
    again = pybuild(root, "build", "--progress", "plain", str(context))
    assert again.returncode == 0, again.stderr
    assert "CACHED" in again.stderr  # the step finished before the kill was kept
    assert pybuild(root, "cache", "check").returncode == 0
