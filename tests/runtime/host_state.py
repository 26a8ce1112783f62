"""The host's mounts and network links, minus what a concurrently running Docker adds and removes.

Other engineers build with Docker on the same machine; its mounts and ``veth*`` links come and go while
these tests compare before and after. pybuild's own names (``pybuild0``, ``pb<id>``) never match. The
bridges of concurrent test runs (``pbtest<pid>``, tests/support/bridges.py) are left out too.
"""
from __future__ import annotations

import os
from pathlib import Path

from tests.support.bridges import TEST_BRIDGE_PREFIX


def host_mounts() -> list[str]:
    return [line for line in Path("/proc/mounts").read_text().splitlines() if "docker" not in line]


def host_links() -> set[str]:
    others = ("veth", "docker", TEST_BRIDGE_PREFIX)
    return {name for name in os.listdir("/sys/class/net") if not name.startswith(others)}
