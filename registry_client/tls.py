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

if TYPE_CHECKING:  # requests (and ssl) cost ~100 ms to import: only a network call pays for them
    import ssl

    import requests


@cache
def _context_adapter_class() -> type:
    """An HTTPAdapter whose TLS connections start from our SSLContext (built on first use)."""
    from requests.adapters import HTTPAdapter

    class ContextAdapter(HTTPAdapter):
        def __init__(self, context: ssl.SSLContext) -> None:
            self._context = context
            super().__init__()

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = self._context
            super().init_poolmanager(*args, **kwargs)

        def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
            kwargs["ssl_context"] = self._context
            return super().proxy_manager_for(*args, **kwargs)

    return ContextAdapter


def host_cert_dirs(host: str, certs_dirs: tuple[Path, ...]) -> list[Path]:
    return [d / host for d in certs_dirs if (d / host).is_dir()]


def mount_tls(session: requests.Session, host: str, certs_dirs: tuple[Path, ...]) -> None:
    """Give ``https://host/`` a context with the host's extra CAs and client certificates."""
    directories = host_cert_dirs(host, certs_dirs)
    if not directories:
        return
    import ssl

    context = ssl.create_default_context()
    for directory in directories:
        for ca in sorted(directory.glob("*.crt")):
            context.load_verify_locations(cafile=str(ca))
        for cert in sorted(directory.glob("*.cert")):
            key = cert.with_suffix(".key")
            if not key.is_file():
                raise ssl.SSLError(f"client certificate {cert} has no matching {key.name}")
            context.load_cert_chain(str(cert), str(key))
    session.mount(f"https://{host}/", _context_adapter_class()(context))


# OpenSSL's reasons when the "server hello" is really the start of a plain-HTTP answer.
_PLAIN_HTTP_REASONS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG",
                                 "HTTP_REQUEST", "UNEXPECTED_EOF_WHILE_READING"})


def speaks_plain_http(host: str, timeout: float) -> bool:
    """True only if ``host[:port]`` (port 443 by default) accepted a TCP connection and then
    failed a TLS handshake the way a plain-HTTP server does.

    A cheap probe: its context loads no CA bundle, where each https attempt through requests
    costs tens of milliseconds to load one. Anything else (refused, timeout, a TLS alert
    such as a client certificate being required) returns False: the caller then probes
    the usual way.
    """
    import socket
    import ssl

    name, port = split_host_port(host, 443)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((name, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=name):
                return False
    except ssl.SSLError as exc:
        return (exc.reason or "") in _PLAIN_HTTP_REASONS
    except OSError:
        return False


def split_host_port(host: str, default_port: int) -> tuple[str, int]:
    """``name:port``, ``[v6]:port`` or a bare name -> (name, port)."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else default_port
    name, _, port = host.partition(":") if host.count(":") == 1 else (host, "", "")
    return name, int(port) if port.isdigit() else default_port
