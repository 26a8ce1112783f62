"""COPY from the build context: a table of Dockerfile lines and the tree each leaves in the image.

Each case runs on a fresh destination rootfs that already has /etc, /existing (a
file), /existingdir (a dir), /app -> /srv/app (an absolute symlink, as images
have) and /srv/app. Expected entries are (type, mode, uid, gid, content|target).
"""
from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from test_copy_support import D, F, L, directory, file, link, make_tree, snapshot

from builder.context.local import BuildContext
from builder.copy.errors import DestinationError, SourceNotFoundError
from builder.copy.execute import CopyRequest, execute_copy

CONTEXT = {
    "a.txt": F("a", 0o644, uid=1234, gid=1234),
    "b.txt": F("b", 0o600),
    "c.md": F("c"),
    "run.sh": F("#!/bin/sh", 0o755),
    "dir": D(0o700),
    "dir/one": F("1"),
    "dir/sub": D(0o750),
    "dir/sub/two": F("2"),
    "dir/rel": L("one"),
    "link": L("a.txt"),
    "dirlink": L("dir"),
}
IMAGE = {
    "etc": D(),
    "existing": F("old"),
    "existingdir": D(0o711),
    "existingdir/keep": F("kept"),
    "srv/app": D(),
    "app": L("/srv/app"),
}
DIR_CONTENTS = {
    "one": file("1"), "sub": directory(0o750), "sub/two": file("2"), "rel": link("one"),
}


def under(prefix: str, entries: dict[str, tuple]) -> dict[str, tuple]:
    return {f"{prefix}/{path}": value for path, value in entries.items()}


# (id, sources, dest, workdir, expected new or changed entries)
CASES = [
    ("file-to-new-path", ("a.txt",), "/x", "/", {"/x": file("a")}),
    ("file-into-slash-dir", ("a.txt",), "/d/", "/", {"/d": directory(), "/d/a.txt": file("a")}),
    ("dir-copies-contents", ("dir",), "/x", "/", {"/x": directory(), **under("/x", DIR_CONTENTS)}),
    ("dir-slash-source", ("dir/",), "/x/", "/", {"/x": directory(), **under("/x", DIR_CONTENTS)}),
    ("dir-dot-source", ("dir/.",), "/x", "/", {"/x": directory(), **under("/x", DIR_CONTENTS)}),
    ("wildcard-files", ("*.txt",), "/d/", "/", {"/d": directory(), "/d/a.txt": file("a"),
                                                "/d/b.txt": file("b", 0o600)}),
    ("wildcard-question-and-class", ("?.[m-t]*",), "/d/", "/", {
        "/d": directory(), "/d/a.txt": file("a"), "/d/b.txt": file("b", 0o600), "/d/c.md": file("c")}),
    ("many-sources-no-slash-last-wins", ("a.txt", "b.txt"), "/dest", "/", {"/dest": file("b", 0o600)}),
    ("empty-wildcard-is-fine", ("a.txt", "nomatch*"), "/d/", "/", {"/d": directory(), "/d/a.txt": file("a")}),
    ("overwrite-existing-file", ("a.txt",), "/existing", "/", {"/existing": file("a")}),
    ("file-onto-existing-dir", ("a.txt",), "/existingdir", "/", {"/existingdir/a.txt": file("a")}),
    ("dir-merges-existing-dir", ("dir",), "/existingdir", "/", under("/existingdir", DIR_CONTENTS)),
    ("dest-through-absolute-symlink", ("a.txt",), "/app/", "/", {"/srv/app/a.txt": file("a")}),
    ("top-level-symlink-followed", ("link",), "/l", "/", {"/l": file("a")}),
    ("top-level-dir-symlink-followed", ("dirlink",), "/dl", "/", {"/dl": directory(), **under("/dl", DIR_CONTENTS)}),
    ("wildcard-symlink-match-dereferenced", ("l*",), "/w/", "/", {"/w": directory(), "/w/link": file("a")}),
    ("wildcard-dirs-copy-contents", ("dir*",), "/dd/", "/", {"/dd": directory(), **under("/dd", DIR_CONTENTS)}),
    ("dotdot-clamped-to-root", ("../a.txt",), "/up", "/", {"/up": file("a")}),
    ("relative-dest-in-workdir", ("a.txt",), "rel/", "/w", {"/w": directory(), "/w/rel": directory(),
                                                           "/w/rel/a.txt": file("a")}),
    ("dot-dest-is-workdir", ("a.txt",), ".", "/w", {"/w": directory(), "/w/a.txt": file("a")}),
    ("empty-dest-is-workdir", ("a.txt",), "", "/w", {"/w": directory(), "/w/a.txt": file("a")}),
    ("dotdot-dest-from-workdir", ("a.txt",), "../", "/w/x", {"/w": directory(), "/w/a.txt": file("a")}),
    ("whole-context-keeps-inner-symlinks", (".",), "/all/", "/", {
        "/all": directory(), "/all/a.txt": file("a"), "/all/b.txt": file("b", 0o600), "/all/c.md": file("c"),
        "/all/run.sh": file("#!/bin/sh", 0o755), "/all/dir": directory(0o700), **under("/all/dir", DIR_CONTENTS),
        "/all/link": link("a.txt"), "/all/dirlink": link("dir")}),
]


@pytest.fixture
def context(tmp_path: Path) -> BuildContext:
    return BuildContext(make_tree(tmp_path / "ctx", CONTEXT))


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "rootfs", IMAGE)


def run(context: BuildContext, image: Path, sources: tuple[str, ...], dest: str, workdir: str = "/"):
    return execute_copy(str(image), CopyRequest(dest, sources, context.source(), workdir=workdir))


