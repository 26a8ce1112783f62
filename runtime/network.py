"""Container networking: address leases, the host's bridge and NAT table, each container's veth.

Modes: ``host`` shares pybuild's netns; ``none`` is a fresh netns with only ``lo`` (see
``namespaces.bring_up_loopback``); ``default`` is a fresh netns with a veth pair whose host end is
enslaved to the ``pybuild0`` bridge, and an nftables ``masquerade`` rule for outbound NAT.

What talks to the kernel, and why:

* Host-wide setup, done only when the bridge is missing (the first container since boot): pyroute2's
  ``IPRoute`` creates the bridge, gives it the gateway address and brings it up. pyroute2 is imported
  there and nowhere else, because the import costs ~300 ms: a build on a host whose bridge exists
  never loads it.
* The NAT table is written by ``nft -f``, one atomic transaction for both chains. pyroute2's nftables
  API calls itself a prototype: it has helpers for address matches, masquerade and verdicts only (the
  forward chain's ``iifname`` and ``ct state`` matches would be hand-assembled bytecode), and it commits
  call by call, so a failure half way would leave a table the existence check takes for complete.
* IPv4 forwarding is the sysctl net.ipv4.ip_forward, written in /proc/sys: pyroute2 has no call for it.
* Per container, that is per RUN step: ``runtime.netlink``'s small client. Its checks (bridge present,
  NAT table present) and the veth setup cost ~3 ms; pyroute2 took ~13 ms for the same veth setup.

Lifecycle: ``allocate`` (pybuild) reserves an address (a lease file in the bridge's lease directory) and
makes sure the bridge and the nft table exist; the shim then calls ``open_host_side`` while still in
pybuild's netns, unshares its own netns and calls ``connect``: one RTM_NEWLINK creates the veth pair,
host end up and enslaved to the bridge, container end born as ``eth0`` in the shim's netns, and a
socket opened in the new netns configures ``lo``, ``eth0``, the address and the default route. No
round trip to pybuild is needed, and when the container dies the kernel destroys the pair with its
netns. ``release`` frees the address (once the kernel has removed the pair: see ``release``) and
leaves the bridge and the nft table in place, like docker0. Leases are serialised by an ``flock`` on
the lease directory's ``lock``. IPv4 forwarding is switched on and left on, as Docker does.

The bridge, the subnet and the nft table are host-wide, so the leases are too, whatever ``--root`` a
pybuild uses: per-root leases let one root remove the bridge under another's containers and hand out
an address another root already uses. ``use_bridge`` points a process at another bridge (tests use one
of their own, so that they never disturb ``pybuild0`` and the builds using it).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import ipaddress
import os
import socket
import subprocess
from dataclasses import asdict, dataclass
from typing import Any, Iterator

from runtime.errors import NetworkError
from runtime.netlink import Netlink, nft_table_exists
from runtime.state import DEFAULT_STATE_ROOT

BRIDGE = "pybuild0"
SUBNET = ipaddress.ip_network("10.213.0.0/16")
NFT_TABLE = "pybuild"
CONTAINER_IFNAME = "eth0"
NETWORK_STATE = os.path.join(DEFAULT_STATE_ROOT, "network")


@dataclass(frozen=True, slots=True)
class BridgeNetwork:
    """A bridge, its subnet (the bridge holds the first address, the containers' gateway), its NAT
    table and the directory of its leases."""

    ifname: str = BRIDGE
    subnet: str = str(SUBNET)
    nft_table: str = NFT_TABLE
    state_dir: str = NETWORK_STATE

    @property
    def network(self) -> ipaddress.IPv4Network:
        return _parsed(self.subnet)[0]

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        return _parsed(self.subnet)[1]


@functools.lru_cache(maxsize=8)
def _parsed(subnet: str) -> tuple[ipaddress.IPv4Network, ipaddress.IPv4Address]:
    """Parsed once per process rather than on every RUN step (~40 us)."""
    network = ipaddress.IPv4Network(subnet)
    return network, next(network.hosts())


DEFAULT_BRIDGE = BridgeNetwork()
_bridge = DEFAULT_BRIDGE  # the one ``allocate`` uses; see ``use_bridge``


def use_bridge(bridge: BridgeNetwork) -> None:
    """Give this process's later ``default`` containers addresses on ``bridge``."""
    global _bridge
    _bridge = bridge


def current_bridge() -> BridgeNetwork:
    return _bridge


@dataclass(frozen=True, slots=True)
class Lease:
    container_id: str
    address: str
    host_ifname: str
    bridge: BridgeNetwork = DEFAULT_BRIDGE

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Lease:
        fields = dict(record)
        bridge = fields.pop("bridge", None)  # absent from a record written before allocate returned
        return cls(**fields, bridge=BridgeNetwork(**bridge) if bridge else DEFAULT_BRIDGE)


# --- lifecycle --------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(directory: str) -> Iterator[str]:
    os.makedirs(os.path.join(directory, "leases"), exist_ok=True)
    fd = os.open(os.path.join(directory, "lock"), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield os.path.join(directory, "leases")
    finally:
        os.close(fd)


def allocate(container_id: str) -> Lease:
    bridge = _bridge
    with _locked(bridge.state_dir) as leases:
        taken = _taken_addresses(leases)
        gateway = bridge.gateway
        address = next((str(a) for a in bridge.network.hosts() if a != gateway and str(a) not in taken), None)
        if address is None:
            raise NetworkError(f"no free address left in {bridge.subnet}")
        with open(os.path.join(leases, address), "x") as handle:
            handle.write(container_id)
        try:
            _ensure_bridge_and_nat(bridge)
        except BaseException:
            os.unlink(os.path.join(leases, address))
            raise
    return Lease(container_id, address, f"pb{container_id}"[:15], bridge)


@dataclass(frozen=True, slots=True)
class HostSide:
    """What the shim needs from pybuild's netns after it has left it."""

    rtnl: Netlink
    bridge_index: int


def open_host_side(lease: Lease) -> HostSide:
    """In the shim, before it unshares its netns: a netlink socket that keeps acting on the host's netns."""
    try:
        bridge_index = socket.if_nametoindex(lease.bridge.ifname)
    except OSError as error:
        raise NetworkError(f"bridge {lease.bridge.ifname} is gone: {error}") from error
    return HostSide(Netlink(), bridge_index)


def connect(lease: Lease, host: HostSide) -> None:
    """In the shim, in its new netns: create the veth pair (``eth0`` here, the host end on the bridge)
    and configure this netns: lo and eth0 up, the address, the default route."""
    try:
        with host.rtnl:
            host.rtnl.create_veth(lease.host_ifname, host.bridge_index, CONTAINER_IFNAME, os.getpid())
        with Netlink() as inside:
            inside.set_up(socket.if_nametoindex("lo"))
            index = socket.if_nametoindex(CONTAINER_IFNAME)
            inside.add_address(index, lease.address, lease.bridge.network.prefixlen)
            inside.set_up(index)
            inside.add_default_route(index, str(lease.bridge.gateway))
    except OSError as error:
        raise NetworkError(f"cannot connect container {lease.container_id} ({lease.host_ifname}): {error}") from error


def release(record: dict[str, Any]) -> None:
    """Free the lease. The veth pair dies with the container's netns, but the kernel reaps a dead netns
    in the background (up to some 30 ms later): deleting the host end here instead would cost ~20 ms
    of RTM_DELLINK (an RCU grace period) on every RUN. So while the host end still exists the lease
    is only marked draining (renamed ``<address>@<host ifname>``) and its address is handed out
    again once that link is gone, never to a second container while the first one's veth answers ARP."""
    lease = Lease.from_record(record)
    # The bridge and NAT table stay, like docker0: tearing them down after every RUN and setting
    # them up again before the next one cost about 100 ms a step.
    with _locked(lease.bridge.state_dir) as leases:
        names = [lease.address] if lease.address else _leases_of(leases, lease.container_id)
        for name in names:
            path = os.path.join(leases, name)
            with contextlib.suppress(FileNotFoundError):
                if lease.host_ifname and _link_exists(lease.host_ifname):
                    os.rename(path, f"{path}{_DRAINING}{lease.host_ifname}")
                else:
                    os.unlink(path)


_DRAINING = "@"


def _link_exists(ifname: str) -> bool:
    try:
        socket.if_nametoindex(ifname)
    except OSError:
        return False
    return True


def _taken_addresses(leases: str) -> set[str]:
    """Leased addresses, after freeing the draining leases whose veth the kernel has removed by now."""
    taken = set()
    for name in os.listdir(leases):
        address, draining, ifname = name.partition(_DRAINING)
        if draining and not _link_exists(ifname):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(leases, name))
            continue
        taken.add(address)
    return taken


def _leases_of(leases: str, container_id: str) -> list[str]:
    """The addresses leased to ``container_id`` (for a record written before ``allocate`` returned)."""
    found = []
    for name in os.listdir(leases):
        if _DRAINING in name:
            continue
        with contextlib.suppress(FileNotFoundError), open(os.path.join(leases, name)) as handle:
            if handle.read() == container_id:
                found.append(name)
    return found


def _ensure_bridge_and_nat(bridge: BridgeNetwork) -> None:
    """Called under the lease lock. The common case (bridge and table present) costs a few syscalls and
    one netlink round trip; pyroute2 and ``nft`` only come in for what is missing."""
    if not _link_exists(bridge.ifname):
        _create_bridge(bridge)
    if not table_exists(bridge):
        _nft(_nat_rules(bridge))
    with open("/proc/sys/net/ipv4/ip_forward", "r+") as handle:
        if handle.read().strip() != "1":
            handle.seek(0)
            handle.write("1")


def _create_bridge(bridge: BridgeNetwork) -> None:
    """The bridge with its gateway address, up; what another process (not holding our lock) did
    meanwhile is kept."""
    from pyroute2 import IPRoute  # ~300 ms: only here, on the rare path
    from pyroute2.netlink.exceptions import NetlinkError

    def unless_present(request: Any, *args: Any, **kwargs: Any) -> None:
        try:
            request(*args, **kwargs)
        except NetlinkError as error:
            if error.code != errno.EEXIST:
                raise

    try:
        with IPRoute() as ipr:
            unless_present(ipr.link, "add", ifname=bridge.ifname, kind="bridge")
            (index,) = ipr.link_lookup(ifname=bridge.ifname)
            unless_present(ipr.addr, "add", index=index, address=str(bridge.gateway),
                           prefixlen=bridge.network.prefixlen)
            ipr.link("set", index=index, state="up")
    except NetlinkError as error:
        raise NetworkError(f"cannot set up bridge {bridge.ifname}: {os.strerror(error.code)}") from error
    except (OSError, ValueError) as error:
        raise NetworkError(f"cannot set up bridge {bridge.ifname}: {error}") from error


def _nat_rules(bridge: BridgeNetwork) -> str:
    return f"""
table ip {bridge.nft_table} {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr {bridge.subnet} ip daddr != {bridge.subnet} masquerade
    }}
    chain forward {{
        type filter hook forward priority filter; policy accept;
        iifname "{bridge.ifname}" accept
        oifname "{bridge.ifname}" ct state established,related accept
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


def table_exists(bridge: BridgeNetwork = DEFAULT_BRIDGE) -> bool:
    try:
        return nft_table_exists(bridge.nft_table)
    except OSError:  # no nf_tables netlink: ask nft
        return _nft(f"list table ip {bridge.nft_table}", check=False) == 0


def lease_holders(bridge: BridgeNetwork = DEFAULT_BRIDGE) -> list[str]:
    """The container ids that hold an address now (draining leases of finished containers aside)."""
    with _locked(bridge.state_dir) as leases:
        holders = []
        for name in os.listdir(leases):
            if _DRAINING in name:
                continue
            with contextlib.suppress(FileNotFoundError), open(os.path.join(leases, name)) as handle:
                holders.append(handle.read())
        return holders
