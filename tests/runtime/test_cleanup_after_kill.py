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

from runtime import cgroups, state

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
                       limits=Limits(memory_bytes=64 << 20, pids=50))
    run(spec, [Mount("bind", sys.argv[1], ("rbind", "rw"))], echo, state_root=sys.argv[2])
""")


def host_mounts() -> list[str]:
    """/proc/mounts without a concurrently running Docker's churn (other engineers use this host too)."""
    return [line for line in Path("/proc/mounts").read_text().splitlines() if "docker" not in line]


def _links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


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


@pytest.mark.parametrize("network", ["none", "default"])
def test_sigkill_of_pybuild_leaves_nothing_behind(busybox_rootfs, state_root, network: str) -> None:
    mounts_before = host_mounts()
    links_before = _links()
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(busybox_rootfs), state_root, network],
                              cwd=ROOT, stdout=subprocess.PIPE)
    assert driver.stdout is not None
    assert driver.stdout.readline() == b"started\n"
    assert _sleepers(), "the container should be running"
    containers = os.listdir(os.path.join(state_root, "containers"))
    assert len(containers) == 1
    driver.send_signal(signal.SIGKILL)
    driver.wait()

    assert _wait_for(lambda: not _sleepers()), "container processes outlived pybuild"
    assert _wait_for(lambda: _links() - links_before <= {"pybuild0"}), "veth outlived the container"
    assert state.cleanup_stale(state_root) == containers  # the next start
    assert os.listdir(os.path.join(state_root, "containers")) == []
    assert host_mounts() == mounts_before
    assert _links() == links_before
    hierarchies = cgroups.discover(Path("/proc/self/cgroup").read_text(), Path("/proc/self/mountinfo").read_text())
    for hierarchy in hierarchies.values():
        assert not [name for name in os.listdir(hierarchy.directory) if name.startswith("pybuild-")]
    if network == "default":
        from runtime import network as net

        assert not net.table_exists()
        assert os.listdir(os.path.join(state_root, "network", "leases")) == []
