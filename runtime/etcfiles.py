"""The generated /etc/resolv.conf, /etc/hosts and /etc/hostname a container sees (BuildKit's rules)."""
from __future__ import annotations

import ipaddress
import re

from runtime.spec import NetworkMode

FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")  # Docker's defaults when the host only has loopback ones


def resolv_conf(host_text: str, network: NetworkMode) -> str:
    """The host's resolv.conf; in a private netns loopback resolvers are unreachable, so drop them."""
    if network == "host":
        return host_text
    kept = [line for line in host_text.splitlines() if not _is_loopback_nameserver(line)]
    if not any(line.split()[:1] == ["nameserver"] for line in kept):
        kept += [f"nameserver {address}" for address in FALLBACK_NAMESERVERS]
    return "\n".join(kept) + "\n"


def _is_loopback_nameserver(line: str) -> bool:
    match = re.match(r"\s*nameserver\s+(\S+)", line)
    if not match:
        return False
    try:
        return ipaddress.ip_address(match.group(1).split("%")[0]).is_loopback
    except ValueError:
        return False


HOST_GATEWAY = "host-gateway"  # an --add-host address that stands for the bridge's gateway (the host)


def hosts(hostname: str, address: str | None = None, extra: tuple[tuple[str, str], ...] = ()) -> str:
    """The hosts file: localhost lines, the container's own address (docker run only), then ``--add-host`` entries."""
    lines = [f"127.0.0.1\tlocalhost {hostname}", "::1\tlocalhost ip6-localhost ip6-loopback"]
    if address:
        lines.append(f"{address}\t{hostname}")
    lines += [f"{_host_address(ip)}\t{name}" for name, ip in extra]
    return "\n".join(lines) + "\n"


def _host_address(address: str) -> str:
    if address != HOST_GATEWAY:
        return address
    from runtime.network import current_bridge  # only when asked for: the network module is not needed otherwise

    return str(current_bridge().gateway)
