"""Helpers for the diff and apply tests: a lower tree, overlay/native "RUN" drivers, tar and tree dumps."""
from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path
from typing import Callable

from runtime.diff import DiffStats, write_diff
from runtime.hostmounts import mounted
from runtime.mounts import Mount
from runtime.overlay import OVERLAY_OPTIONS

Operation = Callable[[Path], None]
LOWER_TIME = 1_600_000_000.25


def make_lower(root: Path) -> Path:
    (root / "d" / "sub").mkdir(parents=True)
    (root / "f").write_text("hello\n")
    (root / "d" / "y").write_text("y\n")
    (root / "d" / "sub" / "x").write_text("x\n")
    (root / "link").symlink_to("f")
    # distinct sub-second mtimes, as real files have (the native differ relies on them, see changes.py)
    for offset, path in enumerate(sorted(root.rglob("*"), reverse=True) + [root]):
        os.utime(path, ns=(int(LOWER_TIME * 1e9) + offset, int(LOWER_TIME * 1e9) + offset), follow_symlinks=False)
    return root


def diff_overlay(lower: Path, work: Path, operation: Operation) -> tuple[bytes, DiffStats, dict]:
    """Run ``operation`` on an overlay over ``lower``; return the layer tar, its stats and the merged tree."""
    upper, workdir = work / "upper", work / "work"
    upper.mkdir()
    workdir.mkdir()
    options = (f"lowerdir={lower}", f"upperdir={upper}", f"workdir={workdir}", *OVERLAY_OPTIONS)
    mount = Mount("overlay", "overlay", options)
    with mounted([mount]) as merged:
        operation(Path(merged))
        tree = dump_tree(Path(merged))
    out = io.BytesIO()
    stats = write_diff([Mount("bind", str(lower), ("rbind", "ro"))], [mount], out)
    return out.getvalue(), stats, tree


def diff_native(lower: Path, work: Path, operation: Operation) -> tuple[bytes, DiffStats, dict]:
    """The same with a full copy of ``lower`` as the upper tree (the native snapshotter's case)."""
    upper = work / "copy"
    subprocess.run(["cp", "-a", str(lower), str(upper)], check=True)
    operation(upper)
    out = io.BytesIO()
    stats = write_diff([Mount("bind", str(lower), ("rbind", "ro"))], [Mount("bind", str(upper), ("rbind", "rw"))], out)
    return out.getvalue(), stats, dump_tree(upper)


def describe(layer: bytes) -> list[str]:
    """One short string per tar entry: ``d/``, ``f``, ``l -> f``, ``h => f``, ``p|``, ``c 1:3``."""
    found = []
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        for member in tar:
            name = member.name
            if member.isdir():
                found.append(name + "/")
            elif member.issym():
                found.append(f"{name} -> {member.linkname}")
            elif member.islnk():
                found.append(f"{name} => {member.linkname}")
            elif member.isfifo():
                found.append(name + "|")
            elif member.ischr():
                found.append(f"{name} c {member.devmajor}:{member.devminor}")
            else:
                found.append(name)
    return found


def members(layer: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        return {member.name: member for member in tar}


def dump_tree(root: Path) -> dict[str, tuple]:
    """Everything a layer must reproduce, per path: type, mode, owner, content or target, whole-second mtime."""
    tree = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                payload: object = Path(path).read_bytes()
            elif stat.S_ISLNK(st.st_mode):
                payload = os.readlink(path)
            elif stat.S_ISCHR(st.st_mode):
                payload = st.st_rdev
            else:
                payload = None
            mtime = None if stat.S_ISDIR(st.st_mode) else int(st.st_mtime)
            tree[os.path.relpath(path, root)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
                                                  st.st_gid, payload, mtime)
    return tree


def move(source: Path, target: Path) -> None:
    """``mv``: rename, falling back to copy + delete on EXDEV (overlay with redirect_dir=off)."""
    shutil.move(str(source), str(target))
