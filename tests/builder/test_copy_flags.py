"""COPY flags: --chown (resolved in the destination image), --chmod, --from owners, --parents, --exclude, heredocs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_copy_support import D, F, L, directory, file, link, make_tree, snapshot

from builder.context.local import BuildContext
from builder.copy.errors import CopyError, SourceNotFoundError
from builder.copy.execute import CopyRequest, InlineSource, execute_copy
from builder.copy.sources import SourceRoot
from grammar.chmod import parse_chmod

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:4242:4343:nobody:/:/sbin/nologin\napp:x:1000:1001::/home/app:/bin/sh\n"
GROUP = "root:x:0:\nnogroup:x:4343:\nstaff:x:50:app\n"


@pytest.fixture
def image(tmp_path: Path) -> Path:
    # /etc/passwd is an absolute symlink, as in some images: it must be read inside the rootfs.
    return make_tree(tmp_path / "rootfs", {"etc": D(), "data/passwd": PASSWD, "etc/passwd": L("/data/passwd"),
                                           "etc/group": GROUP, "keep": D(0o700, 7, 7)})


@pytest.fixture
def context(tmp_path: Path) -> BuildContext:
    return BuildContext(make_tree(tmp_path / "ctx", {
        "f": F("f", 0o664, uid=1234, gid=1234), "suid": F("s", 0o4755), "tree": D(0o750),
        "tree/x": F("x", 0o640), "tree/deep": D(0o700), "tree/deep/y": F("y", 0o600),
        "tree/l": L("x"), "tree/skip.txt": "t", "tree/deep/skip.txt": "t"}))


def copy(image: Path, source: SourceRoot, sources: tuple[str, ...], dest: str, **flags) -> None:
    execute_copy(str(image), CopyRequest(dest, sources, source, **flags))


@pytest.mark.parametrize(("spec", "owner"), [
    ("nobody", (4242, 4343)),  # from the image's passwd, not the host's (65534)
    ("1000", (1000, 1000)),  # a numeric user alone: gid = uid
    ("app:staff", (1000, 50)),
    ("1000:nogroup", (1000, 4343)),
    ("app:7", (1000, 7)),
])
def test_chown_resolved_in_destination(image: Path, context: BuildContext, spec: str, owner: tuple[int, int]) -> None:
    copy(image, context.source(), ("tree",), "/new/dir/", chown=spec)
    tree = snapshot(image, "new")
    uid, gid = owner
    assert tree["/new"] == directory(uid=uid, gid=gid), "created parents get the --chown owner"
    assert tree["/new/dir/x"] == file("x", 0o640, uid, gid)
    assert tree["/new/dir/l"] == link("x", uid, gid)
    assert tree["/new/dir/deep"] == directory(0o700, uid, gid)


@pytest.mark.parametrize(("spec", "owner"), [
    # BuildKit's file op treats a name it cannot find as "not found", never as an error
    # (docker 26 side by side, tests/bench/compare_cases/user-group-workdir, chown-chmod-more)
    ("ghost", (0, 0)),
    ("ghost:staff", (0, 50)),
    ("app:ghosts", (1000, 1001)),  # the user's primary group stays
    ("4000:ghosts", (4000, 4000)),
    ("root:ghosts", (0, 0)),
    (":staff", (0, 50)),  # an empty side is id 0
    ("4000:", (4000, 0)),
    (":", (0, 0)),
])
def test_chown_unknown_or_empty_names_fall_back(image: Path, context: BuildContext, spec: str,
                                                owner: tuple[int, int]) -> None:
    copy(image, context.source(), ("f",), "/f", chown=spec)
    assert snapshot(image, "f")["/f"] == file("f", 0o664, *owner)


def test_chown_by_name_without_passwd_file(tmp_path: Path, context: BuildContext) -> None:
    bare = make_tree(tmp_path / "bare", {"etc": D()})
    copy(bare, context.source(), ("f",), "/f", chown="app:app")
    assert snapshot(bare, "f")["/f"] == file("f", 0o664, 0, 0)


def test_chown_by_name_on_bare_scratch_fails(tmp_path: Path, context: BuildContext) -> None:
    # docker 26: "invalid user index: -1" (no image below the file op to read names from)
    empty = tmp_path / "scratch"
    empty.mkdir()
    with pytest.raises(CopyError, match="empty scratch filesystem"):
        copy(empty, context.source(), ("f",), "/f", chown="app")
    copy(empty, context.source(), ("f",), "/f", chown="1000:root")
    assert snapshot(empty, "f")["/f"] == file("f", 0o664, 1000, 0)


def test_context_files_are_root_owned_and_from_files_keep_owners(image: Path, tmp_path: Path,
                                                                 context: BuildContext) -> None:
    stage = make_tree(tmp_path / "stage", {"owned": D(0o755, 300, 400), "owned/f": F("o", 0o600, 301, 401)})
    copy(image, context.source(), ("f",), "/ctx")
    copy(image, SourceRoot(str(stage), name="stage"), ("/owned",), "/from")
    copy(image, SourceRoot(str(stage), name="stage"), ("/owned",), "/keep")
    tree = snapshot(image)
    assert tree["/ctx"] == file("f", 0o664, 0, 0)
    assert tree["/from"] == directory(0o755, 0, 0), "the dest dir itself is created, 0:0"
    assert tree["/from/f"] == file("o", 0o600, 301, 401)
    assert tree["/keep"] == directory(0o700, 7, 7), "an existing top-level dir keeps its owner and mode"


@pytest.mark.parametrize(("chmod", "file_mode", "subdir_mode"), [
    ("0640", 0o640, 0o640),
    ("755", 0o755, 0o755),
    ("u+x,g-w", 0o740, 0o710),  # x: 0640 -> 0740; deep: 0700 -> 0700 (g had no w): see below
    ("a+X", 0o640, 0o711),  # X adds x only for directories (or already-executable files)
    ("go-w", 0o640, 0o700),
])
def test_chmod_applies_to_files_and_copied_dirs(image: Path, context: BuildContext, chmod: str,
                                                file_mode: int, subdir_mode: int) -> None:
    spec = parse_chmod(chmod)
    copy(image, context.source(), ("tree",), "/m", chmod=spec)
    tree = snapshot(image, "m")
    assert tree["/m"] == directory(0o755), "the top-level dir is created by mkdir -p, not chmod'ed (BuildKit 0.13)"
    assert tree["/m/x"][1] == file_mode
    assert tree["/m/deep"][1] == spec.apply(0o700, is_dir=True)
    assert tree["/m/l"] == link("x")
    if chmod != "u+x,g-w":
        assert tree["/m/deep"][1] == subdir_mode


def test_chmod_parents_stay_0755(image: Path, context: BuildContext) -> None:
    copy(image, context.source(), ("f",), "/parent/sub/f", chmod=parse_chmod("0600"))
    tree = snapshot(image, "parent")
    assert tree["/parent"] == directory() and tree["/parent/sub"] == directory()
    assert tree["/parent/sub/f"] == file("f", 0o600)


def test_setuid_bits_survive_copy_and_chown(image: Path, context: BuildContext) -> None:
    copy(image, context.source(), ("suid",), "/bin/s", chown="app")
    copy(image, context.source(), ("f",), "/bin/t", chmod=parse_chmod("4711"))
    assert snapshot(image, "bin")["/bin/s"] == file("s", 0o4755, 1000, 1001)
    assert snapshot(image, "bin")["/bin/t"][1] == 0o4711


def test_existing_subdirs_take_source_metadata(image: Path, context: BuildContext) -> None:
    make_tree(image, {"dst": D(0o700, 9, 9), "dst/deep": D(0o777, 9, 9)})
    copy(image, context.source(), ("tree",), "/dst")
    tree = snapshot(image, "dst")
    assert tree["/dst"] == directory(0o700, 9, 9)
    assert tree["/dst/deep"] == directory(0o700, 0, 0)


@pytest.mark.parametrize(("word", "dest", "expected"), [
    ("tree/deep/y", "/out/", {"/out": directory(), "/out/tree": directory(0o750), "/out/tree/deep": directory(0o700),
                              "/out/tree/deep/y": file("y", 0o600)}),
    ("tree/./deep/y", "/out/", {"/out": directory(), "/out/deep": directory(0o700),
                                "/out/deep/y": file("y", 0o600)}),
    ("tree/*/y", "/out/", {"/out": directory(), "/out/tree": directory(0o750), "/out/tree/deep": directory(0o700),
                           "/out/tree/deep/y": file("y", 0o600)}),
    ("f", "/out/", {"/out": directory(), "/out/f": file("f", 0o664)}),
])
def test_parents_keep_the_source_structure(image: Path, context: BuildContext, word: str, dest: str,
                                           expected: dict) -> None:
    copy(image, context.source(), (word,), dest, parents=True)
    assert snapshot(image, "out") == expected


def test_parents_missing_literal_path_fails(image: Path, context: BuildContext) -> None:
    with pytest.raises(SourceNotFoundError, match='"/tree/none": not found'):
        copy(image, context.source(), ("tree/none",), "/out/", parents=True)


@pytest.mark.parametrize(("exclude", "kept"), [
    (("*.txt",), {"/e", "/e/x", "/e/l", "/e/deep", "/e/deep/y", "/e/deep/skip.txt"}),  # relative to the copied dir
    (("**/*.txt",), {"/e", "/e/x", "/e/l", "/e/deep", "/e/deep/y"}),
    (("deep",), {"/e", "/e/x", "/e/l", "/e/skip.txt"}),
    (("deep", "!deep/y"), {"/e", "/e/x", "/e/l", "/e/skip.txt", "/e/deep", "/e/deep/y"}),
    (("*",), {"/e"}),
])
def test_exclude_patterns(image: Path, context: BuildContext, exclude: tuple[str, ...], kept: set[str]) -> None:
    copy(image, context.source(), ("tree",), "/e", exclude=exclude)
    assert set(snapshot(image, "e")) | {"/e"} == kept


def test_excluded_dir_rescued_by_exception_keeps_its_metadata(image: Path, context: BuildContext) -> None:
    copy(image, context.source(), ("tree",), "/e", exclude=("deep", "!deep/y"))
    assert snapshot(image, "e")["/e/deep"] == directory(0o700)


def test_heredoc_sources(image: Path) -> None:
    inline = (InlineSource("EOF", b"hello\n"), InlineSource("EOF2", b"two"))
    execute_copy(str(image), CopyRequest("/double/", inline=inline))
    execute_copy(str(image), CopyRequest("/single", inline=(InlineSource("EOF", b"x"),), chmod=parse_chmod("755"),
                                         chown="app"))
    tree = snapshot(image)
    assert tree["/double/EOF"] == file("hello\n", 0o644)
    assert tree["/double/EOF2"] == file("two", 0o644)
    assert tree["/single"] == file("x", 0o755, 1000, 1001)
