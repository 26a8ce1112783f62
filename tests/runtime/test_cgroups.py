"""cgroup discovery on v1, v2 and hybrid hosts, and memory/pids limits on this machine."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runtime import cgroups
from runtime.spec import Limits

ROOT = Path(__file__).resolve().parents[2]

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


KILLED_UNDER_A_PARENT = textwrap.dedent("""
    import sys
    from runtime.container import run
    from runtime.mounts import Mount
    from runtime.resources import ContainerResources
    from runtime.spec import ProcessSpec

    def echo(stream, data):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()

    spec = ProcessSpec(("sh", "-c", "echo started; exec sleep 1234.6"),
                       resources=ContainerResources(cgroup_parent=sys.argv[3]))
    run(spec, [Mount("bind", sys.argv[1], ("rbind", "rw"))], echo, state_root=sys.argv[2])
""")


@pytest.mark.privileged
def test_orphans_under_a_cgroup_parent_are_swept_at_start_up(busybox_rootfs: Path, tmp_path: Path) -> None:
    """A build SIGKILLed with --cgroup-parent and a state root nobody revisits: its cgroups sit under the parent,
    outside pybuild's own cgroup, and the next start's sweep finds them through the parents' registry."""
    parent = "orphan-sweep-test/ci"  # one name for every run: the registry keeps its names until reboot
    driver = subprocess.Popen([sys.executable, "-c", KILLED_UNDER_A_PARENT, str(busybox_rootfs),
                               str(tmp_path / "throw-away-state"), parent], cwd=ROOT, stdout=subprocess.PIPE)
    hierarchies = cgroups.discover(Path("/proc/self/cgroup").read_text(), Path("/proc/self/mountinfo").read_text(),
                                   cgroups.PARENT_CONTROLLERS)
    parent_directories = {Path(hierarchy.mount_point, parent) for hierarchy in hierarchies.values()}
    try:
        assert driver.stdout is not None and driver.stdout.readline() == b"started\n"
        assert parent in cgroups.remembered_parents()
        driver.kill()
        driver.wait()
        left = [path for directory in parent_directories for path in directory.glob("pybuild-*")]
        assert len(left) == len(parent_directories) > 0  # one per hierarchy: nothing removed them
        deadline = time.monotonic() + 5  # the container dies with its shim (PR_SET_PDEATHSIG)
        while any((path / "cgroup.procs").read_text().strip() for path in left) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not set(map(str, left)) & set(cgroups.remove_orphans())  # under a minute old: maybe a live one's
        for path in left:
            os.utime(path, (time.time() - 3600, time.time() - 3600))
        removed = cgroups.remove_orphans()
        assert set(map(str, left)) <= set(removed)
        assert not [path for directory in parent_directories for path in directory.glob("pybuild-*")]
    finally:
        driver.kill()
        driver.wait()
        for directory in parent_directories:  # the parent stays after a build, as docker leaves it: the test's own
            for path in (*directory.glob("pybuild-*"), directory, directory.parent):
                with contextlib.suppress(OSError):
                    path.rmdir()
