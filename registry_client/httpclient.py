"""HTTP for one registry endpoint: a ``requests.Session`` set up so that nothing reaches a
request implicitly.

- ``trust_env=False``: no ``~/.netrc`` credentials (they would reach a CDN after a redirect
  strips ours), no ``REQUESTS_CA_BUNDLE``, no proxy variables read by requests. The proxy of
  each URL is passed explicitly, as ``ProxySettings`` (Go's rules) decides it.
- Redirects are never followed here: ``transport.Endpoint`` follows them, so
  ``Authorization`` stays on the registry's own origin. No cookies are kept.
- ``Accept-Encoding: identity`` and raw reads of blob bodies: the bytes hashed are the bytes
  the registry stored.
- TLS and pooling come from ``tls.adapter_class()``: the system's CAs plus certs.d, client
  certificates also on unverified connections, a pool per host as large as the parallel
  downloads, no retries (the transport retries).

requests (with urllib3) costs ~100 ms to import: it is imported on the first request, so
commands that never reach a registry do not pay for it. Every failure to connect, send or
receive raises ``ConnectionFailed``.
"""
from __future__ import annotations

import threading
import urllib.parse
from functools import cache
from typing import TYPE_CHECKING, BinaryIO, Iterator, Mapping

from .errors import RegistryError
from .proxies import ProxySettings, proxy_address
from .tls import HostTLS, adapter_class

if TYPE_CHECKING:
    import requests


class ConnectionFailed(RegistryError):
    """The connection could not be made, or broke while sending or receiving.

    ``reason`` is the innermost error (an ``ssl.SSLError``, ``ConnectionRefusedError``...),
    which tells what is worth trying next.
    """

    def __init__(self, message: str, reason: BaseException | None = None, *, proxy: str | None = None,
                 proxy_refused: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.proxy = proxy  # host:port of the proxy it failed at (never its credentials), else None
        self.proxy_refused = proxy_refused  # a 407: the proxy wants (other) credentials; retrying cannot help


@cache
def _failures() -> tuple[type[BaseException], ...]:
    """What requests and urllib3 raise for a connection that failed or broke off mid-body."""
    import requests
    import urllib3

    return (requests.RequestException, urllib3.exceptions.HTTPError)


def _error_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors under requests' and urllib3's wrappers (MaxRetryError, ProtocolError...)."""
    yield exc
    for _ in range(8):
        nested = getattr(exc, "reason", None)
        if not isinstance(nested, BaseException):
            nested = next((arg for arg in exc.args if isinstance(arg, BaseException)), None)
        if nested is None and isinstance(exc.__cause__, OSError):
            nested = exc.__cause__  # NewConnectionError from ECONNREFUSED, a timeout...
        if nested is None:
            return
        exc = nested
        yield exc


def _innermost(exc: BaseException) -> BaseException:
    """The error under requests' and urllib3's wrappers."""
    *_, innermost = _error_chain(exc)
    return innermost


def _failure(exc: BaseException, url: str, proxy: str | None) -> ConnectionFailed:
    import http.client

    reason = _innermost(exc)
    text = str(reason).strip() or type(reason).__name__
    if isinstance(reason, http.client.BadStatusLine):
        text = f"not an HTTP response: {text[:80]!r}"
    if proxy is not None and _failed_at_proxy(exc, reason):
        address = proxy_address(proxy)
        refused = text.startswith("Tunnel connection failed: 407")  # http.client's words for a CONNECT's 407
        return ConnectionFailed(f"proxy {address}: {text}", reason, proxy=address, proxy_refused=refused)
    return ConnectionFailed(f"{urllib.parse.urlsplit(url).netloc}: {text}", reason)


def _failed_at_proxy(exc: BaseException, reason: BaseException) -> bool:
    """Whether the proxy failed (unreachable, its TLS, a refused CONNECT), not the registry behind it."""
    import requests
    import urllib3

    if str(reason).startswith("Tunnel connection failed"):  # http.client's CONNECT answered non-2xx
        return True
    proxy_errors = (requests.exceptions.ProxyError, urllib3.exceptions.ProxyError)
    return any(isinstance(error, proxy_errors) for error in _error_chain(exc))


class HTTPClient:
    """The connections of one registry endpoint (and of the token servers and CDNs it sends
    us to); thread-safe."""

    def __init__(self, proxies: ProxySettings, timeout: tuple[float, float], user_agent: str, *,
                 tls: HostTLS, pool_size: int) -> None:
        self.proxies = proxies
        self.timeout = timeout
        self.user_agent = user_agent
        self.tls = tls
        self.pool_size = pool_size
        self.verify = True  # False: TLS without verification (a registry the user listed insecure)
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                body: bytes | BinaryIO | None = None, verify: bool | None = None,
                stream: bool = False) -> requests.Response:
        """Send one request. Its body is read before returning unless ``stream``; a streamed
        body is read by the caller (``body_chunks``) or dropped by ``close()``."""
        verify = self.verify if verify is None else verify
        proxy = self.proxies.proxy_for(url)
        scheme = urllib.parse.urlsplit(url).scheme
        if not verify and scheme == "https":
            _quiet_unverified_warning(url)
        try:
            response = self._requests_session().request(
                method, url, headers=headers, data=body, stream=stream, verify=verify,
                proxies={scheme: proxy} if proxy else None, allow_redirects=False, timeout=self.timeout)
        except _failures() as exc:
            raise _failure(exc, url, proxy) from exc
        if proxy and response.status_code == 407:  # the proxy's answer (to a request it would forward)
            drain(response)
            address = proxy_address(proxy)
            raise ConnectionFailed(f"proxy {address}: 407 {response.reason}", proxy=address, proxy_refused=True)
        return response

    def _requests_session(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                self._session = _new_session(self)
            return self._session


def _new_session(client: HTTPClient) -> requests.Session:
    import http.cookiejar

    import requests

    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = client.user_agent
    session.headers["Accept-Encoding"] = "identity"
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))  # none kept
    adapter = adapter_class()(client.tls, client.pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def body_chunks(response: requests.Response, chunk_size: int) -> Iterator[bytes]:
    """The body's raw bytes, never decoded (a Content-Encoding from a CDN must not change what
    is hashed). A body shorter than its Content-Length simply ends early, and a connection
    that breaks raises ConnectionFailed: either way the caller resumes from what it has."""
    raw = response.raw
    raw.enforce_content_length = False  # else urllib3 discards the bytes of a short read
    try:
        yield from raw.stream(chunk_size, decode_content=False)
    except _failures() as exc:
        raise _failure(exc, response.url, None) from exc


def _quiet_unverified_warning(url: str) -> None:
    """Unverified TLS to a registry the user listed as insecure is deliberate: urllib3's
    warning is silenced for that host only (the filter matches urllib3's message)."""
    import re
    import warnings

    from urllib3.exceptions import InsecureRequestWarning

    host = urllib.parse.urlsplit(url).hostname or ""
    warnings.filterwarnings("ignore", f"Unverified HTTPS request is being made to host '{re.escape(host)}'",
                            InsecureRequestWarning)


def drain(response: requests.Response, limit: int = 64 << 10) -> None:
    """Read a small unread body before closing, so its connection goes back to the pool
    (requests closes the connection of a streamed response that was not read)."""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) <= limit:
        try:
            response.content
        except _failures():
            pass
    response.close()
