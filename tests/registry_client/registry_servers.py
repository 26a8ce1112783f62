"""Processes and small servers the registry tests run on 127.0.0.1.

- ``RegistryProcess``: Debian's ``docker-registry`` (distribution 2.8) with its own config,
  on a free port read from its log; stopped by its own PID.
- ``TokenServer``: a Docker-Hub-like token server (stdlib http.server in a thread). JWTs are
  RS256, signed with the ``openssl`` CLI, and carry an ``x5c`` header whose self-signed
  certificate is the registry's ``rootcertbundle`` (distribution 2.8 accepts that).
- ``BlobHost``: the "CDN" the registry's redirect middleware sends blob GETs to, serving the
  registry's storage directory, with fault injection (truncate, 503, 429, corrupt bytes).
"""
from __future__ import annotations

import base64
import json
import re
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

LISTENING = re.compile(rb"listening on 127\.0\.0\.1:(\d+)")


class RegistryProcess:
    def __init__(self, workdir: Path, extra_config: str = "") -> None:
        self.root = workdir / "data"
        self.log_path = workdir / "registry.log"
        config = workdir / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: info\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root}\n  delete:\n    enabled: true\n"
            # Like Docker Hub, accept manifests whose foreign layers point at other hosts.
            "validation:\n  manifests:\n    urls:\n      allow:\n        - ^https?://\n"
            "http:\n  addr: 127.0.0.1:0\n  secret: local-test-only-secret\n" + extra_config)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.port = self._wait_for_port()
        self.host = f"127.0.0.1:{self.port}"

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            match = LISTENING.search(self.log_path.read_bytes())
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log_path.read_text()}")
            time.sleep(0.05)
        raise RuntimeError("docker-registry did not start")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


