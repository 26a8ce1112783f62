"""Network modes: none, host, default (veth + bridge + NAT), and that everything is removed afterwards."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from host_state import host_links

from runtime import etcfiles, network
from runtime.network import Lease

pytestmark = pytest.mark.privileged
ROOT = Path(__file__).resolve().parents[2]


def test_host_network_sees_the_hosts_interfaces(runner) -> None:
    result = runner("ls /sys/class/net", network="host")
    assert {name for name in result.stdout.split() if not name.startswith(("veth", "docker"))} == host_links()


def test_default_network_has_eth0_with_an_address_and_a_route(runner) -> None:
    links_before = host_links()
    result = runner("ip -o -4 addr show eth0; ip route", network="default")
    assert result.status.code == 0
    assert "inet 10.213." in result.stdout
    assert "default via 10.213.0.1" in result.stdout
    # The veth pair goes with the container's netns, which the kernel reaps in the background.
    assert _eventually(lambda: host_links() - links_before <= {"pybuild0"}), "veth outlived the container"
    assert "pybuild0" in host_links()  # the shared bridge stays for the next container, as docker0 does


def _eventually(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def test_an_address_is_not_reused_while_the_previous_veth_exists() -> None:
    """A finished container's lease drains until the kernel has destroyed its veth (with the netns)."""
    ifname = "pbtestdrain"
    subprocess.run(["ip", "link", "add", ifname, "type", "veth", "peer", "name", ifname + "p"], check=True)
    try:
        first = network.allocate("test-drain-1")
        network.release(Lease(first.container_id, first.address, ifname).to_record())
        assert first.container_id not in network.lease_holders()
        second = network.allocate("test-drain-2")
        assert second.address != first.address
        network.release(second.to_record())
    finally:
        subprocess.run(["ip", "link", "del", ifname], check=False)
    third = network.allocate("test-drain-3")  # the veth is gone: the draining lease is freed
    network.release(third.to_record())
    leases = os.listdir(os.path.join(network.NETWORK_STATE, "leases"))
    assert not [name for name in leases if name.startswith(first.address + "@")]


PARALLEL_DRIVER = textwrap.dedent("""
    import sys
    from runtime.container import run
    from runtime.mounts import Mount
    from runtime.spec import ProcessSpec

    spec = ProcessSpec(("sh", "-c", "sleep 0.5; ip -o -4 addr show eth0"), network="default")
    out = []
    run(spec, [Mount("bind", sys.argv[1], ("rbind", "rw"))], lambda s, d: out.append(d), state_root=sys.argv[2])
    print(b"".join(out).split()[3].decode())
""")


def test_parallel_containers_get_their_own_addresses(busybox_rootfs, state_root, tmp_path: Path) -> None:
    # One rootfs each, as every RUN has its own snapshot: containers sharing a writable rootfs race
    # each other creating and removing the same mount-point stubs (runtime.rootfs).
    roots = []
    for index in range(3):
        roots.append(tmp_path / f"rootfs-{index}")
        subprocess.run(["cp", "-a", str(busybox_rootfs), str(roots[-1])], check=True)
    drivers = [subprocess.Popen([sys.executable, "-c", PARALLEL_DRIVER, str(root), state_root],
                                cwd=ROOT, stdout=subprocess.PIPE) for root in roots]
    addresses = [driver.communicate(timeout=60)[0].decode().strip() for driver in drivers]
    assert all(address.startswith("10.213.") for address in addresses), addresses
    assert len(set(addresses)) == 3


def test_http_get_of_the_debian_mirror_through_nat(runner) -> None:
    """What `apt-get update` needs: DNS plus plain HTTP to deb.debian.org from inside the netns."""
    result = runner("wget -q -O - http://deb.debian.org/debian/dists/bookworm/Release | head -n 3",
                    network="default", timeout=60)
    assert result.status.code == 0, result.stderr
    assert "Origin: Debian" in result.stdout


def test_resolv_conf_drops_loopback_resolvers_in_private_networks() -> None:
    host = "search example.org\nnameserver 127.0.0.53\nnameserver ::1\n"
    assert etcfiles.resolv_conf(host, "default") == "search example.org\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    assert etcfiles.resolv_conf(host, "host") == host
    kept = "nameserver 10.0.0.2\n"
    assert etcfiles.resolv_conf(kept, "none") == kept
