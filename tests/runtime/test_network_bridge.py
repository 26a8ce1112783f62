"""The host-wide bridge: set up again through pyroute2 when it is missing, and pyroute2 left unimported
when it is present. Each test runs its container in a subprocess on a bridge of its own
(tests/support/bridges.py), so ``sys.modules`` is the container driver's and ``pybuild0`` is never touched."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from runtime import network
from runtime.errors import NetworkError
from runtime.network import BridgeNetwork
from tests.support.bridges import bridge_argument, gateway_server, link_exists, remove_bridge, scratch_bridge

pytestmark = pytest.mark.privileged
ROOT = Path(__file__).resolve().parents[2]

CONTAINER_DRIVER = textwrap.dedent("""
    import json
    import sys

    from runtime import network
    from runtime.container import run
    from runtime.mounts import Mount
    from runtime.spec import ProcessSpec

    rootfs, state_root, bridge, script = sys.argv[1:]
    network.use_bridge(network.BridgeNetwork(**json.loads(bridge)))
    output = []
    status = run(ProcessSpec(("sh", "-c", script), network="default"), [Mount("bind", rootfs, ("rbind", "rw"))],
                 lambda stream, data: output.append(data), state_root=state_root, timeout=60)
    print(json.dumps({"code": status.code, "output": b"".join(output).decode(errors="replace"),
                      "pyroute2 imported": "pyroute2" in sys.modules}))
""")


def run_on_bridge(rootfs: Path, state_root: str, bridge: BridgeNetwork, script: str) -> dict:
    driver = subprocess.run([sys.executable, "-c", CONTAINER_DRIVER, str(rootfs), state_root, bridge_argument(bridge),
                             script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert driver.returncode == 0, driver.stderr
    return json.loads(driver.stdout)


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[BridgeNetwork]:
    scratch = scratch_bridge(tmp_path / "network")
    remove_bridge(scratch)  # left over by a killed run of the same pid
    yield scratch
    remove_bridge(scratch)


def test_a_missing_network_bridge_is_set_up_through_pyroute2(busybox_rootfs, state_root, bridge) -> None:
    assert not link_exists(bridge.ifname) and not network.table_exists(bridge)
    gateway = str(bridge.gateway)
    with gateway_server(gateway, b"hello from the gateway\n") as (port, requests):
        result = run_on_bridge(busybox_rootfs, state_root, bridge,
                               f"ip -o -4 addr show eth0; ip route; wget -q -O - http://{gateway}:{port}/file")
    assert result["code"] == 0, result["output"]
    assert result["pyroute2 imported"], "the bridge was missing: pyroute2 sets it up"
    assert requests == ["GET /file HTTP/1.1"]
    assert "hello from the gateway" in result["output"]
    assert f"inet {bridge.network.network_address + 2}/24" in result["output"]
    assert f"default via {gateway} dev eth0" in result["output"]

    link = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", bridge.ifname], capture_output=True, text=True)
    assert f"inet {gateway}/24" in link.stdout
    assert int(Path(f"/sys/class/net/{bridge.ifname}/flags").read_text(), 16) & 0x1, "bridge is not up (IFF_UP)"
    assert Path(f"/sys/class/net/{bridge.ifname}/bridge").is_dir()  # a bridge, not some other kind of link
    table = subprocess.run(["nft", "list", "table", "ip", bridge.nft_table], capture_output=True, text=True)
    assert f"ip saddr {bridge.subnet} ip daddr != {bridge.subnet} masquerade" in table.stdout
    assert f'iifname "{bridge.ifname}" accept' in table.stdout
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"


def test_a_present_network_bridge_leaves_pyroute2_unimported(busybox_rootfs, state_root, bridge) -> None:
    first = run_on_bridge(busybox_rootfs, state_root, bridge, "true")  # sets the bridge up
    assert first["code"] == 0 and first["pyroute2 imported"]
    gateway = str(bridge.gateway)
    with gateway_server(gateway, b"second\n") as (port, requests):
        result = run_on_bridge(busybox_rootfs, state_root, bridge, f"wget -q -O - http://{gateway}:{port}/")
    assert result["code"] == 0, result["output"]
    assert result["output"] == "second\n" and requests == ["GET / HTTP/1.1"]
    assert not result["pyroute2 imported"]


def test_a_bridge_without_its_nat_table_gets_the_table_back_without_pyroute2(busybox_rootfs, state_root,
                                                                             bridge) -> None:
    run_on_bridge(busybox_rootfs, state_root, bridge, "true")
    subprocess.run(["nft", "delete", "table", "ip", bridge.nft_table], check=True)
    result = run_on_bridge(busybox_rootfs, state_root, bridge, "true")
    assert result["code"] == 0 and not result["pyroute2 imported"]
    assert network.table_exists(bridge)


def test_a_lease_record_names_its_bridge_and_older_records_mean_pybuild0(tmp_path: Path) -> None:
    bridge = scratch_bridge(tmp_path)
    lease = network.Lease("c1", str(bridge.network.network_address + 2), "pbc1", bridge)
    assert network.Lease.from_record(json.loads(json.dumps(lease.to_record()))) == lease
    written_before_allocate = {"container_id": "c1", "address": "", "host_ifname": ""}
    assert network.Lease.from_record(written_before_allocate).bridge == network.DEFAULT_BRIDGE
    assert network.DEFAULT_BRIDGE.ifname == "pybuild0" and str(network.DEFAULT_BRIDGE.gateway) == "10.213.0.1"


def test_a_bridge_the_kernel_refuses_is_a_network_error_and_frees_the_lease(tmp_path: Path) -> None:
    refused = BridgeNetwork("pbtest-name-longer-than-ifnamsiz", "10.214.250.0/24", "pbtestrefused",
                            str(tmp_path / "network"))
    network.use_bridge(refused)
    try:
        with pytest.raises(NetworkError, match="cannot set up bridge pbtest-name-longer-than-ifnamsiz: Numerical"):
            network.allocate("refused")
    finally:
        network.use_bridge(network.DEFAULT_BRIDGE)
    assert network.lease_holders(refused) == []
    assert not network.table_exists(refused)
