"""Container networking with pyroute2 (the only runtime module that imports it).

Modes: ``host`` shares pybuild's netns; ``none`` is a fresh netns with only ``lo`` (no pyroute2 needed,
see ``namespaces.bring_up_loopback``); ``default`` is a fresh netns with a veth pair whose host end is
enslaved to the ``pybuild0`` bridge, and an nftables ``masquerade`` rule for outbound NAT.

Lifecycle: ``allocate`` reserves an address (a lease file under ``NETWORK_STATE/leases``) and
makes sure the bridge and the nft table exist; ``connect`` creates the veth pair with its container end
born inside the container's netns (``net_ns_pid``), so when the container dies the kernel destroys the
pair; ``configure_inside`` runs in the container; ``release`` deletes the host end if still there, frees
the address and, when no lease is left, removes the bridge and the nft table. All of it is serialised by
an ``flock`` on ``NETWORK_STATE/lock``. IPv4 forwarding is switched on and left on, as Docker does.

The bridge, the subnet and the nft table are host-wide, so the leases are too, whatever ``--root`` a
pybuild uses: per-root leases let one root remove the bridge under another's containers and hand out
an address another root already uses.
"""
from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import subprocess
from dataclasses import asdict, dataclass
from typing import Any, Iterator

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from runtime.errors import NetworkError
from runtime.state import DEFAULT_STATE_ROOT

BRIDGE = "pybuild0"
SUBNET = ipaddress.ip_network("10.213.0.0/16")
GATEWAY = next(SUBNET.hosts())
NFT_TABLE = "pybuild"
CONTAINER_IFNAME = "eth0"
NETWORK_STATE = os.path.join(DEFAULT_STATE_ROOT, "network")


@dataclass(frozen=True, slots=True)
class Lease:
    container_id: str
    address: str
    host_ifname: str

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Lease:
        return cls(**record)


@contextlib.contextmanager
def _locked() -> Iterator[str]:
    directory = NETWORK_STATE
    os.makedirs(os.path.join(directory, "leases"), exist_ok=True)
    fd = os.open(os.path.join(directory, "lock"), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield os.path.join(directory, "leases")
    finally:
        os.close(fd)


def allocate(container_id: str) -> Lease:
    with _locked() as leases:
        taken = set(os.listdir(leases))
        address = next((str(a) for a in SUBNET.hosts() if a != GATEWAY and str(a) not in taken), None)
        if address is None:
            raise NetworkError(f"no free address left in {SUBNET}")
        with open(os.path.join(leases, address), "x") as handle:
            handle.write(container_id)
        try:
            _ensure_bridge_and_nat()
        except BaseException:
            os.unlink(os.path.join(leases, address))
            raise
    return Lease(container_id, address, f"pb{container_id}"[:15])


def connect(lease: Lease, pid: int) -> None:
    """Create the veth pair; its container end appears as eth0 inside the netns of ``pid``."""
    with IPRoute() as ipr:
        try:
            ipr.link("add", ifname=lease.host_ifname, kind="veth",
                     peer={"ifname": CONTAINER_IFNAME, "net_ns_pid": pid})
            index = ipr.link_lookup(ifname=lease.host_ifname)[0]
            bridge = ipr.link_lookup(ifname=BRIDGE)[0]
            ipr.link("set", index=index, master=bridge, state="up")
        except NetlinkError as error:
            raise NetworkError(f"cannot create veth {lease.host_ifname} for pid {pid}: {error}") from error


def configure_inside(lease: Lease) -> None:
    """Run inside the container's netns: lo and eth0 up, the address, the default route."""
    with IPRoute() as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        index = ipr.link_lookup(ifname=CONTAINER_IFNAME)[0]
        ipr.addr("add", index=index, address=lease.address, prefixlen=SUBNET.prefixlen)
        ipr.link("set", index=index, state="up")
        ipr.route("add", dst="0.0.0.0/0", gateway=str(GATEWAY))


def release(record: dict[str, Any]) -> None:
    lease = Lease.from_record(record)
    with IPRoute() as ipr:
        for index in ipr.link_lookup(ifname=lease.host_ifname):
            with contextlib.suppress(NetlinkError):  # gone with its netns meanwhile
                ipr.link("del", index=index)
    # The bridge and NAT table stay, like docker0: tearing them down after every RUN and setting
    # them up again before the next one cost about 100 ms a step.
    with _locked() as leases:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(leases, lease.address))


def _ensure_bridge_and_nat() -> None:
    with IPRoute() as ipr:
        if not ipr.link_lookup(ifname=BRIDGE):
            ipr.link("add", ifname=BRIDGE, kind="bridge")
            index = ipr.link_lookup(ifname=BRIDGE)[0]
            ipr.addr("add", index=index, address=str(GATEWAY), prefixlen=SUBNET.prefixlen)
            ipr.link("set", index=index, state="up")
    with open("/proc/sys/net/ipv4/ip_forward", "w") as handle:
        handle.write("1")
    if _nft(f"list table ip {NFT_TABLE}", check=False) != 0:
        _nft(_NFT_RULES)


_NFT_RULES = f"""
table ip {NFT_TABLE} {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr {SUBNET} ip daddr != {SUBNET} masquerade
    }}
    chain forward {{
        type filter hook forward priority filter; policy accept;
        iifname "{BRIDGE}" accept
        oifname "{BRIDGE}" ct state established,related accept
    }}
}}
"""


def _nft(script: str, check: bool = True) -> int:
    try:
        result = subprocess.run(["nft", "-f", "-"], input=script.encode(), capture_output=True)
    except FileNotFoundError as error:
        raise NetworkError("nft (Debian package nftables) is needed for the default network") from error
    if check and result.returncode != 0:
        raise NetworkError(f"nft failed: {result.stderr.decode(errors='replace').strip()}")
    return result.returncode


def table_exists() -> bool:
    return _nft(f"list table ip {NFT_TABLE}", check=False) == 0


def lease_holders() -> list[str]:
    """The container ids that hold an address now."""
    with _locked() as leases:
        holders = []
        for name in os.listdir(leases):
            with contextlib.suppress(FileNotFoundError), open(os.path.join(leases, name)) as handle:
                holders.append(handle.read())
        return holders
