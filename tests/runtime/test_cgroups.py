"""cgroup discovery on v1, v2 and hybrid hosts, and memory/pids limits on this machine."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from runtime import cgroups
from runtime.spec import Limits

HYBRID_CGROUP = "9:name=systemd:/\n8:pids:/\n4:memory:/job/1\n0::/\n"
HYBRID_MOUNTINFO = """\
30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
"""


def test_hybrid_host_uses_v1_when_v2_has_no_controllers() -> None:
    found = cgroups.discover(HYBRID_CGROUP, HYBRID_MOUNTINFO)
    assert found == {"memory": cgroups.Hierarchy(1, "/sys/fs/cgroup/memory/job/1"),
                     "pids": cgroups.Hierarchy(1, "/sys/fs/cgroup/pids")}


def test_pure_v2_host_uses_v2_when_the_controller_is_delegated(tmp_path: Path) -> None:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "cgroup.subtree_control").write_text("cpu memory pids\n")
    mountinfo = f"30 25 0:26 / {tmp_path} rw,nosuid - cgroup2 cgroup2 rw\n"
    found = cgroups.discover("0::/build\n", mountinfo)
    assert found == {"memory": cgroups.Hierarchy(2, str(tmp_path / "build")),
                     "pids": cgroups.Hierarchy(2, str(tmp_path / "build"))}


def test_v2_settings_disable_swap() -> None:
    assert cgroups._settings(2, "memory", Limits(memory_bytes=1 << 20)) == [("memory.max", "1048576"), ("memory.swap.max", "0")]


@pytest.mark.privileged
def test_pids_limit_stops_fork_bombs(runner) -> None:
    result = runner("for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 & done 2>&1; echo done", limits=Limits(pids=8))
    assert "can't fork" in result.stdout or "Resource temporarily unavailable" in result.stdout


@pytest.mark.privileged
def test_memory_limit_kills_the_hog(runner) -> None:
    result = runner("dd if=/dev/zero of=/dev/null bs=96M count=1", limits=Limits(memory_bytes=32 << 20))
    assert result.status.code == 128 + 9


@pytest.mark.privileged
def test_cgroups_are_removed_after_the_run(runner) -> None:
    runner("true", limits=Limits(memory_bytes=64 << 20, pids=100))
    found = cgroups.discover(Path("/proc/self/cgroup").read_text(), Path("/proc/self/mountinfo").read_text())
    for hierarchy in found.values():
        assert not [p for p in Path(hierarchy.directory).iterdir() if p.name.startswith("pybuild-")]


@pytest.mark.privileged
def test_empty_old_cgroups_of_killed_pybuilds_are_removed() -> None:
    old, fresh = cgroups.create("orphan-old", Limits(pids=10)), cgroups.create("orphan-new", Limits(pids=10))
    try:
        for directory in old:
            os.utime(directory, (time.time() - 3600, time.time() - 3600))
        removed = cgroups.remove_orphans()
        assert set(old) <= set(removed)
        assert not set(fresh) & set(removed)  # could be a container whose shim is about to join
    finally:
        cgroups.remove(old + fresh)
