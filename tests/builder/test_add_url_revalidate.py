"""ADD of an http URL: revalidated every build (ETag, If-None-Match) and keyed on the content, as BuildKit."""
from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

import pytest
from test_build_e2e import run_build

from builder.events import StepCached, StepStarted
from tests.support.images import flatten

pytestmark = pytest.mark.privileged

MODIFIED = 1_600_000_000


@dataclass
class Remote:
    """What the test server serves, and the requests it saw: (method, If-None-Match or None)."""

    url: str = ""
    body: bytes = b""
    etag: str | None = None
    head_allowed: bool = True
    seen: list[tuple[str, str | None]] = field(default_factory=list)


@pytest.fixture
def remote() -> Iterator[Remote]:
    state = Remote()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
            self._answer(with_body=False)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(with_body=True)

        def _answer(self, with_body: bool) -> None:
            state.seen.append((self.command, self.headers.get("If-None-Match")))
            if not with_body and not state.head_allowed:
                self.send_error(405)
                return
            if state.etag is not None and self.headers.get("If-None-Match") == state.etag:
                self.send_response(304)
                self.send_header("ETag", state.etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(state.body)))
            self.send_header("Last-Modified", formatdate(MODIFIED, usegmt=True))
            if state.etag is not None:
                self.send_header("ETag", state.etag)
            self.end_headers()
            if with_body:
                self.wfile.write(state.body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/data.txt"
    yield state
    server.shutdown()
    server.server_close()


def cached_titles(events: list) -> list[str]:
    titles = {event.step_id: event.title for event in events if isinstance(event, StepStarted)}
    return [titles[event.step_id].split("] ", 1)[1] for event in events if isinstance(event, StepCached)]


def test_an_etag_is_revalidated_and_a_304_reuses_the_cache(built_root: Path, tmp_path: Path, remote: Remote) -> None:
    dockerfile = f"FROM busybox:local\nADD {remote.url} /data.txt\nRUN cat /data.txt > /copy\n"
    remote.body, remote.etag = b"first\n", '"v1"'
    run_build(built_root, tmp_path, dockerfile, tags=("urlrev:one",))
    assert remote.seen == [("GET", None)]
    tree = flatten(built_root, "urlrev:one", tmp_path / "one")
    assert (tree / "copy").read_bytes() == b"first\n"
    assert (tree / "data.txt").stat().st_mode & 0o7777 == 0o600
    assert (tree / "data.txt").stat().st_mtime == MODIFIED  # BuildKit's mtime: Last-Modified

    remote.seen.clear()  # unchanged: one conditional HEAD, nothing downloaded, every step cached
    events: list = []
    run_build(built_root, tmp_path, dockerfile, events)
    assert remote.seen == [("HEAD", '"v1"')]
    assert cached_titles(events) == [f"ADD {remote.url} /data.txt", "RUN cat /data.txt > /copy"]

    remote.seen.clear()  # changed content: the ETag no longer matches, the GET downloads, the steps rerun
    remote.body, remote.etag = b"second\n", '"v2"'
    events.clear()
    run_build(built_root, tmp_path, dockerfile, events, tags=("urlrev:two",))
    assert remote.seen == [("HEAD", '"v1"'), ("GET", '"v1"')]
    assert cached_titles(events) == []
    assert (flatten(built_root, "urlrev:two", tmp_path / "two") / "copy").read_bytes() == b"second\n"

    remote.seen.clear()  # the first content again under a new ETag: the key is the content, so it hits
    remote.body, remote.etag = b"first\n", '"v1-again"'
    events.clear()
    run_build(built_root, tmp_path, dockerfile, events)
    assert remote.seen == [("HEAD", '"v2"'), ("GET", '"v2"')]
    assert cached_titles(events) == [f"ADD {remote.url} /data.txt", "RUN cat /data.txt > /copy"]


def test_a_conditional_get_answered_304_reuses_the_download(built_root: Path, tmp_path: Path,
                                                             remote: Remote) -> None:
    dockerfile = f"FROM busybox:local\nADD {remote.url} /fetched/\n"
    remote.body, remote.etag, remote.head_allowed = b"get-only\n", 'W/"g1"', False
    run_build(built_root, tmp_path, dockerfile)
    remote.seen.clear()
    events: list = []
    run_build(built_root, tmp_path, dockerfile, events, tags=("urlrev:get",))
    assert remote.seen == [("HEAD", '"g1"'), ("GET", '"g1"')]  # the weak prefix is dropped, as BuildKit
    assert cached_titles(events) == [f"ADD {remote.url} /fetched/"]
    assert (flatten(built_root, "urlrev:get", tmp_path / "t") / "fetched/data.txt").read_bytes() == b"get-only\n"


def test_without_an_etag_every_build_downloads_and_the_content_decides(built_root: Path, tmp_path: Path,
                                                                       remote: Remote) -> None:
    dockerfile = f"FROM busybox:local\nADD {remote.url} /plain.txt\n"
    remote.body = b"no etag\n"
    run_build(built_root, tmp_path, dockerfile)
    events: list = []
    run_build(built_root, tmp_path, dockerfile, events)
    assert remote.seen == [("GET", None), ("GET", None)]
    assert cached_titles(events) == [f"ADD {remote.url} /plain.txt"]
    remote.body = b"no etag, changed\n"
    events.clear()
    run_build(built_root, tmp_path, dockerfile, events)
    assert cached_titles(events) == []


def test_a_pinned_checksum_asks_nothing_on_a_cache_hit(built_root: Path, tmp_path: Path, remote: Remote) -> None:
    import hashlib

    remote.body = b"pinned\n"
    checksum = "sha256:" + hashlib.sha256(remote.body).hexdigest()
    dockerfile = f"FROM busybox:local\nADD --checksum={checksum} {remote.url} /pinned.txt\n"
    run_build(built_root, tmp_path, dockerfile)
    assert remote.seen == [("GET", None)]
    events: list = []
    run_build(built_root, tmp_path, dockerfile, events)
    assert remote.seen == [("GET", None)]
    assert cached_titles(events) == [f"ADD --checksum={checksum} {remote.url} /pinned.txt"]


def test_a_missing_last_modified_gives_the_epoch(tmp_path: Path) -> None:
    from builder.copy.remote_files import FetchedFile

    content = tmp_path / "content"
    content.write_bytes(b"x")
    staged = tmp_path / "staged"
    staged.mkdir()
    name = FetchedFile("f", str(content), "sha256:00", None).stage(str(staged))
    assert os.stat(staged / name).st_mtime == 0


def test_cache_prune_drops_downloads_by_last_use(remote: Remote, tmp_path: Path, busybox_tar: Path) -> None:
    from builder.cache.downloads import downloads_size
    from builder.cache.prune import PrunePolicy, prune_cache
    from builder.services import open_services
    from tests.support.images import import_busybox

    root = tmp_path / "root"
    import_busybox(root, busybox_tar)
    remote.body, remote.etag = b"downloaded once\n", '"v1"'
    dockerfile = f"FROM busybox:local\nADD {remote.url} /data.txt\n"
    run_build(root, tmp_path, dockerfile)
    content = next((root / "cache" / "http" / "content").iterdir())
    assert downloads_size(root) == len(remote.body)
    os.utime(content, (1, 1))  # last used long ago...
    run_build(root, tmp_path, dockerfile)  # ...until this build revalidated it (304) and reused it
    assert content.stat().st_mtime > 1
    kept = prune_cache(open_services(root), PrunePolicy(unused_for=3600))
    assert kept.downloads == 0 and content.exists()
    os.utime(content, (1, 1))
    old = prune_cache(open_services(root), PrunePolicy(unused_for=3600))
    assert old.downloads == 1 and not content.exists() and old.reclaimed >= len(remote.body)
    assert not any((root / "cache" / "http" / "urls").iterdir())  # its ETag record went with it
    assert downloads_size(root) == 0
