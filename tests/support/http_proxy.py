"""Small HTTP proxies for registry tests, on 127.0.0.1, each in its own threads.

- ``ForwardProxy``: what ``HTTPS_PROXY``/``HTTP_PROXY`` point at. It tunnels ``CONNECT
  host:port`` and forwards absolute-URI requests (``GET http://host/path``), and logs every
  request so a test can count what went through it. Optionally it speaks TLS itself (an
  ``https://`` proxy, with a certificate from the test's CA) and requires Basic proxy
  credentials (``Proxy-Authorization``, else ``407``), as corporate proxies do.
- ``FaultProxy``: sits in front of one upstream (a registry) and forwards origin-form
  requests to it, applying ``Rule``s: answer by itself (e.g. a 429), add or change response
  headers, rewrite a response body, or drop a request's connection part-way through its body
  (with or without passing that part on to the upstream first).

Requests and responses are parsed by hand (request line, headers, Content-Length or chunked
body) so that a fault can cut a connection at an exact byte. Response bodies are buffered:
the test images are small.
"""
from __future__ import annotations

import base64
import http.client
import select
import socket
import socketserver
import ssl
import sys
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authorization",
                        "transfer-encoding", "te", "trailer", "upgrade"})


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # as on the request line: origin-form path or absolute URI
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def path(self) -> str:
        parts = urllib.parse.urlsplit(self.target)
        return parts.path + (f"?{parts.query}" if parts.query else "") if parts.scheme else self.target


@dataclass(frozen=True)
class Logged:
    method: str
    target: str
    body_bytes: int = 0
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Rule:
    """What ``FaultProxy`` does to requests that ``matches``; applied at most ``times`` times
    (None: always)."""

    matches: Callable[[Request], bool]
    respond: tuple[int, dict[str, str], bytes] | None = None  # answer without asking upstream
    set_headers: dict[str, str] = field(default_factory=dict)  # added to / replaced in the response
    remove_headers: tuple[str, ...] = ()
    rewrite_body: Callable[[bytes], bytes] | None = None
    drop_after: int | None = None  # read this many request-body bytes, then close the connection
    forward_partial: bool = False  # with drop_after: first pass those bytes on to upstream
    times: int | None = 1
    applied: int = 0

    def take(self, request: Request) -> bool:
        if (self.times is not None and self.applied >= self.times) or not self.matches(request):
            return False
        self.applied += 1
        return True


def method_and_path(method: str, contains: str) -> Callable[[Request], bool]:
    return lambda request: request.method == method and contains in request.path


def _read_request(rfile: BinaryIO) -> Request | None:
    line = rfile.readline(65537)
    if not line.strip():
        return None
    words = line.decode("latin-1").split(" ", 2)
    if len(words) != 3:
        return None  # not HTTP: hang up
    method, target, _ = words
    message = http.client.parse_headers(rfile)  # type: ignore[arg-type]
    return Request(method, target, list(message.items()))


def _body_reader(rfile: BinaryIO, request: Request) -> Callable[[int], bytes]:
    """read(n) over the request body, chunked or sized (b"" at its end)."""
    length = int(request.header("Content-Length") or 0)
    if (request.header("Transfer-Encoding") or "").lower() == "chunked":
        state = {"left": 0, "done": False}

        def read_chunked(n: int) -> bytes:
            if state["done"]:
                return b""
            if state["left"] == 0:
                size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while rfile.readline().strip():
                        pass  # trailers
                    state["done"] = True
                    return b""
                state["left"] = size
            data = rfile.read(min(n, state["left"]))
            state["left"] -= len(data)
            if state["left"] == 0:
                rfile.readline()  # CRLF after the chunk
            return data

        return read_chunked
    remaining = {"n": length}

    def read_sized(n: int) -> bytes:
        data = rfile.read(min(n, remaining["n"])) if remaining["n"] else b""
        remaining["n"] -= len(data)
        return data

    return read_sized


def _read_all(read: Callable[[int], bytes]) -> bytes:
    parts = []
    while chunk := read(1 << 16):
        parts.append(chunk)
    return b"".join(parts)


