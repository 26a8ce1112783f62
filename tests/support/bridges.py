"""A bridge network of the test run's own, and a one-page HTTP server on its gateway.

Tests that delete the bridge to see it set up again must never touch the host's ``pybuild0``: other
builds on the machine use it. The name, subnet and NAT table are derived from the test process's pid,
so concurrent test runs do not share one either.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
from pathlib import Path
from typing import Iterator

from runtime.network import BridgeNetwork

TEST_BRIDGE_PREFIX = "pbtest"  # tests/runtime/host_state.py leaves these out of the host's links
IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)  # bind before the bridge holding the address exists


def scratch_bridge(state_dir: Path) -> BridgeNetwork:
    pid = os.getpid()
    return BridgeNetwork(ifname=f"{TEST_BRIDGE_PREFIX}{pid % 1_000_000}", subnet=f"10.214.{pid % 256}.0/24",
                         nft_table=f"{TEST_BRIDGE_PREFIX}{pid}", state_dir=str(state_dir))


def bridge_argument(bridge: BridgeNetwork) -> str:
    """For a driver subprocess: ``network.use_bridge(network.BridgeNetwork(**json.loads(argument)))``."""
    return json.dumps({"ifname": bridge.ifname, "subnet": bridge.subnet, "nft_table": bridge.nft_table,
                       "state_dir": bridge.state_dir})


def remove_bridge(bridge: BridgeNetwork) -> None:
    """Delete the bridge and its NAT table, as a reboot would; either may already be gone."""
    subprocess.run(["ip", "link", "del", bridge.ifname], capture_output=True)
    subprocess.run(["nft", "delete", "table", "ip", bridge.nft_table], capture_output=True)


def link_exists(ifname: str) -> bool:
    return os.path.exists(f"/sys/class/net/{ifname}")


@contextlib.contextmanager
def gateway_server(address: str, body: bytes) -> Iterator[tuple[int, list[str]]]:
    """Serve ``body`` to one HTTP request at a time on ``address``; yields the port and the request
    lines received. The socket is bound with IP_FREEBIND, so the address may appear later."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
    listener.bind((address, 0))
    listener.listen()
    requests: list[str] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _peer = listener.accept()
                with connection:
                    connection.settimeout(10)
                    requests.append(connection.recv(65536).split(b"\r\n", 1)[0].decode(errors="replace"))
                    connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], requests
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept
        listener.close()
        thread.join(10)
