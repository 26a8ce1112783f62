"""TLS for registries.

- docker's ``certs.d`` convention: ``<dir>/<host[:port]>/`` holds ``*.crt`` CA certificates
  (added to the system roots) and ``<name>.cert`` + ``<name>.key`` client certificate pairs.
- ``speaks_plain_http``: a cheap probe that lets an insecure registry served over plain HTTP
  skip the https attempts, which would fail anyway.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import TransportError

if TYPE_CHECKING:  # ssl costs ~10 ms to import: only a network call pays for it
    import ssl

    from .httpclient import HTTPClient


@cache
def default_context(verify: bool) -> ssl.SSLContext:
    """The system's CA store (as Go, hence docker, uses), loaded once per process; or, for
    ``verify=False`` (an insecure registry), a context that checks nothing."""
    import ssl

    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def host_cert_dirs(host: str, certs_dirs: tuple[Path, ...]) -> list[Path]:
    return [d / host for d in certs_dirs if (d / host).is_dir()]


def configure_tls(client: HTTPClient, host: str, certs_dirs: tuple[Path, ...]) -> None:
    """Give ``https://host/`` contexts with the host's extra CAs and client certificates."""
    directories = host_cert_dirs(host, certs_dirs)
    if not directories:
        return
    import ssl

    verifying = ssl.create_default_context()
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    for directory in directories:
        for ca in sorted(directory.glob("*.crt")):
            _load(verifying.load_verify_locations, ca, cafile=str(ca))
        for cert in sorted(directory.glob("*.cert")):
            key = cert.with_suffix(".key")
            if not key.is_file():
                raise TransportError(f"client certificate {cert} has no matching {key.name} (docker's "
                                     "certs.d convention: <name>.cert with <name>.key)")
            for context in (verifying, unverified):  # an insecure registry still gets the certificate
                _load(context.load_cert_chain, cert, str(cert), str(key))
        for key in sorted(directory.glob("*.key")):
            if not key.with_suffix(".cert").is_file():
                raise TransportError(f"client key {key} has no matching {key.with_suffix('.cert').name}")
    client.use_tls_contexts(host, verifying, unverified)


def _load(method: Any, path: Path, *args: Any, **kwargs: Any) -> None:
    import ssl

    try:
        method(*args, **kwargs)
    except (ssl.SSLError, OSError) as exc:
        raise TransportError(f"cannot use {path}: {exc}") from exc


# A TLS record header (handshake, TLS 1.0, 4 bytes) holding an empty ClientHello, then a blank
# line: a TLS server answers it with an alert, any plain-HTTP server with "HTTP/1.x 400".
_PROBE = b"\x16\x03\x01\x00\x04\x01\x00\x00\x00\r\n\r\n"


def speaks_plain_http(host: str, timeout: float) -> bool:
    """True only if ``host[:port]`` (port 443 by default) accepted a TCP connection and
    answered a TLS hello in plain HTTP.

    A cheap probe: one round trip, no TLS library, no CA bundle (each https attempt costs
    tens of milliseconds to load one). Anything else (refused, timeout, a TLS alert, a
    silent close) returns False: the caller then tries https the usual way.
    """
    import socket

    name, port = split_host_port(host, 443)
    try:
        with socket.create_connection((name, port), timeout=timeout) as raw:
            raw.sendall(_PROBE)
            return raw.recv(5) == b"HTTP/"
    except OSError:
        return False


def split_host_port(host: str, default_port: int) -> tuple[str, int]:
    """``name:port``, ``[v6]:port`` or a bare name -> (name, port)."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else default_port
    name, _, port = host.partition(":") if host.count(":") == 1 else (host, "", "")
    return name, int(port) if port.isdigit() else default_port
