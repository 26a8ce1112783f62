"""HTTP/1.1 on one socket: connect (TCP, TLS, proxy tunnel), send a request, read the head of
the response, then its body as Content-Length, chunked or until-close framing says.

Why not ``http.client``: it imports the ``email`` package to parse headers and ``ssl`` even
for plain HTTP, ~25 ms of every ``pybuild pull``; registry traffic needs none of that. Header
names are case-insensitive (``Headers``); a body is read into a caller's buffer, so a 50 MB
layer moves through one reused buffer. Every failure is an ``OSError`` or ``ProtocolViolation``.
"""
from __future__ import annotations

import socket
from typing import TYPE_CHECKING, BinaryIO, Iterator, Mapping

if TYPE_CHECKING:
    import ssl

MAX_LINE = 65536
MAX_HEADERS = 200
READ_BUFFER = 1 << 16


class ProtocolViolation(Exception):
    """The peer broke HTTP/1.1 framing (or closed the connection before a response)."""


class Headers(Mapping[str, str]):
    """Response headers; names compare case-insensitively; repeated fields are joined by ", "."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._fields: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            key = name.lower()
            if key in self._fields:
                value = f"{self._fields[key][1]}, {value}"
            self._fields[key] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._fields.values())

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


def connect(host: str, port: int, *, timeout: tuple[float, float], context: ssl.SSLContext | None,
            proxy: tuple[str, int, Mapping[str, str]] | None = None) -> socket.socket:
    """A socket to ``host:port`` (through ``proxy``'s CONNECT tunnel if given), TLS-wrapped
    with ``context`` unless it is None; reads then time out after ``timeout[1]`` seconds."""
    address = (proxy[0], proxy[1]) if proxy else (host, port)
    sock = socket.create_connection(address, timeout=timeout[0])
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if proxy and context is not None:
            _open_tunnel(sock, host, port, proxy[2])
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname=host)
        sock.settimeout(timeout[1])
        return sock
    except BaseException:
        sock.close()
        raise


def _open_tunnel(sock: socket.socket, host: str, port: int, headers: Mapping[str, str]) -> None:
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}", *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    # Unbuffered: not one byte of the TLS handshake that follows may be read here.
    reader = sock.makefile("rb", buffering=0)
    status, reason, _, _ = read_head(reader)  # type: ignore[arg-type]
    if status != 200:
        raise ProtocolViolation(f"proxy refused CONNECT {authority}: {status} {reason}")


def send_request(sock: socket.socket, method: str, target: str, headers: Mapping[str, str],
                 body: bytes | BinaryIO | None) -> None:
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if body is None or isinstance(body, (bytes, bytearray)):
        sock.sendall(head + body if body and len(body) < (1 << 16) else head)
        if body and len(body) >= (1 << 16):
            sock.sendall(body)
        return
    sock.sendall(head)
    sock.sendfile(body)  # zero-copy on plain sockets; a send() loop under TLS


def read_head(reader: BinaryIO) -> tuple[int, str, str, Headers]:
    """(status, reason, HTTP version, headers) of the next response; 1xx answers are skipped."""
    while True:
        line = reader.readline(MAX_LINE + 1)
        if not line:
            raise ProtocolViolation("connection closed before a response")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProtocolViolation(f"not an HTTP response: {line[:80]!r}")
        status, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
        pairs = []
        while (field := reader.readline(MAX_LINE + 1)) not in (b"\r\n", b"\n", b""):
            if len(pairs) >= MAX_HEADERS:
                raise ProtocolViolation("too many header fields")
            name, colon, value = field.decode("latin-1").partition(":")
            if colon:
                pairs.append((name.strip(), value.strip()))
        if not 100 <= status < 200 or status == 101:
            return status, reason, parts[0], Headers(pairs)


class Body:
    """The body of one response, framed as its head says; ``readinto`` until it returns 0."""

    def __init__(self, reader: BinaryIO, method: str, status: int, version: str, headers: Headers) -> None:
        self._reader = reader
        self.length: int | None = None  # bytes left (Content-Length framing)
        self._chunk_left = 0
        self.chunked = False
        self.done = False
        self.complete = True  # False once the peer hung up before the announced end
        connection = headers.get("Connection", "").lower()
        self.will_close = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            self.length, self.done = 0, True
        elif "chunked" in headers.get("Transfer-Encoding", "").lower():
            self.chunked = True
        elif headers.get("Content-Length", "").strip().isdigit():
            self.length = int(headers["Content-Length"])
            self.done = self.length == 0
        else:
            self.will_close = True  # the body ends when the connection does

    def readinto(self, buffer: memoryview) -> int:
        if self.done or not len(buffer):
            return 0
        if self.chunked:
            return self._read_chunked(buffer)
        if self.length is not None:
            received = self._reader.readinto(buffer[:min(len(buffer), self.length)])  # type: ignore[attr-defined]
            if not received:
                self.done, self.complete, self.will_close = True, False, True
                return 0
            self.length -= received
            self.done = self.length == 0
            return received
        received = self._reader.readinto(buffer)  # type: ignore[attr-defined]
        self.done = not received
        return received

    def _read_chunked(self, buffer: memoryview) -> int:
        if self._chunk_left == 0:
            size_line = self._reader.readline(MAX_LINE + 1)
            size_text = size_line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                self.will_close = True
                raise ProtocolViolation(f"bad chunk size {size_line[:40]!r}") from exc
            if size == 0:
                while self._reader.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields: nothing we use
                self.done = True
                return 0
            self._chunk_left = size
        received = self._reader.readinto(buffer[:min(len(buffer), self._chunk_left)])  # type: ignore[attr-defined]
        if not received:
            self.will_close = True
            raise ProtocolViolation("connection closed inside a chunk")
        self._chunk_left -= received
        if self._chunk_left == 0:
            self._reader.readline(MAX_LINE + 1)  # the CRLF that ends a chunk
        return received

    def read_all(self) -> bytes:
        parts = bytearray()
        buffer = memoryview(bytearray(READ_BUFFER))
        while received := self.readinto(buffer):
            parts += buffer[:received]
        if not self.complete:
            raise ProtocolViolation(f"body ended {self.length} bytes short of its Content-Length")
        return bytes(parts)