@pytest.mark.parametrize(("sources", "dest", "workdir", "expected"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_copy_case(context: BuildContext, image: Path, sources, dest, workdir, expected) -> None:
    before = snapshot(image)
    run(context, image, sources, dest, workdir)
    after = snapshot(image)
    changed = {path: value for path, value in after.items() if before.get(path) != value}
    assert changed == expected
    assert set(before) <= set(after), "COPY never removes what was there"


def test_missing_source_fails_with_buildkit_wording(context: BuildContext, image: Path) -> None:
    with pytest.raises(SourceNotFoundError, match=r'failed to compute cache key: .*"/nonexistent": not found'):
        run(context, image, ("nonexistent",), "/")


def test_missing_wildcard_base_fails(context: BuildContext, image: Path) -> None:
    with pytest.raises(SourceNotFoundError, match='"/nodir": not found'):
        run(context, image, ("nodir/*.txt",), "/d/")


def test_dir_onto_existing_file_fails(context: BuildContext, image: Path) -> None:
    with pytest.raises(DestinationError, match="cannot copy to non-directory: /existing"):
        run(context, image, ("dir",), "/existing")


def test_file_cannot_replace_a_directory(context: BuildContext, image: Path) -> None:
    (image / "existingdir" / "a.txt").mkdir()
    with pytest.raises(DestinationError, match="cannot replace to directory /existingdir/a.txt with file"):
        run(context, image, ("a.txt",), "/existingdir/")


def test_copy_never_writes_on_the_host_through_dest_symlinks(tmp_path: Path, context: BuildContext,
                                                             image: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), image / "hostlink")  # an absolute link: means <root>/tmp/.../outside in the image
    os.symlink("../../../../../../..", image / "climb")
    run(context, image, ("a.txt",), "/hostlink/")
    run(context, image, ("b.txt",), "/climb/b.txt")
    assert list(outside.iterdir()) == []
    assert (image / str(outside).lstrip("/") / "a.txt").read_text() == "a"
    assert (image / "b.txt").read_text() == "b"


def test_symlinks_inside_the_image_are_replaced_not_followed(tmp_path: Path, context: BuildContext,
                                                             image: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("host file")
    make_tree(image, {"x": D(), "x/one": L(str(victim)), "x/sub": L("/etc")})
    with pytest.raises(DestinationError, match="cannot copy to non-directory: /x/sub"):
        run(context, image, ("dir",), "/x")
    assert victim.read_text() == "host file"
    assert os.readlink(image / "x" / "sub") == "/etc"
    assert (image / "x" / "one").read_text() == "1"  # the link itself was replaced by the file


def test_copy_does_not_unpack_archives(context: BuildContext, image: Path, tmp_path: Path) -> None:
    import tarfile

    archive = Path(context.root) / "t.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(Path(context.root) / "a.txt", "inside.txt")
    run(context, image, ("t.tar",), "/t/")
    assert (image / "t" / "t.tar").is_file() and not (image / "t" / "inside.txt").exists()


def test_hardlinks_within_one_source_stay_linked(tmp_path: Path, image: Path) -> None:
    root = make_tree(tmp_path / "hl", {"h": D(), "h/one": "same"})
    os.link(root / "h" / "one", root / "h" / "two")
    execute_copy(str(image), CopyRequest("/h", ("h",), BuildContext(root).source()))
    assert os.stat(image / "h" / "one").st_ino == os.stat(image / "h" / "two").st_ino


def test_result_lists_written_paths(context: BuildContext, image: Path) -> None:
    result = run(context, image, ("dir",), "/x")
    assert result.written == ("/x", "/x/one", "/x/rel", "/x/sub", "/x/sub/two")


def test_mtimes_are_kept(context: BuildContext, image: Path) -> None:
    os.utime(Path(context.root) / "a.txt", (1_000_000, 1_000_000))
    run(context, image, ("a.txt",), "/m")
    assert os.stat(image / "m").st_mtime == 1_000_000


def test_context_fifos_and_devices_are_recreated_and_sockets_become_empty_files(tmp_path: Path, image: Path) -> None:
    # fsutil's receiver mknods fifos and devices; a socket has no type in its stat (docker 26 side
    # by side: tests/bench/compare_cases/context-special-files)
    root = make_tree(tmp_path / "specials", {"keep": "k"})
    os.mkfifo(root / "pipe", 0o640)
    os.mknod(root / "null", stat.S_IFCHR | 0o620, os.makedev(1, 3))
    os.chmod(root / "null", 0o620)  # mknod honours the umask
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(root / "sock"))
        os.chmod(root / "sock", 0o750)
        execute_copy(str(image), CopyRequest("/s/", (".",), BuildContext(root).source()))
    copied = image / "s"
    assert stat.S_ISFIFO(os.lstat(copied / "pipe").st_mode) and stat.S_IMODE(os.lstat(copied / "pipe").st_mode) == 0o640
    null = os.lstat(copied / "null")
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3) and stat.S_IMODE(null.st_mode) == 0o620
    sock = os.lstat(copied / "sock")
    assert stat.S_ISREG(sock.st_mode) and sock.st_size == 0 and stat.S_IMODE(sock.st_mode) == 0o750


def test_copy_into_the_root_itself(context: BuildContext, image: Path) -> None:
    result = run(context, image, ("dir",), "/")
    assert snapshot(image)["/sub/two"] == file("2")
    assert snapshot(image)["/etc"] == directory(), "existing dirs at the root are untouched"
    assert "/" not in result.written
