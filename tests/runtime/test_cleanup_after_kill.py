"""SIGKILL pybuild in the middle of a run: nothing may be left once the next start has cleaned up."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from host_state import host_links, host_mounts

from runtime import cgroups, state
from runtime.mounts import mount_points

pytestmark = pytest.mark.privileged
ROOT = Path(__file__).resolve().parents[2]

DRIVER = textwrap.dedent("""
    import sys
    from runtime.container import run
    from runtime.mounts import Mount
    from runtime.spec import Limits, ProcessSpec

    def echo(stream, data):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()

    spec = ProcessSpec(("sh", "-c", "echo started; sleep 1234.5 & sleep 1234.5"), network=sys.argv[3],
                       user=sys.argv[4], limits=Limits(memory_bytes=64 << 20, pids=50))
    run(spec, [Mount("bind", sys.argv[1], ("rbind", "rw"))], echo, state_root=sys.argv[2])
""")


def _sleepers() -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"1234.5" in handle.read() and int(pid) != os.getpid():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def _wait_for(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# "app": setuid clears PR_SET_PDEATHSIG, which the container's PID 1 (the user's process) must set again.
@pytest.mark.parametrize(("network", "user"), [("none", "root"), ("default", "root"), ("none", "app")])
def test_sigkill_of_pybuild_leaves_nothing_behind(busybox_rootfs, state_root, network: str, user: str) -> None:
    mounts_before = host_mounts()
    links_before = host_links()
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(busybox_rootfs), state_root, network, user],
                              cwd=ROOT, stdout=subprocess.PIPE)
    assert driver.stdout is not None
    assert driver.stdout.readline() == b"started\n"
    assert _sleepers(), "the container should be running"
    containers = os.listdir(os.path.join(state_root, "containers"))
    assert len(containers) == 1
    driver.send_signal(signal.SIGKILL)
    driver.wait()

    assert _wait_for(lambda: not _sleepers()), "container processes outlived pybuild"
    assert _wait_for(lambda: host_links() - links_before <= {"pybuild0"}), "veth outlived the container"
    assert state.cleanup_stale(state_root) == containers  # the next start
    assert os.listdir(os.path.join(state_root, "containers")) == []
    assert host_mounts() == mounts_before
    assert host_links() - links_before <= {"pybuild0"}  # the shared bridge stays, as docker0 does
    hierarchies = cgroups.discover(Path("/proc/self/cgroup").read_text(), Path("/proc/self/mountinfo").read_text())
    for hierarchy in hierarchies.values():
        assert not [name for name in os.listdir(hierarchy.directory) if name.startswith("pybuild-")]
    if network == "default":
        from runtime import network as net

        assert net.table_exists() and "pybuild0" in host_links()  # persistent, shared by all pybuilds
        assert not set(net.lease_holders()) & set(containers)


MOUNT_HOLDER = textwrap.dedent("""
    import sys
    from runtime.hostmounts import mounted
    from runtime.mounts import Mount

    with mounted([Mount("bind", sys.argv[1], ("rbind", "ro"))], registry=sys.argv[2]) as target:
        print(target, flush=True)
        sys.stdin.read()
""")


def test_sigkill_while_a_snapshot_is_mounted_on_the_host(busybox_rootfs, tmp_path: Path) -> None:
    registry = str(tmp_path / "registry")
    mounts_before = host_mounts()
    holder = subprocess.Popen([sys.executable, "-c", MOUNT_HOLDER, str(busybox_rootfs), registry], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout is not None
    target = holder.stdout.readline().decode().strip()
    assert target in mount_points()
    state.cleanup_stale(str(tmp_path / "state"), mount_registry=registry)
    assert target in mount_points(), "a live holder's mount must stay"
    holder.kill()
    holder.wait()
    assert target in mount_points()  # the kernel does not undo a host mount

    state.cleanup_stale(str(tmp_path / "state"), mount_registry=registry)  # the next start
    assert target not in mount_points() and not os.path.exists(target)
    assert host_mounts() == mounts_before
    assert os.listdir(os.path.join(registry, "mounts")) == []
    assert (busybox_rootfs / "bin" / "busybox").exists()  # only unmounted and rmdir'ed, never emptied
