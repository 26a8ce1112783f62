"""Helpers shared by the COPY/ADD/context tests: build trees from specs and snapshot them."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class F:
    """A regular file in a tree spec."""

    content: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class D:
    mode: int = 0o755
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class L:
    target: str


def make_tree(root: Path, spec: dict[str, F | D | L | str]) -> Path:
    """Create ``spec`` (relative path -> node; a str is a 0644 file) below ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    directories: list[tuple[Path, D]] = []
    for relpath, node in spec.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(node, str):
            node = F(node)
        if isinstance(node, D):
            path.mkdir(exist_ok=True)
            directories.append((path, node))
        elif isinstance(node, L):
            os.symlink(node.target, path)
        else:
            path.write_text(node.content)
            os.chown(path, node.uid, node.gid)
            os.chmod(path, node.mode)
    for path, node in reversed(directories):  # modes last: a 0500 dir would refuse children
        os.chown(path, node.uid, node.gid)
        os.chmod(path, node.mode)
    return root


Snapshot = tuple[str, int, int, int, str]  # (type, mode bits, uid, gid, content or link target)


def snapshot(root: Path, below: str = "") -> dict[str, Snapshot]:
    """Every path under ``root/below`` as ``/relpath -> (type, mode, uid, gid, content|target)``."""
    found: dict[str, Snapshot] = {}
    start = root / below if below else root
    paths = [start] if below else []
    for directory, dirs, files in os.walk(start):
        paths.extend(Path(directory) / name for name in dirs + files)
    for path in paths:
        st = os.lstat(path)
        key = "/" + str(path.relative_to(root))
        perm = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            found[key] = ("l", perm, st.st_uid, st.st_gid, os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            found[key] = ("d", perm, st.st_uid, st.st_gid, "")
        else:
            found[key] = ("f", perm, st.st_uid, st.st_gid, path.read_text(errors="replace"))
    return found


def file(content: str, mode: int = 0o644, uid: int = 0, gid: int = 0) -> Snapshot:
    return ("f", mode, uid, gid, content)


def directory(mode: int = 0o755, uid: int = 0, gid: int = 0) -> Snapshot:
    return ("d", mode, uid, gid, "")


def link(target: str, uid: int = 0, gid: int = 0) -> Snapshot:
    return ("l", 0o777, uid, gid, target)
