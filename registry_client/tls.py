"""docker's ``certs.d`` convention: ``<dir>/<host[:port]>/`` holds ``*.crt`` CA certificates
(added to the system roots) and ``<name>.cert`` + ``<name>.key`` client certificate pairs."""
from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter


class _ContextAdapter(HTTPAdapter):
    """An HTTPAdapter whose TLS connections start from our SSLContext."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(*args, **kwargs)


def host_cert_dirs(host: str, certs_dirs: tuple[Path, ...]) -> list[Path]:
    return [d / host for d in certs_dirs if (d / host).is_dir()]


def mount_tls(session: requests.Session, host: str, certs_dirs: tuple[Path, ...]) -> None:
    """Give ``https://host/`` a context with the host's extra CAs and client certificates."""
    directories = host_cert_dirs(host, certs_dirs)
    if not directories:
        return
    context = ssl.create_default_context()
    for directory in directories:
        for ca in sorted(directory.glob("*.crt")):
            context.load_verify_locations(cafile=str(ca))
        for cert in sorted(directory.glob("*.cert")):
            key = cert.with_suffix(".key")
            if not key.is_file():
                raise ssl.SSLError(f"client certificate {cert} has no matching {key.name}")
            context.load_cert_chain(str(cert), str(key))
    session.mount(f"https://{host}/", _ContextAdapter(context))
