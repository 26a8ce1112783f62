"""HTTP/1.1 framing of registry_client's own client (wire.py + httpclient.py) against a real
socket server that answers with exact bytes: chunked bodies, bodies ending at close, 1xx
answers, short bodies, HEAD, keep-alive reuse and connections the server closed."""
from __future__ import annotations

import contextlib
import socket
import threading
from typing import Iterator

import pytest

from registry_client.httpclient import ConnectionFailed, HTTPClient
from registry_client.proxies import ProxySettings


class CannedServer:
    """Answers each request with the next canned reply; ``close_after`` replies end their connection."""

    def __init__(self, replies: list[tuple[bytes, bool]]) -> None:
        self.replies = list(replies)
        self.requests: list[bytes] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.replies:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                reader = conn.makefile("rb")
                while self.replies:
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        line = reader.readline()
                        if not line:
                            break
                        head += line
                    if not head:
                        break
                    length = next((int(l.split(b":")[1]) for l in head.split(b"\r\n")
                                   if l.lower().startswith(b"content-length:")), 0)
                    self.requests.append(head + reader.read(length))
                    reply, close = self.replies.pop(0)
                    conn.sendall(reply)
                    if close:
                        break
                reader.close()
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)  # a real close, even while the reader is referenced

    def stop(self) -> None:
        self.listener.close()


@pytest.fixture()
def serve() -> Iterator:
    servers: list[CannedServer] = []

    def start(*replies: tuple[bytes, bool]) -> CannedServer:
        servers.append(CannedServer(list(replies)))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _client() -> HTTPClient:
    return HTTPClient(ProxySettings(), (5.0, 5.0), "wire-test")


def test_chunked_body_with_extensions_and_trailers_keeps_the_connection(serve):
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n")
    server = serve((chunked, False), (b"HTTP/1.1 204 No Content\r\n\r\n", False))
    client = _client()
    assert client.request("GET", f"http://{server.address}/a").content == b"hello, world"
    assert client.request("GET", f"http://{server.address}/b").status_code == 204
    assert server.connections == 1


def test_body_without_length_ends_with_the_connection(serve):
    server = serve((b"HTTP/1.1 200 OK\r\n\r\nuntil the end", True), (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", False))
    client = _client()
    assert client.request("GET", f"http://{server.address}/a").content == b"until the end"
    assert client.request("GET", f"http://{server.address}/b").content == b"ok"
    assert server.connections == 2  # the first connection could not be reused


def test_interim_1xx_answers_are_skipped_and_headers_are_case_insensitive(serve):
    reply = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nlocation: /v2/x\r\nWarn: a\r\nwarn: b\r\n"
             b"Content-Length: 0\r\n\r\n")
    server = serve((reply, False))
    response = _client().request("PUT", f"http://{server.address}/v2/x", body=b"data")
    assert response.status_code == 201 and response.reason == "Created"
    assert response.headers.get("Location") == "/v2/x" and "LOCATION" in response.headers
    assert response.headers["warn"] == "a, b"
    assert server.requests[0].endswith(b"\r\n\r\ndata") and b"Content-Length: 4" in server.requests[0]


def test_short_body_is_reported(serve):
    server = serve((b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", True),
                   (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", True))
    client = _client()
    streamed = client.request("GET", f"http://{server.address}/blob")
    buffer = memoryview(bytearray(100))
    got = streamed.readinto(buffer)
    assert bytes(buffer[:got]) == b"abc" and streamed.readinto(buffer) == 0  # short: the caller resumes
    streamed.close()
    with pytest.raises(ConnectionFailed) as caught:
        client.request("GET", f"http://{server.address}/manifest").content
    assert "short" in str(caught.value)


def test_head_has_no_body_even_with_a_length(serve):
    server = serve((b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nDocker-Content-Digest: sha256:x\r\n\r\n", False),
                   (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", False))
    client = _client()
    head = client.request("HEAD", f"http://{server.address}/m")
    assert head.headers["Content-Length"] == "1234" and head.content == b""
    assert client.request("GET", f"http://{server.address}/m").content == b"hi"
    assert server.connections == 1


def test_connection_the_server_closed_while_idle_is_not_reused(serve):
    server = serve((b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", True),
                   (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb", False))
    client = _client()
    assert client.request("GET", f"http://{server.address}/1").content == b"a"  # kept: no "close" header
    assert client.request("GET", f"http://{server.address}/2").content == b"b"
    assert server.connections == 2


def test_garbage_instead_of_a_response_is_a_connection_failure(serve):
    server = serve((b"SSH-2.0-OpenSSH_9.2\r\n", True))
    with pytest.raises(ConnectionFailed) as caught:
        _client().request("GET", f"http://{server.address}/v2/")
    assert "not an HTTP response" in str(caught.value)