def _send_response(wfile: BinaryIO, method: str, status: int, reason: str,
                   headers: list[tuple[str, str]], body: bytes) -> None:
    lines = [f"HTTP/1.1 {status} {reason}"]
    for key, value in headers:
        if key.lower() in HOP_BY_HOP or (key.lower() == "content-length" and method != "HEAD"):
            continue
        lines.append(f"{key}: {value}")
    if method != "HEAD":
        lines.append(f"Content-Length: {len(body)}")
    wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    if method != "HEAD":
        wfile.write(body)
    wfile.flush()


def _forward(host: str, port: int, request: Request, path: str, body: bytes
             ) -> tuple[int, str, list[tuple[str, str]], bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.putrequest(request.method, path, skip_host=True, skip_accept_encoding=True)
        for key, value in request.headers:
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                connection.putheader(key, value)
        if body or request.method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        data = response.read()
        return response.status, response.reason, response.getheaders(), data
    finally:
        connection.close()


class _Base:
    """A threaded TCP server whose connections are served by ``self.serve_connection``."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def setup(self) -> None:
                if tls is not None:
                    self.request = self.connection = tls.wrap_socket(self.request, server_side=True)
                super().setup()

            def handle(self) -> None:
                if tls is None and self.rfile.peek(1)[:1] == b"\x16":  # type: ignore[attr-defined]
                    # A TLS hello to this plain-HTTP server: answer as Go's net/http does.
                    self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                    return
                owner.serve_connection(self.connection, self.rfile, self.wfile)

        class Server(socketserver.ThreadingTCPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                if not isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)):
                    super().handle_error(request, client_address)  # a client that refused our TLS is no news

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self.log: list[Logged] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def record(self, entry: Logged) -> None:
        with self._lock:
            self.log.append(entry)

    def serve_connection(self, connection: socket.socket, rfile: BinaryIO, wfile: BinaryIO) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> _Base:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ForwardProxy(_Base):
    """An HTTP proxy: CONNECT tunnels and absolute-URI requests; logs each one.

    ``hosts`` maps names only the proxy can resolve (as a corporate proxy does) to addresses.
    ``tls``: (certificate, key) files to serve TLS with (an ``https://`` proxy). ``credentials``:
    (user, password) every request must carry as ``Proxy-Authorization: Basic``; others get a
    ``407`` (``rejected`` counts them).
    """

    def __init__(self, hosts: dict[str, str] | None = None, *, tls: tuple[Path, Path] | None = None,
                 credentials: tuple[str, str] | None = None) -> None:
        self.hosts = hosts or {}
        self.scheme = "https" if tls is not None else "http"
        self._expected_authorization = (
            "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
            if credentials is not None else None)
        self.rejected = 0
        context = None
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
        super().__init__(context)

    def url(self, userinfo: str = "") -> str:
        """What HTTPS_PROXY/HTTP_PROXY say: ``scheme://[userinfo@]127.0.0.1:port``."""
        return f"{self.scheme}://{userinfo + '@' if userinfo else ''}{self.address}"

    def _authorized(self, request: Request, wfile: BinaryIO) -> bool:
        if self._expected_authorization is None or request.header("Proxy-Authorization") == self._expected_authorization:
            return True
        with self._lock:
            self.rejected += 1
        # By hand: _send_response drops hop-by-hop headers such as Connection.
        wfile.write(b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test proxy"\r\n'
                    b"Connection: close\r\nContent-Length: 0\r\n\r\n")
        wfile.flush()
        return False

    def serve_connection(self, connection: socket.socket, rfile: BinaryIO, wfile: BinaryIO) -> None:
        while (request := _read_request(rfile)) is not None:
            if request.method == "CONNECT":
                self.record(Logged("CONNECT", request.target, 0, tuple(request.headers)))
                if not self._authorized(request, wfile):
                    return
                name, _, port = request.target.rpartition(":")
                self._tunnel(connection, wfile, f"{self.hosts.get(name, name)}:{port}")
                return
            parts = urllib.parse.urlsplit(request.target)
            body = _read_all(_body_reader(rfile, request))
            self.record(Logged(request.method, request.target, len(body), tuple(request.headers)))
            if not self._authorized(request, wfile):
                return
            if parts.scheme != "http":
                _send_response(wfile, request.method, 400, "Bad Request", [], b"absolute http URI expected\n")
                return
            host = self.hosts.get(parts.hostname or "", parts.hostname or "")
            status, reason, headers, data = _forward(host, parts.port or 80, request, request.path, body)
            _send_response(wfile, request.method, status, reason, headers, data)

    @staticmethod
    def _tunnel(client: socket.socket, wfile: BinaryIO, target: str) -> None:
        host, _, port = target.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
        except OSError:
            _send_response(wfile, "CONNECT", 502, "Bad Gateway", [], b"")
            return
        wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        wfile.flush()
        # Clients wait for the 200 before their TLS hello, so nothing is buffered in rfile yet.
        with upstream:
            sockets = [client, upstream]
            while True:
                # A TLS client socket may hold decrypted bytes that select() cannot see.
                pending = isinstance(client, ssl.SSLSocket) and client.pending() > 0
                readable = [client] if pending else select.select(sockets, [], [], 30)[0]
                if not readable:
                    return
                for source in readable:
                    try:
                        data = source.recv(1 << 16)
                    except (ssl.SSLError, OSError):
                        return
                    if not data:
                        return
                    (upstream if source is client else client).sendall(data)


class FaultProxy(_Base):
    """Forwards origin-form requests to ``upstream`` (``host:port``), applying ``rules``."""

    def __init__(self, upstream: str) -> None:
        self.upstream_host, _, port = upstream.rpartition(":")
        self.upstream_port = int(port)
        self.rules: list[Rule] = []
        super().__init__()

    def add(self, rule: Rule) -> Rule:
        self.rules.append(rule)
        return rule

    def _rule_for(self, request: Request) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.take(request):
                    return rule
        return None

    def serve_connection(self, connection: socket.socket, rfile: BinaryIO, wfile: BinaryIO) -> None:
        while (request := _read_request(rfile)) is not None:
            rule = self._rule_for(request)
            read = _body_reader(rfile, request)
            if rule is not None and rule.drop_after is not None:
                partial = read(rule.drop_after)
                self.record(Logged(request.method, request.target, len(partial), tuple(request.headers)))
                if rule.forward_partial:
                    self._send_partial_upstream(request, partial)
                connection.shutdown(socket.SHUT_RDWR)
                return
            body = _read_all(read)
            self.record(Logged(request.method, request.target, len(body), tuple(request.headers)))
            if rule is not None and rule.respond is not None:
                status, headers, data = rule.respond
                _send_response(wfile, request.method, status, http.client.responses.get(status, ""),
                               list(headers.items()), data)
                continue
            status, reason, headers, data = _forward(self.upstream_host, self.upstream_port, request,
                                                     request.path, body)
            if rule is not None:
                drop = {name.lower() for name in (*rule.remove_headers, *rule.set_headers)}
                headers = [(k, v) for k, v in headers if k.lower() not in drop] + list(rule.set_headers.items())
                if rule.rewrite_body is not None:
                    data = rule.rewrite_body(data)
            _send_response(wfile, request.method, status, reason, headers, data)

    def _send_partial_upstream(self, request: Request, partial: bytes) -> None:
        """Send the request with its full Content-Length but only ``partial`` bytes, then hang up:
        the upstream sees a client that disconnected mid-body."""
        with socket.create_connection((self.upstream_host, self.upstream_port), timeout=30) as upstream:
            lines = [f"{request.method} {request.path} HTTP/1.1"]
            lines += [f"{k}: {v}" for k, v in request.headers if k.lower() not in ("connection",)]
            upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + partial)
            upstream.shutdown(socket.SHUT_WR)
            upstream.settimeout(5)
            try:
                while upstream.recv(1 << 16):
                    pass  # let the upstream finish with the request before we go on
            except OSError:
                pass
