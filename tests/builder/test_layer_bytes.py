"""Layer tars with the bytes Go's archive/tar writes, so a COPY layer has BuildKit's diffID.

The expected diffIDs come from docker 26 (BuildKit 0.13, moby's tar writer, the same Go
archive/tar rules as containerd's) building this very context side by side
(tests/bench/compare_docker.py): USTAR headers with octal zero device numbers, a long path
split into prefix and name, PAX records only when a field does not fit (sorted, in a
``PaxHeaders.0`` extended header), and two zero blocks at the end without record padding.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_build_e2e import run_build

pytestmark = pytest.mark.privileged

MTIME = 1_600_000_000
DEEP = "/".join(["d" * 60] * 3)  # 182 bytes: USTAR splits it into prefix and name
LONG = "n" * 120                 # a base name over 100 bytes: only PAX can carry it


def make_context(root: Path) -> Path:
    """A context whose every byte, mode and mtime is fixed."""
    tree = root / "tree"
    (tree / DEEP).mkdir(parents=True)
    files = {"plain": b"plain\n", LONG: b"long\n", f"{DEEP}/short": b"deep\n", "ünï": b"unicode\n",
             "empty": b"", "setuid": b"s\n"}
    for name, data in files.items():
        (tree / name).write_bytes(data)
        os.chmod(tree / name, 0o644)
    os.chmod(tree / "setuid", 0o4755)
    os.link(tree / "plain", tree / "hardlink")
    os.symlink("t" * 130, tree / "long-target")
    os.symlink("plain", tree / "short-target")
    for directory, dirs, names in os.walk(tree, topdown=False):
        for name in names + dirs:
            os.utime(Path(directory, name), (MTIME, MTIME), follow_symlinks=False)
        os.chmod(directory, 0o755)
    os.utime(tree, (MTIME, MTIME))
    (root / "Dockerfile").write_text("FROM busybox:local\nCOPY tree/plain /plain\nCOPY tree /tree/\n")
    return root


def test_copy_layers_have_the_diff_ids_docker_gives(built_root: Path, tmp_path: Path) -> None:
    context = make_context(tmp_path / "context")
    result = run_build(built_root, context, (context / "Dockerfile").read_text(), no_cache=True)
    assert [str(d) for d in result.image.config.diff_ids[-2:]] == [
        "sha256:79d755a2fbcdafbcaf9120ead3d6e78a3635923ba71fa902be6fdcfe9cf87a45",
        "sha256:642882e935983258c93ce6b4ca536d502c0c110779ed0074a4986cbb70ee28b3",
    ]
