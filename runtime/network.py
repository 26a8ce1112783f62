"""Container networking over raw rtnetlink/nfnetlink sockets (no pyroute2: importing it cost ~250 ms).

Modes: ``host`` shares pybuild's netns; ``none`` is a fresh netns with only ``lo`` (see
``namespaces.bring_up_loopback``); ``default`` is a fresh netns with a veth pair whose host end is
enslaved to the ``pybuild0`` bridge, and an nftables ``masquerade`` rule for outbound NAT.

Lifecycle: ``allocate`` (pybuild) reserves an address (a lease file under ``NETWORK_STATE/leases``) and
makes sure the bridge and the nft table exist; the shim then calls ``open_host_side`` while still in
pybuild's netns, unshares its own netns and calls ``connect``: one RTM_NEWLINK creates the veth pair,
host end up and enslaved to the bridge, container end born as ``eth0`` in the shim's netns, and a
socket opened in the new netns configures ``lo``, ``eth0``, the address and the default route. No
round trip to pybuild is needed, and when the container dies the kernel destroys the pair with its
netns. ``release`` frees the address (once the kernel has removed the pair: see ``release``) and
leaves the bridge and the nft table in place, like docker0. Leases are serialised by an ``flock`` on ``NETWORK_STATE/lock``. IPv4
forwarding is switched on and left on, as Docker does.

The bridge, the subnet and the nft table are host-wide, so the leases are too, whatever ``--root`` a
pybuild uses: per-root leases let one root remove the bridge under another's containers and hand out
an address another root already uses.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import os
import socket
import struct
import subprocess
from dataclasses import asdict, dataclass
from typing import Any, Iterator

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


# --- a minimal netlink client -------------------------------------------------------------------

_NETLINK_ROUTE = 0
_NETLINK_NETFILTER = 12
_NLM_F_REQUEST = 0x1
_NLM_F_ACK = 0x4
_NLM_F_EXCL = 0x200
_NLM_F_CREATE = 0x400
_NLMSG_ERROR = 2
_NLA_F_NESTED = 0x8000
_RTM_NEWLINK = 16
_RTM_NEWADDR = 20
_RTM_NEWROUTE = 24
_IFLA_IFNAME = 3
_IFLA_MASTER = 10
_IFLA_LINKINFO = 18
_IFLA_NET_NS_PID = 19
_IFLA_INFO_KIND = 1
_IFLA_INFO_DATA = 2
_VETH_INFO_PEER = 1
_IFA_ADDRESS = 1
_IFA_LOCAL = 2
_RTA_OIF = 4
_RTA_GATEWAY = 5
_IFF_UP = 0x1
_RT_TABLE_MAIN = 254
_RTPROT_BOOT = 3
_RT_SCOPE_UNIVERSE = 0
_RTN_UNICAST = 1
_NFT_MSG_GETTABLE = (10 << 8) | 1  # NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETTABLE
_NFTA_TABLE_NAME = 1


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _name(value: str) -> bytes:
    return value.encode() + b"\0"


def _ifinfo(index: int = 0, up: bool = False) -> bytes:
    flag = _IFF_UP if up else 0
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, flag, flag)


class Netlink:
    """One netlink socket of the netns it was opened in; requests are acknowledged one by one."""

    def __init__(self, protocol: int = _NETLINK_ROUTE) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, protocol)
        self._seq = 0
        try:
            self._sock.bind((0, 0))
        except BaseException:
            self._sock.close()
            raise

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(self, kind: int, body: bytes, flags: int = 0, what: str = "netlink request") -> None:
        """Send one message and wait for its acknowledgement; a kernel error becomes ``OSError``."""
        self._seq += 1
        header = struct.pack("=IHHII", 16 + len(body), kind, flags | _NLM_F_REQUEST | _NLM_F_ACK, self._seq, 0)
        self._sock.send(header + body)
        while True:
            data = self._sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, reply, _flags, seq, _port = struct.unpack_from("=IHHII", data, offset)
                if reply == _NLMSG_ERROR and seq == self._seq:
                    code = -struct.unpack_from("=i", data, offset + 16)[0]
                    if code:
                        raise OSError(code, f"{what}: {os.strerror(code)}")
                    return
                offset += max((length + 3) & ~3, 16)

    def set_up(self, index: int) -> None:
        self.request(_RTM_NEWLINK, _ifinfo(index, up=True), what=f"link {index} up")

    def add_address(self, index: int, address: str, prefixlen: int) -> None:
        raw = socket.inet_aton(address)
        body = struct.pack("=BBBBI", socket.AF_INET, prefixlen, 0, _RT_SCOPE_UNIVERSE, index)
        body += _attr(_IFA_LOCAL, raw) + _attr(_IFA_ADDRESS, raw)
        self.request(_RTM_NEWADDR, body, _NLM_F_CREATE | _NLM_F_EXCL, f"add address {address} to link {index}")


def _nft_table_exists() -> bool:
    """``nft list table ip pybuild`` in one nfnetlink round trip instead of a subprocess."""
    body = struct.pack("=BBH", socket.AF_INET, 0, 0) + _attr(_NFTA_TABLE_NAME, _name(NFT_TABLE))
    try:
        with Netlink(_NETLINK_NETFILTER) as nfnl:
            nfnl.request(_NFT_MSG_GETTABLE, body, what=f"get nft table {NFT_TABLE}")
    except OSError as error:
        if error.errno == errno.ENOENT:
            return False
        return _nft(f"list table ip {NFT_TABLE}", check=False) == 0  # no nf_tables netlink: ask nft
    return True


# --- lifecycle --------------------------------------------------------------------------------


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
        taken = _taken_addresses(leases)
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


@dataclass(frozen=True, slots=True)
class HostSide:
    """What the shim needs from pybuild's netns after it has left it."""

    rtnl: Netlink
    bridge_index: int


