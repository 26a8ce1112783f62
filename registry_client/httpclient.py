"""HTTP/1.1 for registry traffic: pooled connections over ``wire``.

Why not requests (nor ``http.client``): importing requests and urllib3 cost ~100 ms, a third
of a ``pybuild pull`` of a 50 MB image, and ``http.client`` still brings the ``email``
package. What a registry client needs is small, and is all here and in ``wire``:

- keep-alive connections pooled per (scheme, host, port, TLS verification, proxy), thread-safe;
- TLS from an ``SSLContext`` per host (docker's certs.d: extra CAs, client certificates), or
  an unverified one for registries the user listed as insecure;
- proxies (``ProxySettings``): ``CONNECT`` tunnels for https, absolute-URI requests for http;
- no redirect following, no cookies, no ``~/.netrc``, no content decoding: callers follow
  redirects themselves (so a CDN never sees ``Authorization``) and hash the bytes received.

Every failure to connect, send or read raises ``ConnectionFailed``.
"""
from __future__ import annotations

import base64
import json
import os
import select
import socket
import threading
import urllib.parse
from typing import Any, BinaryIO, Mapping

from .proxies import ProxySettings
from .wire import READ_BUFFER, Body, Headers, ProtocolViolation, connect, read_head, send_request

DRAIN_LIMIT = 64 << 10  # an unread body up to this size is read so the connection can be reused


class ConnectionFailed(Exception):
    """The connection could not be made, or broke while sending or receiving."""


def _failure(exc: BaseException, url: str) -> ConnectionFailed:
    text = str(exc) or type(exc).__name__
    return ConnectionFailed(f"{urllib.parse.urlsplit(url).netloc}: {text}")


class _Link:
    """One open connection: its socket and a buffered reader over it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb", buffering=READ_BUFFER)

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


class Response:
    """The parts of a response callers use (named as in requests), streaming its body."""

    def __init__(self, pool: HTTPClient, key: tuple, link: _Link, status: int, reason: str,
                 headers: Headers, body: Body, url: str) -> None:
        self._pool, self._key, self._link, self._body = pool, key, link, body
        self.url = url
        self.status_code = status
        self.reason = reason
        self.headers = headers  # case-insensitive lookups
        self._content: bytes | None = None

    def readinto(self, buffer: memoryview) -> int:
        """Body bytes into ``buffer``; 0 at the end, also when the connection broke early
        (callers compare what they got with what they expected)."""
        try:
            return self._body.readinto(buffer)
        except (OSError, ProtocolViolation) as exc:
            raise _failure(exc, self.url) from exc

    @property
    def content(self) -> bytes:
        if self._content is None and self._link is None:
            return b""  # closed before its body was read: that body is gone
        if self._content is None:
            try:
                self._content = self._body.read_all()
            except (OSError, ProtocolViolation) as exc:
                raise _failure(exc, self.url) from exc
            finally:
                self.close()
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def close(self) -> None:
        """Give the connection back to the pool if its response was read to the end."""
        link, self._link = self._link, None
        if link is None:
            return
        body = self._body
        if not body.done and body.length is not None and body.length <= DRAIN_LIMIT:
            try:
                self._content = body.read_all()  # kept: an error body may still be looked at
            except (OSError, ProtocolViolation):
                pass
        if body.done and body.complete and not body.will_close:
            self._pool._give_back(self._key, link)
        else:
            link.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HTTPClient:
    """Connections of one registry endpoint (and the token servers and CDNs it sends us to)."""

    def __init__(self, proxies: ProxySettings, timeout: tuple[float, float], user_agent: str) -> None:
        self.proxies = proxies
        self.timeout = timeout
        self.user_agent = user_agent
        self.verify = True  # False: TLS without verification (an insecure registry)
        self._contexts: dict[str, Any] = {}  # host -> (verifying, unverified) SSLContexts from certs.d
        self._idle: dict[tuple, list[_Link]] = {}
        self._lock = threading.Lock()

    def use_tls_contexts(self, host: str, verifying: Any, unverified: Any) -> None:
        """TLS to ``host`` (``name[:port]``) starts from these contexts instead of the defaults."""
        self._contexts[host] = (verifying, unverified)

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                body: bytes | BinaryIO | None = None, verify: bool | None = None) -> Response:
        """Send one request; the response's body is read by the caller (or dropped by close())."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectionFailed(f"unsupported URL {url!r}")
        verify = self.verify if verify is None else verify
        proxy = self.proxies.proxy_for(url)
        key = (parts.scheme, parts.hostname, parts.port, verify, proxy)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        all_headers = {"Host": parts.netloc, "User-Agent": self.user_agent, **(headers or {})}
        if proxy and parts.scheme == "http":
            target = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
            all_headers.update(_proxy_authorization(proxy))
        if isinstance(body, (bytes, bytearray)):
            all_headers["Content-Length"] = str(len(body))
        elif body is not None and "Content-Length" not in all_headers:
            all_headers["Content-Length"] = str(os.fstat(body.fileno()).st_size - body.tell())
        elif body is None and method in ("POST", "PUT", "PATCH"):
            all_headers.setdefault("Content-Length", "0")
        link = self._link(key, parts, proxy, verify, url)
        try:
            send_request(link.sock, method, target, all_headers, body)
            status, reason, version, response_headers = read_head(link.reader)
        except (OSError, ProtocolViolation) as exc:
            link.close()
            raise _failure(exc, url) from exc
        body_reader = Body(link.reader, method, status, version, response_headers)
        return Response(self, key, link, status, reason, response_headers, body_reader, url)

    def _link(self, key: tuple, parts: urllib.parse.SplitResult, proxy: str | None, verify: bool,
              url: str) -> _Link:
        while (idle := self._take_idle(key)) is not None:
            if not _dropped(idle):
                return idle
            idle.close()  # the server closed it while it sat in the pool
        https = parts.scheme == "https"
        host = parts.hostname or ""
        port = parts.port or (443 if https else 80)
        tunnel = None
        if proxy:
            proxy_parts = urllib.parse.urlsplit(proxy)
            tunnel = (proxy_parts.hostname or "", proxy_parts.port or 80, _proxy_authorization(proxy))
        try:
            context = self._context_for(parts.netloc, verify) if https else None
            return _Link(connect(host, port, timeout=self.timeout, context=context, proxy=tunnel))
        except (OSError, ProtocolViolation) as exc:
            raise _failure(exc, url) from exc

    def _context_for(self, netloc: str, verify: bool) -> Any:
        contexts = self._contexts.get(netloc)
        if contexts is not None:
            return contexts[0] if verify else contexts[1]
        from .tls import default_context

        return default_context(verify)

    def _take_idle(self, key: tuple) -> _Link | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def _give_back(self, key: tuple, link: _Link) -> None:
        with self._lock:
            self._idle.setdefault(key, []).append(link)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for links in idle.values():
            for link in links:
                link.close()


def _dropped(link: _Link) -> bool:
    """An idle keep-alive connection is readable only if the server closed it (or broke the
    protocol): either way it must not carry another request."""
    sock = link.sock
    if sock.fileno() < 0:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _proxy_authorization(proxy: str) -> dict[str, str]:
    parts = urllib.parse.urlsplit(proxy)
    if not parts.username:
        return {}
    raw = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
    return {"Proxy-Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}
