"""Which proxy a request goes through: ``HTTPS_PROXY``, ``HTTP_PROXY`` and ``NO_PROXY``, with
Go's rules (``golang.org/x/net/http/httpproxy``), which is what docker and containerd use.

- ``https://`` URLs use ``HTTPS_PROXY``, ``http://`` URLs ``HTTP_PROXY`` (upper case first,
  then lower case); a proxy given without a scheme is ``http://``.
- ``localhost`` and loopback addresses are never proxied.
- ``NO_PROXY`` is a comma list: ``*`` (no proxy at all), IP addresses and CIDRs, and domain
  names, each optionally with ``:port``. ``example.com`` matches it and its subdomains,
  ``.example.com`` (or ``*.example.com``) only the subdomains.
- An ``https://`` proxy is reached over TLS, always verified (against the system's CAs and
  ``certs.d/<proxy host:port>/``; see tls.HostTLS.proxy_context). ``user:password@`` in the
  proxy URL is sent as ``Proxy-Authorization: Basic`` on CONNECT and on forwarded requests
  (requests does that); errors name the proxy by ``host:port`` only, never its credentials.

The environment is read once per ``ProxySettings``, not per request (requests' own lookup
walked ``os.environ`` on every call, ~0.6 ms a request on the pull path).
"""
from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ipaddress


@dataclass(frozen=True, slots=True)
class _NoProxyEntry:
    host: str  # a domain (".example.com" form), an IP address, or "" for a CIDR
    port: str = ""
    match_host: bool = False  # the bare domain itself matches too
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None

    def matches(self, host: str, port: str) -> bool:
        if self.network is not None:
            return _ip(host) in self.network if _ip(host) is not None else False
        if self.port and self.port != port:
            return False
        address = _ip(self.host)
        if address is not None:
            return _ip(host) == address
        return host.endswith(self.host) or (self.match_host and host == self.host[1:])


@dataclass(frozen=True, slots=True)
class ProxySettings:
    https_proxy: str = ""
    http_proxy: str = ""
    no_proxy: tuple[_NoProxyEntry, ...] = ()
    bypass_all: bool = False

    @classmethod
    def from_environment(cls) -> ProxySettings:
        environ = os.environ
        entries: list[_NoProxyEntry] = []
        bypass_all = False
        for raw in _env(environ, "NO_PROXY").split(","):
            text = raw.strip().lower()
            if text == "*":
                bypass_all = True
            elif text:
                entries.append(_no_proxy_entry(text))
        return cls(_with_scheme(_env(environ, "HTTPS_PROXY")), _with_scheme(_env(environ, "HTTP_PROXY")),
                   tuple(entries), bypass_all)

    def proxy_for(self, url: str) -> str | None:
        """The proxy URL to send ``url`` through, or None for a direct connection."""
        parts = urllib.parse.urlsplit(url)
        proxy = self.https_proxy if parts.scheme == "https" else self.http_proxy if parts.scheme == "http" else ""
        if not proxy or self.bypass_all:
            return None
        host = (parts.hostname or "").lower()
        if host == "localhost" or (_ip(host) is not None and _ip(host).is_loopback):  # type: ignore[union-attr]
            return None
        port = str(parts.port or (443 if parts.scheme == "https" else 80))
        if any(entry.matches(host, port) for entry in self.no_proxy):
            return None
        return proxy


def _env(environ: os._Environ[str], name: str) -> str:
    return environ.get(name) or environ.get(name.lower()) or ""


def _with_scheme(proxy: str) -> str:
    return proxy if not proxy or "://" in proxy else f"http://{proxy}"


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    import ipaddress  # imported only when a proxy is configured

    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _no_proxy_entry(text: str) -> _NoProxyEntry:
    if "/" in text:
        import ipaddress

        try:
            return _NoProxyEntry("", network=ipaddress.ip_network(text, strict=False))
        except ValueError:
            pass
    host, port = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    if _ip(host) is not None:
        return _NoProxyEntry(host, port)
    if host.startswith("*."):
        host = host[1:]
    match_host = not host.startswith(".")
    return _NoProxyEntry(host if host.startswith(".") else f".{host}", port, match_host)


def proxy_address(proxy: str) -> str:
    """``host:port`` of a proxy URL, without the ``user:password@`` it may carry."""
    return urllib.parse.urlsplit(proxy).netloc.rpartition("@")[2]
