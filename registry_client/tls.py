"""TLS for registries: the contexts HTTPS connections start from, and the requests adapter
that hands them to urllib3.

- Trust: the system's CA store, as Go (hence docker) uses it, plus docker's ``certs.d``
  convention: ``<dir>/<host[:port]>/`` holds ``*.crt`` CA certificates (added to the system
  roots) and ``<name>.cert`` + ``<name>.key`` client certificate pairs.
- An insecure registry (``verify=False``) gets a context that checks nothing but still
  presents the host's client certificates, as docker does.
- The verifying context (the system's CAs) is built when a verified connection is first made,
  not before: pulling from a plain-HTTP loopback registry never loads the CA bundle.
- ``answered_in_plain_http`` recognises the error of a TLS hello answered by a plain-HTTP
  server, so the failure can say what to do about it.

ssl and requests are imported when the first HTTPS connection is made, not with this module.
"""
from __future__ import annotations

import os
import threading
import urllib.parse
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import TransportError
from .proxies import proxy_address

if TYPE_CHECKING:
    import ssl

UPLOAD_BLOCK = 256 << 10  # bytes per send() of a streamed upload (urllib3 sends 16 KiB otherwise)

# OpenSSL's reasons when the "server hello" is really the start of a plain-HTTP answer
# (a Go server answers "HTTP/1.0 400 Bad Request" to a TLS hello).
_PLAIN_HTTP_REASONS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG",
                                 "HTTP_REQUEST"})


class ContextPair:
    """A verifying context and an unverified one (for insecure registries), presenting the same
    client certificates.

    The verifying context is built on first use: the system's CA store costs ~35-50 ms to load
    (a whole bundle when SSL_CERT_FILE names one), and a plain-HTTP or insecure registry never
    needs it; dockerd's https probe of such a registry is unverified. What certs.d holds is
    checked when the pair is made, so a broken directory still fails at once.
    """

    __slots__ = ("unverified", "_extra_cas", "_client_pairs", "_verifying", "_lock")

    def __init__(self, extra_cas: tuple[Path, ...] = (), client_pairs: tuple[tuple[Path, Path], ...] = ()) -> None:
        import ssl

        self._extra_cas = extra_cas
        self._client_pairs = client_pairs
        self.unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no CAs loaded: it verifies nothing
        self.unverified.check_hostname = False
        self.unverified.verify_mode = ssl.CERT_NONE
        _load_client_certificates(self.unverified, client_pairs)  # an insecure registry still presents them
        self._verifying: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    @property
    def verifying(self) -> ssl.SSLContext:
        with self._lock:
            if self._verifying is None:
                try:
                    context = _system_trust_context()
                except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                    names = ("SSL_CERT_FILE", "SSL_CERT_DIR")
                    where = ", ".join(f"{name}={os.environ[name]}" for name in names if os.environ.get(name))
                    raise TransportError(f"cannot load the system's CA certificates"
                                         f"{f' ({where})' if where else ''}: {exc}") from exc
                for ca in self._extra_cas:
                    _load(context.load_verify_locations, ca, cafile=str(ca))
                _load_client_certificates(context, self._client_pairs)
                self._verifying = context
            return self._verifying

    @property
    def verifying_built(self) -> bool:
        """Whether the verifying context (with the system's CAs) has been needed so far."""
        return self._verifying is not None


def _system_trust_context() -> ssl.SSLContext:
    """A client context trusting the system's CAs.

    The hashed CA directory is read lazily by OpenSSL (only the certificates a server's
    chain needs), where loading the bundle file costs ~35 ms per process. SSL_CERT_FILE and
    SSL_CERT_DIR are honoured, as Go honours them.
    """
    import ssl

    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if not (cafile or capath):
        capath = ssl.get_default_verify_paths().capath
        if not (capath and _has_hashed_certificates(capath)):
            return ssl.create_default_context()
    return ssl.create_default_context(cafile=cafile or None, capath=capath or None)


def _has_hashed_certificates(directory: str) -> bool:
    try:
        with os.scandir(directory) as entries:
            return any(entry.name.endswith(".0") for entry in entries)
    except OSError:
        return False


@cache
def default_contexts() -> ContextPair:
    """The contexts of every host without a certs.d directory, made once per process."""
    return ContextPair()


def host_cert_dirs(host: str, certs_dirs: tuple[Path, ...]) -> list[Path]:
    return [d / host for d in certs_dirs if (d / host).is_dir()]


