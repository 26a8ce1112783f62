"""`apt-get update` through NAT from a debootstrap-based rootfs (issue 4's default-network check).

The rootfs comes from Debian's debootstrap (minbase bookworm, ~1 minute, from the Debian mirror
this machine may reach). The container gets its own netns, a veth to the pybuild bridge and
masquerade; the host's network is never shared.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.runtime.conftest import Runner

pytestmark = pytest.mark.privileged
MIRROR = os.environ.get("PYBUILD_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")


@pytest.fixture(scope="session")
def debian_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is not installed (tests/apt-packages.txt)")
    target = tmp_path_factory.mktemp("debootstrap") / "rootfs"
    subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(target), MIRROR],
                   check=True, capture_output=True, timeout=900)
    return target


def test_apt_get_update_reaches_the_debian_mirror_through_nat(debian_rootfs: Path, tmp_path: Path) -> None:
    runner = Runner(debian_rootfs, str(tmp_path / "state"))
    result = runner("apt-get update", timeout=300, network="default")
    assert result.status.code == 0, result.stdout + result.stderr
    assert "bookworm" in result.stdout
    lists = list((debian_rootfs / "var/lib/apt/lists").glob("*_InRelease"))
    assert lists, "apt-get wrote no package lists"


def test_no_network_mode_cannot_reach_the_mirror(debian_rootfs: Path, tmp_path: Path) -> None:
    runner = Runner(debian_rootfs, str(tmp_path / "state"))
    result = runner("apt-get -o Acquire::Retries=0 update", timeout=120, network="none")
    assert "Temporary failure resolving" in result.stdout + result.stderr or result.status.code != 0
