"""ADD: local archives (detected by content), URLs from a local http.server, git repositories."""
from __future__ import annotations

import bz2
import gzip
import hashlib
import http.server
import io
import lzma
import os
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
import zstandard
from test_copy_support import D, L, directory, file, link, make_tree, snapshot

from builder.context.local import BuildContext
from builder.copy.add_sources import fetch_git, url_file_name
from builder.copy.errors import ArchiveError, CopyError, DownloadError, GitSourceError
from builder.copy.execute import CopyRequest, execute_copy
from grammar import GitRef
from grammar.chmod import parse_chmod
from tests.support.gitdaemon import git_daemon_serving


def tar_bytes(entries: list[tuple[str, str | None, dict]]) -> bytes:
    """A tar of (name, content or None for a dir, TarInfo attributes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content, attributes in entries:
            info = tarfile.TarInfo(name)
            for key, value in attributes.items():
                setattr(info, key, value)
            if content is None and "type" not in attributes:
                info.type = tarfile.DIRTYPE
            data = (content or "").encode()
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return buffer.getvalue()


ARCHIVE = tar_bytes([("top", None, {"mode": 0o750, "uid": 5, "gid": 6}),
                     ("top/f", "inside", {"mode": 0o640, "uid": 5, "gid": 6}),
                     ("top/l", None, {"type": tarfile.SYMTYPE, "linkname": "f"})])
COMPRESSORS = {"plain": lambda data: data, "gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress,
               "zstd": lambda data: zstandard.ZstdCompressor().compress(data)}


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "rootfs", {"etc": D(), "srv/app": D(), "app": L("/srv/app"),
                                           "etc/passwd": "root:x:0:0::/:/bin/sh\n"})


def add(image: Path, context: Path, sources: tuple[str, ...], dest: str, **flags) -> None:
    execute_copy(str(image), CopyRequest(dest, sources, BuildContext(context).source(), add=True, **flags))


@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_add_unpacks_local_archives_by_content(tmp_path: Path, image: Path, compression: str) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "data.bin").write_bytes(COMPRESSORS[compression](ARCHIVE))  # the name says nothing
    add(image, context, ("data.bin",), "/out")
    assert snapshot(image, "out") == {"/out": directory(), "/out/top": directory(0o750, 5, 6),
                                      "/out/top/f": file("inside", 0o640, 5, 6), "/out/top/l": link("f")}


def test_add_unpack_false_and_non_archives_copy_the_file(tmp_path: Path, image: Path) -> None:
    context = make_tree(tmp_path / "ctx", {"fake.tar.gz": "not an archive"})
    (context / "real.tar").write_bytes(ARCHIVE)
    (context / "empty.tar").write_bytes(b"\0" * 1024)  # no entry: not an archive for BuildKit either
    add(image, context, ("fake.tar.gz", "real.tar", "empty.tar"), "/keep/", unpack=False)
    add(image, context, ("fake.tar.gz", "empty.tar"), "/auto/")
    assert set(snapshot(image, "keep")) == {"/keep", "/keep/fake.tar.gz", "/keep/real.tar", "/keep/empty.tar"}
    assert set(snapshot(image, "auto")) == {"/auto", "/auto/fake.tar.gz", "/auto/empty.tar"}


def test_add_wildcard_unpacks_each_archive_and_chowns_entries(tmp_path: Path, image: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.tar").write_bytes(ARCHIVE)
    (context / "b.tar").write_bytes(tar_bytes([("b.txt", "b", {"mode": 0o600})]))
    add(image, context, ("*.tar",), "/out/", chown="100:200", chmod=parse_chmod("0777"))
    tree = snapshot(image, "out")
    assert tree["/out"] == directory(0o755, 100, 200)
    assert tree["/out/top/f"] == file("inside", 0o640, 100, 200), "--chmod does not apply to unpacked entries"
    assert tree["/out/b.txt"] == file("b", 0o600, 100, 200)


def test_add_archive_lands_inside_the_rootfs_through_dest_symlinks(tmp_path: Path, image: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.tar").write_bytes(ARCHIVE)
    add(image, context, ("a.tar",), "/app")
    assert (image / "srv" / "app" / "top" / "f").read_text() == "inside"


@pytest.mark.parametrize("entries", [
    [("../evil", "x", {})],
    [("up", None, {"type": tarfile.SYMTYPE, "linkname": "/"}), ("up/evil", "x", {})],
    [("hl", None, {"type": tarfile.LNKTYPE, "linkname": "../../outside"})],
])
def test_add_rejects_archives_escaping_the_destination(tmp_path: Path, image: Path, entries) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "bad.tar").write_bytes(tar_bytes(entries))
    with pytest.raises(ArchiveError):
        add(image, context, ("bad.tar",), "/out/")
    assert not (tmp_path / "evil").exists() and not (image / "evil").exists()


def test_add_unpacks_absolute_names_below_the_destination(tmp_path: Path, image: Path) -> None:
    # moby's Untar joins every name to the destination (docker 26 side by side:
    # tests/bench/compare_cases/add-tar-odd-entries); a hardlink's absolute target too
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "abs.tar").write_bytes(tar_bytes([
        ("/abs/file", "a", {}), ("/abs/hard", None, {"type": tarfile.LNKTYPE, "linkname": "/abs/file"}),
        ("./rel/file", "r", {})]))
    add(image, context, ("abs.tar",), "/out/")
    assert (image / "out/abs/file").read_text() == "a"
    assert os.stat(image / "out/abs/hard").st_ino == os.stat(image / "out/abs/file").st_ino
    assert (image / "out/rel/file").read_text() == "r"
    assert not (image / "abs").exists()


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", formatdate(1_500_000_000, usegmt=True))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    _Handler.files = {"/files/hello.txt": b"hello", "/": b"root", "/a.tar": ARCHIVE}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_add_url_downloads_with_mode_0600_and_last_modified(server: str, image: Path) -> None:
    execute_copy(str(image), CopyRequest("/d/", (f"{server}/files/hello.txt",), add=True))
    assert snapshot(image, "d")["/d/hello.txt"] == file("hello", 0o600)
    assert os.stat(image / "d" / "hello.txt").st_mtime == 1_500_000_000


def test_add_url_checksum(server: str, image: Path) -> None:
    good = "sha256:" + hashlib.sha256(b"hello").hexdigest()
    execute_copy(str(image), CopyRequest("/ok", (f"{server}/files/hello.txt",), add=True, checksum=good))
    assert (image / "ok").read_bytes() == b"hello"
    bad = "sha256:" + "0" * 64
    with pytest.raises(DownloadError, match=f"digest mismatch {bad}: sha256:{good[7:]}"):
        execute_copy(str(image), CopyRequest("/bad", (f"{server}/files/hello.txt",), add=True, checksum=bad))
    assert not (image / "bad").exists()
    with pytest.raises(DownloadError, match="unsupported digest algorithm"):
        execute_copy(str(image), CopyRequest("/x", (f"{server}/files/hello.txt",), add=True, checksum="md5:00"))


def test_add_url_errors_and_names(server: str, image: Path) -> None:
    with pytest.raises(DownloadError, match="invalid response status 404"):
        execute_copy(str(image), CopyRequest("/x", (f"{server}/missing",), add=True))
    execute_copy(str(image), CopyRequest("/u/", (f"{server}/",), add=True))
    assert (image / "u" / "__unnamed__").read_bytes() == b"root"
    assert url_file_name("https://example.com/a/b%20c.txt?x=1") == "b c.txt"


def test_add_url_archives_unpack_only_on_request(server: str, image: Path) -> None:
    execute_copy(str(image), CopyRequest("/kept/", (f"{server}/a.tar",), add=True))
    execute_copy(str(image), CopyRequest("/unpacked/", (f"{server}/a.tar",), add=True, unpack=True))
    assert (image / "kept" / "a.tar").is_file()
    assert (image / "unpacked" / "top" / "f").read_text() == "inside"


def test_copy_refuses_urls_git_and_checksums(image: Path, tmp_path: Path) -> None:
    source = BuildContext(make_tree(tmp_path / "ctx", {"f": "f"})).source()
    with pytest.raises(CopyError, match="source can't be a URL for COPY"):
        execute_copy(str(image), CopyRequest("/x", ("https://example.com/f",), source))
    with pytest.raises(CopyError, match="source can't be a git ref for COPY"):
        execute_copy(str(image), CopyRequest("/x", ("https://example.com/r.git",), source))
    with pytest.raises(CopyError, match="checksum requires HTTP"):
        execute_copy(str(image), CopyRequest("/x", ("f",), source, add=True, checksum="sha256:" + "0" * 64))


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare repo: v1 tag (README, sub/tool.sh executable, a symlink), then main moves on."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    base = tmp_path_factory.mktemp("git")
    work = make_tree(base / "work", {"README": "v1", "sub/tool.sh": "#!/bin/sh", "sub/link": L("tool.sh")})
    os.chmod(work / "sub" / "tool.sh", 0o755)
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "one")
    _git(work, "tag", "v1")
    (work / "README").write_text("v2")
    _git(work, "commit", "-q", "-am", "two")
    _git(base, "clone", "-q", "--bare", str(work), "repo.git")
    return base / "repo.git"


def ref(repository: Path, **fields) -> GitRef:
    return GitRef(remote=f"file://{repository}", short_name="repo", **fields)


def test_git_fetch_default_branch_and_tag(repository: Path, tmp_path: Path) -> None:
    main = fetch_git(ref(repository), str(tmp_path / "a"), keep_git_dir=False)
    tagged = fetch_git(ref(repository, ref="v1"), str(tmp_path / "b"), keep_git_dir=True)
    assert Path(main, "README").read_text() == "v2" and not Path(main, ".git").exists()
    assert Path(tagged, "README").read_text() == "v1" and Path(tagged, ".git").is_dir()
    assert os.stat(Path(main, "sub", "tool.sh")).st_mode & 0o777 == 0o755
    assert os.readlink(Path(main, "sub", "link")) == "tool.sh"


def test_git_subdir_and_checksum(repository: Path, tmp_path: Path) -> None:
    commit = _git(repository, "rev-parse", "v1").strip()
    tree = fetch_git(ref(repository, ref="v1", subdir="sub", checksum=commit[:12]), str(tmp_path / "a"), False)
    assert sorted(os.listdir(tree)) == ["link", "tool.sh"]
    with pytest.raises(GitSourceError, match="expected checksum to match"):
        fetch_git(ref(repository, ref="main", checksum=commit), str(tmp_path / "b"), False)
    with pytest.raises(GitSourceError):
        fetch_git(ref(repository, ref="no-such-branch"), str(tmp_path / "c"), False)


@pytest.fixture(scope="module")
def git_daemon(repository: Path) -> Iterator[str]:
    with git_daemon_serving(repository) as url:
        yield url


def test_add_git_end_to_end(git_daemon: str, image: Path) -> None:
    execute_copy(str(image), CopyRequest("/src", (f"{git_daemon}#v1:sub",), add=True, chown="0:5"))
    execute_copy(str(image), CopyRequest("/kept/", (git_daemon,), add=True, keep_git_dir=True))
    tree = snapshot(image, "src")
    assert tree == {"/src": directory(0o755, 0, 5), "/src/tool.sh": file("#!/bin/sh", 0o755, 0, 5),
                    "/src/link": link("tool.sh", 0, 5)}
    assert (image / "kept" / "README").read_text() == "v2" and (image / "kept" / ".git").is_dir()