def certs_d_contexts(host: str, certs_dirs: tuple[Path, ...]) -> ContextPair | None:
    """Contexts with ``host``'s extra CAs and client certificates, or None if it has none.

    Every file is read now: a CA that does not load or a certificate without its key is
    reported before any connection, whichever context the connections turn out to need.
    """
    directories = host_cert_dirs(host, certs_dirs)
    if not directories:
        return None
    extra_cas: list[Path] = []
    client_pairs: list[tuple[Path, Path]] = []
    for directory in directories:
        for ca in sorted(directory.glob("*.crt")):
            _check_ca(ca)
            extra_cas.append(ca)
        for cert in sorted(directory.glob("*.cert")):
            key = cert.with_suffix(".key")
            if not key.is_file():
                raise TransportError(f"client certificate {cert} has no matching {key.name} (docker's "
                                     "certs.d convention: <name>.cert with <name>.key)")
            client_pairs.append((cert, key))
        for key in sorted(directory.glob("*.key")):
            if not key.with_suffix(".cert").is_file():
                raise TransportError(f"client key {key} has no matching {key.with_suffix('.cert').name}")
    return ContextPair(tuple(extra_cas), tuple(client_pairs))  # loads (so checks) the client pairs


def _check_ca(ca: Path) -> None:
    """Load one CA file into a bare context (cheap: no system store), to fail early if it is bad."""
    import ssl

    _load(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations, ca, cafile=str(ca))


def _load_client_certificates(context: ssl.SSLContext, client_pairs: tuple[tuple[Path, Path], ...]) -> None:
    for cert, key in client_pairs:
        _load(context.load_cert_chain, cert, str(cert), str(key))


def _load(method: Any, path: Path, *args: Any, **kwargs: Any) -> None:
    import ssl

    try:
        method(*args, **kwargs)
    except (ssl.SSLError, OSError) as exc:
        raise TransportError(f"cannot use {path}: {exc}") from exc


class HostTLS:
    """The TLS of one registry endpoint: its host's certs.d contexts; the other hosts it
    sends us to (token servers, CDNs) get the system's."""

    def __init__(self, host: str, certs_dirs: tuple[Path, ...]) -> None:
        self.host = host
        self._certs_dirs = certs_dirs
        self._own = certs_d_contexts(host, certs_dirs)  # now: a broken certs.d fails at once

    def proxy_context(self, netloc: str) -> ssl.SSLContext:
        """The context of TLS to an ``https://`` proxy at ``netloc``: always verified (listing a
        registry as insecure says nothing about the proxy), against the system's CAs plus those
        in ``certs.d/<proxy host:port>/``, whose client certificates it presents too. Asked once
        per proxy: the adapter keeps the proxy's pool manager."""
        return (certs_d_contexts(netloc, self._certs_dirs) or default_contexts()).verifying

    def contexts(self, netloc: str) -> ContextPair:
        return self._own if self._own is not None and netloc == self.host else default_contexts()

    def context(self, netloc: str, verify: bool) -> ssl.SSLContext:
        pair = self.contexts(netloc)
        return pair.verifying if verify else pair.unverified


@cache
def adapter_class() -> type:
    """``RegistryAdapter``: requests' HTTPAdapter with our contexts (built on first use, so
    that importing registry_client does not import requests)."""
    from requests.adapters import HTTPAdapter

    class RegistryAdapter(HTTPAdapter):
        """Connections of one endpoint: pooled per host (``pool_size`` each, enough for the
        parallel downloads), never retried here (transport.Endpoint retries), TLS from
        ``HostTLS`` instead of a CA file loaded per connection."""

        def __init__(self, tls: HostTLS, pool_size: int) -> None:
            self._tls = tls
            super().__init__(pool_maxsize=pool_size, max_retries=0)

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, blocksize=UPLOAD_BLOCK, **kwargs)

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            if proxy not in self.proxy_manager and proxy.lower().startswith("https:"):
                # TLS to the proxy itself: for CONNECT tunnels (proxy_ssl_context) and for plain-HTTP
                # requests it forwards (ssl_context of its pool; an https target's pool has its own).
                context = self._tls.proxy_context(proxy_address(proxy))
                kwargs.update(proxy_ssl_context=context, ssl_context=context)
            return super().proxy_manager_for(proxy, blocksize=UPLOAD_BLOCK, **kwargs)

        def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
            if host_params["scheme"] == "https":
                netloc = urllib.parse.urlsplit(request.url).netloc
                pool_kwargs["ssl_context"] = self._tls.context(netloc, verify is not False)
            return host_params, pool_kwargs

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            # The trust is in the context: no CA bundle path for urllib3 to load on each connection.
            # TLS on the way to an http:// URL can only be to an https:// proxy: always verified.
            conn.cert_reqs = "CERT_REQUIRED" if verify or not url.lower().startswith("https:") else "CERT_NONE"
            conn.ca_certs = conn.ca_cert_dir = None

    return RegistryAdapter


def answered_in_plain_http(reason: BaseException | None) -> bool:
    """Whether a TLS handshake failed because the server answered in plain HTTP."""
    import ssl

    return isinstance(reason, ssl.SSLError) and reason.reason in _PLAIN_HTTP_REASONS