def open_host_side() -> HostSide:
    """In the shim, before it unshares its netns: a netlink socket that keeps acting on the host's netns."""
    try:
        bridge_index = socket.if_nametoindex(BRIDGE)
    except OSError as error:
        raise NetworkError(f"bridge {BRIDGE} is gone: {error}") from error
    return HostSide(Netlink(), bridge_index)


def connect(lease: Lease, host: HostSide) -> None:
    """In the shim, in its new netns: create the veth pair (``eth0`` here, the host end on the bridge)
    and configure this netns: lo and eth0 up, the address, the default route."""
    peer = _ifinfo() + _attr(_IFLA_IFNAME, _name(CONTAINER_IFNAME)) + _attr(_IFLA_NET_NS_PID, struct.pack("=I", os.getpid()))
    linkinfo = _attr(_IFLA_INFO_KIND, _name("veth")) + _attr(
        _IFLA_INFO_DATA | _NLA_F_NESTED, _attr(_VETH_INFO_PEER | _NLA_F_NESTED, peer))
    body = (_ifinfo(up=True) + _attr(_IFLA_IFNAME, _name(lease.host_ifname))
            + _attr(_IFLA_MASTER, struct.pack("=I", host.bridge_index))
            + _attr(_IFLA_LINKINFO | _NLA_F_NESTED, linkinfo))
    try:
        with host.rtnl:
            host.rtnl.request(_RTM_NEWLINK, body, _NLM_F_CREATE | _NLM_F_EXCL, f"create veth {lease.host_ifname}")
        with Netlink() as inside:
            inside.set_up(socket.if_nametoindex("lo"))
            index = socket.if_nametoindex(CONTAINER_IFNAME)
            inside.add_address(index, lease.address, SUBNET.prefixlen)
            inside.set_up(index)
            gateway = _attr(_RTA_GATEWAY, socket.inet_aton(str(GATEWAY))) + _attr(_RTA_OIF, struct.pack("=I", index))
            route = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, _RT_TABLE_MAIN, _RTPROT_BOOT,
                                _RT_SCOPE_UNIVERSE, _RTN_UNICAST, 0)
            inside.request(_RTM_NEWROUTE, route + gateway, _NLM_F_CREATE | _NLM_F_EXCL, f"default route via {GATEWAY}")
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
    with _locked() as leases:
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


def _ensure_bridge_and_nat() -> None:
    """Called under the lease lock. The common case (bridge up, table present) costs two syscalls
    and one netlink round trip; ``nft`` only runs when the table is missing."""
    try:
        socket.if_nametoindex(BRIDGE)
    except OSError:
        _create_bridge()
    if not _nft_table_exists():
        with open("/proc/sys/net/ipv4/ip_forward", "w") as handle:
            handle.write("1")
        _nft(_NFT_RULES)
    else:
        with open("/proc/sys/net/ipv4/ip_forward", "r+") as handle:
            if handle.read().strip() != "1":
                handle.seek(0)
                handle.write("1")


def _create_bridge() -> None:
    body = _ifinfo() + _attr(_IFLA_IFNAME, _name(BRIDGE)) + _attr(
        _IFLA_LINKINFO | _NLA_F_NESTED, _attr(_IFLA_INFO_KIND, _name("bridge")))
    try:
        with Netlink() as rtnl:
            try:
                rtnl.request(_RTM_NEWLINK, body, _NLM_F_CREATE | _NLM_F_EXCL, f"create bridge {BRIDGE}")
            except FileExistsError:
                return  # created meanwhile by someone not holding our lock
            index = socket.if_nametoindex(BRIDGE)
            rtnl.add_address(index, str(GATEWAY), SUBNET.prefixlen)
            rtnl.set_up(index)
    except OSError as error:
        raise NetworkError(f"cannot set up bridge {BRIDGE}: {error}") from error


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
    return _nft_table_exists()


def lease_holders() -> list[str]:
    """The container ids that hold an address now (draining leases of finished containers aside)."""
    with _locked() as leases:
        holders = []
        for name in os.listdir(leases):
            if _DRAINING in name:
                continue
            with contextlib.suppress(FileNotFoundError), open(os.path.join(leases, name)) as handle:
                holders.append(handle.read())
        return holders
