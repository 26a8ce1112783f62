"""A registry that streams an endless manifest: the client stops reading at its size cap."""
from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

import registry_client.client as client_module
from registry_client import ProtocolError, Reference, RegistryClient, RegistryOptions

CHUNK = b"x" * 65536


class _EndlessManifests(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sent = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/v2/":
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        self.send_header("Transfer-Encoding", "chunked")  # no Content-Length to check first
        self.end_headers()
        try:
            for _ in range(4096):  # 256 MiB at most
                self.wfile.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
                type(self).sent += len(CHUNK)
        except OSError:
            pass  # the client hung up: what the test wants
        self.close_connection = True

    def do_HEAD(self) -> None:  # noqa: N802 - no Docker-Content-Digest: the client must GET
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endless_registry() -> Iterator[str]:
    _EndlessManifests.sent = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EndlessManifests)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_endless_manifest_is_refused_at_the_cap(endless_registry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "MAX_MANIFEST_BYTES", 1 << 20)
    client = RegistryClient(RegistryOptions(certs_dirs=()))
    with pytest.raises(ProtocolError, match="larger than"):
        client.get_manifest(Reference(endless_registry, "library/endless", "latest"))
    assert _EndlessManifests.sent < 64 << 20  # it stopped reading long before the server's 256 MiB