def closed_port() -> str:
    """``127.0.0.1:PORT`` where nothing listens (a port just bound and closed again)."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listener:
        return f"127.0.0.1:{listener.getsockname()[1]}"


def openssl(*args: str, input: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=input, capture_output=True, check=True).stdout


def make_self_signed(directory: Path, name: str, san: str | None = None,
                     ca: tuple[Path, Path] | None = None) -> tuple[Path, Path]:
    """A key + certificate: self-signed (a CA) or, with ``ca``, signed by it."""
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    if ca is None:
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                "-days", "3650", "-subj", f"/CN={name}")
        return key, cert
    csr = directory / f"{name}.csr"
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
    ext = directory / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[1]), "-CAkey", str(ca[0]), "-CAcreateserial",
            "-out", str(cert), "-days", "3650", "-extfile", str(ext))
    return key, cert


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class TokenLog:
    requests: list[dict[str, Any]] = field(default_factory=list)


class TokenServer(_Server):
    """Anonymous: pull everywhere. ``user:password``: pull and push. OAuth2 refresh tokens."""

    def __init__(self, workdir: Path, users: dict[str, str], service: str = "test-registry",
                 issuer: str = "test-issuer", expires_in: int = 300) -> None:
        self.key, self.cert = make_self_signed(workdir, "token-signer")
        der = openssl("x509", "-in", str(self.cert), "-outform", "DER")
        self.header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        self.users, self.service, self.issuer, self.expires_in = users, service, issuer, expires_in
        self.log = TokenLog()
        self.refresh_tokens: dict[str, str] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(_Quiet):
            def do_GET(self) -> None:
                server.handle_get(self)

            def do_POST(self) -> None:
                server.handle_post(self)

        super().__init__(Handler)
        self.realm = f"http://localhost:{self.port}/token"

    def registry_config(self) -> str:
        return (f"auth:\n  token:\n    realm: {self.realm}\n    service: {self.service}\n"
                f"    issuer: {self.issuer}\n    rootcertbundle: {self.cert}\n")

    def sign(self, claims: dict[str, Any]) -> str:
        head = b64url(json.dumps(self.header).encode()) + "." + b64url(json.dumps(claims).encode())
        signature = openssl("dgst", "-sha256", "-sign", str(self.key), input=head.encode())
        return head + "." + b64url(signature)

    def _user(self, handler: BaseHTTPRequestHandler) -> str | None | bool:
        value = handler.headers.get("Authorization", "")
        if not value.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user if self.users.get(user) == password else False

    def issue(self, handler: _Quiet, user: str | None, scopes: list[str], *, refresh: bool, method: str) -> None:
        access = []
        for scope in " ".join(scopes).split():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            allowed = {"pull"} if user is None else {"pull", "push", "delete", "*"}
            granted = [a for a in actions.split(",") if a in allowed]
            if kind == "repository" and granted:
                access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        token = self.sign({"iss": self.issuer, "sub": user or "", "aud": self.service, "exp": now + self.expires_in,
                           "nbf": now - 1, "iat": now, "jti": str(time.monotonic_ns()), "access": access})
        body: dict[str, Any] = {"token": token, "access_token": token, "expires_in": self.expires_in}
        if refresh and user:
            body["refresh_token"] = f"refresh-{user}-{now}"
            self.refresh_tokens[body["refresh_token"]] = user
        with self.lock:
            self.log.requests.append({"method": method, "user": user, "scopes": scopes})
        handler.send_json(200, body)

    def handle_get(self, handler: _Quiet) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
        user = self._user(handler)
        if user is False:
            return handler.send_json(401, {"details": "incorrect username or password"})
        self.issue(handler, user or None, query.get("scope", []),  # type: ignore[arg-type]
                   refresh=query.get("offline_token") == ["true"], method="GET")

    def handle_post(self, handler: _Quiet) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(handler.rfile.read(length).decode())
        get = lambda key: form.get(key, [""])[0]  # noqa: E731
        if get("grant_type") == "refresh_token" and get("refresh_token") in self.refresh_tokens:
            user = self.refresh_tokens[get("refresh_token")]
        elif get("grant_type") == "password" and self.users.get(get("username")) == get("password"):
            user = get("username")
        else:
            return handler.send_json(401, {"error": "invalid_grant"})
        self.issue(handler, user, get("scope").split(), refresh=get("access_type") == "offline", method="POST")


@dataclass
class Faults:
    """What the blob host does to the *first* GET of each blob path (then it behaves)."""

    truncate_at: int | None = None
    fail_status: int | None = None
    retry_after: str = "1"
    corrupt: bool = False
    always: bool = False  # apply to every GET, not only the first
    hold: float = 0.0  # seconds every GET waits before answering, so that downloads overlap
    seen: set[str] = field(default_factory=set)
    serving: set[str] = field(default_factory=set)  # paths being answered right now
    log: list[dict[str, Any]] = field(default_factory=list)


class BlobHost(_Server):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.faults = Faults()
        self.lock = threading.Lock()
        host = self

        class Handler(_Quiet):
            def do_GET(self) -> None:
                host.serve(self)

            def do_HEAD(self) -> None:
                host.head(self)

        super().__init__(Handler)
        self.base_url = f"http://localhost:{self.port}"

    def reset(self, **faults: Any) -> Faults:
        self.faults = Faults(**faults)
        return self.faults

    def head(self, handler: _Quiet) -> None:
        path = (self.root / urllib.parse.urlsplit(handler.path).path.lstrip("/")).resolve()
        handler.send_response(200 if path.is_file() else 404)
        handler.send_header("Content-Length", str(path.stat().st_size if path.is_file() else 0))
        handler.end_headers()

    def serve(self, handler: _Quiet) -> None:
        faults = self.faults
        with self.lock:
            faults.serving.add(handler.path)
            faults.log.append({"path": handler.path, "authorization": "Authorization" in handler.headers,
                               "range": handler.headers.get("Range"), "alongside": set(faults.serving)})
        try:
            time.sleep(faults.hold)
            self._answer(handler, faults)
        finally:
            with self.lock:
                faults.serving.discard(handler.path)

    def _answer(self, handler: _Quiet, faults: Faults) -> None:
        path = (self.root / urllib.parse.urlsplit(handler.path).path.lstrip("/")).resolve()
        if not path.is_file() or self.root.resolve() not in path.parents:
            return handler.send_json(404, {})
        first = faults.always or str(path) not in faults.seen
        faults.seen.add(str(path))
        if first and faults.fail_status:
            return handler.send_json(faults.fail_status, {"errors": [{"code": "UNAVAILABLE"}]},
                                     {"Retry-After": faults.retry_after})
        data = path.read_bytes()
        start, end, status = 0, len(data) - 1, 200
        match = re.match(r"bytes=(\d+)-(\d*)$", handler.headers.get("Range", ""))
        if match:
            start, status = int(match.group(1)), 206
            end = int(match.group(2)) if match.group(2) else end
        body = data[start:end + 1]
        if first and faults.corrupt:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        if status == 206:
            handler.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        handler.end_headers()
        if first and faults.truncate_at is not None:
            handler.wfile.write(body[:faults.truncate_at])
            handler.close_connection = True
            return
        handler.wfile.write(body)


def wait_http(url: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1, verify=False)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")
