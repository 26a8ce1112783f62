"""A corpus of hostile layers: none may write, link, chmod or delete anything outside the root."""
from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
from layer_trees import dump_tree

from runtime.apply import apply_layer
from runtime.errors import ContainerError, UnsafeLayerError, UserLookupError
from runtime.users import resolve_user

OUTSIDE = "__OUTSIDE__"  # replaced by the absolute path of the sibling "outside" directory


def reg(name: str, data: bytes = b"pwned", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def directory(name: str, mode: int = 0o777) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    return info, None


def symlink(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, None


def hardlink(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.LNKTYPE, target
    return info, None


def pax_path(path: str) -> tuple[tarfile.TarInfo, bytes]:
    info, data = reg("harmless")
    info.pax_headers = {"path": path}
    return info, data


LONG = "a" * 300
CORPUS: dict[str, list] = {
    "dotdot": [reg("../evil")],
    "dotdot nested": [reg("a/../../evil")],
    "dotdot after dot": [reg("./../evil")],
    "dotdot deep": [reg("a/b/c/../../../../evil")],
    "absolute": [reg(OUTSIDE + "/evil")],
    "absolute etc": [reg("/etc/pybuild-evil")],
    "symlink to root then through": [symlink("a", "/"), reg("a" + OUTSIDE + "/evil")],
    "symlink to absolute dir then through": [symlink("a", OUTSIDE), reg("a/evil")],
    "symlink dotdot then through": [symlink("a", ".."), reg("a/outside/evil")],
    "symlink deep dotdot then through": [symlink("a", "../../../../.."), reg("a/tmp/evil")],
    "symlink chain escapes": [symlink("a", "b"), symlink("b", ".."), reg("a/outside/evil")],
    "symlink in subdir escapes": [directory("d"), symlink("d/up", "../.."), reg("d/up/outside/evil")],
    "symlink loop": [symlink("a", "a"), reg("a/evil")],
    "symlink long chain": [symlink(f"l{i}", f"l{i + 1}") for i in range(50)] + [directory("l50"), reg("l0/evil")],
    "dir entry over symlink to outside": [symlink("a", OUTSIDE), directory("a")],
    "file entry over symlink to outside file": [symlink("s", OUTSIDE + "/secret"), reg("s")],
    "file entry over symlink to outside dir": [symlink("s", OUTSIDE), reg("s")],
    "chmod via symlink dir entry": [symlink("d", OUTSIDE + "/dir"), directory("d", 0o777)],
    "hardlink dotdot": [hardlink("h", "../outside/secret")],
    "hardlink absolute host file": [hardlink("h", OUTSIDE + "/secret")],
    "hardlink through absolute symlink": [symlink("a", "/"), hardlink("h", "a" + OUTSIDE + "/secret")],
    "hardlink through dotdot symlink": [symlink("a", ".."), hardlink("h", "a/outside/secret")],
    "hardlink to symlink then write": [symlink("s", OUTSIDE + "/secret"), hardlink("h", "s"), reg("h")],
    "hardlink to directory": [directory("d"), hardlink("h", "d")],
    "whiteout dotdot": [reg("a/.wh..."), reg(".wh..."), directory("a")],
    "whiteout through symlink": [symlink("a", OUTSIDE), reg("a/.wh.secret")],
    "whiteout of symlink only removes the link": [symlink("s", OUTSIDE), reg(".wh.s")],
    "opaque through symlink": [symlink("a", OUTSIDE), reg("a/.wh..wh..opq")],
    "opaque with symlink child": [directory("d"), symlink("d/s", OUTSIDE), reg("d/.wh..wh..opq"), directory("d")],
    "empty whiteout name": [reg(".wh.")],
    "overlong component": [reg(LONG)],
    "overlong path": [reg("/".join(["b" * 200] * 25))],
    "pax path override": [pax_path("../evil")],
    "pax absolute path override": [pax_path(OUTSIDE + "/evil")],
    "root replaced by file": [reg(".")],
    "backslashes stay names": [reg("..\\evil")],
    "pre-planted symlink in root": [reg("pre/evil")],
    "pre-planted relative escape": [reg("pre-rel/evil")],
    "overlay xattr forgery": [directory("x")],
}
MUST_FAIL = {
    "dotdot", "dotdot nested", "dotdot after dot", "dotdot deep", "absolute", "absolute etc",
    "symlink to root then through", "symlink to absolute dir then through", "symlink dotdot then through",
    "symlink deep dotdot then through", "symlink chain escapes", "symlink in subdir escapes", "symlink loop",
    "symlink long chain", "hardlink dotdot", "hardlink through absolute symlink", "hardlink through dotdot symlink",
    "hardlink to directory", "whiteout dotdot", "whiteout through symlink", "opaque through symlink",
    "empty whiteout name", "overlong component", "overlong path", "pax path override",
    "pax absolute path override", "root replaced by file", "pre-planted symlink in root",
    "pre-planted relative escape",
}


def _tar(entries: list, outside: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            info.name = info.name.replace(OUTSIDE, outside)
            info.linkname = info.linkname.replace(OUTSIDE, outside)
            if "path" in info.pax_headers:
                info.pax_headers = {"path": info.pax_headers["path"].replace(OUTSIDE, outside)}
            if info.name == "x":
                info.pax_headers = {"SCHILY.xattr.trusted.overlay.opaque": "y",
                                    "SCHILY.xattr.trusted.overlay.redirect": "/outside"}
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30
    assert MUST_FAIL <= set(CORPUS)


@pytest.mark.privileged
@pytest.mark.parametrize("case", CORPUS)
def test_hostile_layer_stays_inside_the_root(tmp_path: Path, case: str) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    (outside / "dir").mkdir(parents=True)
    (outside / "secret").write_text("secret")
    (root / "pre").symlink_to(outside)
    (root / "pre-rel").symlink_to("../outside")
    before = dump_tree(outside), os.stat(outside / "dir").st_mode
    layer = _tar(CORPUS[case], str(outside))
    if case in MUST_FAIL:
        with pytest.raises(UnsafeLayerError if "loop" not in case else ContainerError):
            apply_layer(io.BytesIO(layer), str(root))
    else:
        try:
            apply_layer(io.BytesIO(layer), str(root))
        except ContainerError:
            pass  # refusing is always allowed
    assert (dump_tree(outside), os.stat(outside / "dir").st_mode) == before
    assert sorted(os.listdir(tmp_path)) == ["outside", "root"]
    assert not os.path.exists("/etc/pybuild-evil")
    assert not any(name.endswith("evil") for name in os.listdir("/tmp"))
    if case == "overlay xattr forgery":
        assert os.listxattr(root / "x") == []


@pytest.mark.privileged
def test_errors_explain_the_problem(tmp_path: Path) -> None:
    layer = _tar([symlink("a", "/"), reg("a/etc/passwd")], str(tmp_path))
    with pytest.raises(UnsafeLayerError, match=r"'a/etc/passwd'.*symlink 'a' -> '/'.*outside"):
        apply_layer(io.BytesIO(layer), str(tmp_path))
    with pytest.raises(UnsafeLayerError, match="'..' component"):
        apply_layer(io.BytesIO(_tar([reg("../x")], "")), str(tmp_path))


def test_user_lookup_never_follows_a_passwd_symlink_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "host-passwd"
    outside.write_text("ghost:x:4242:4242::/:/bin/sh\n")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").symlink_to(f"../../{outside.name}")
    with pytest.raises(UserLookupError):
        resolve_user(str(root), "ghost")
