"""The offline samples build and run as their READMEs say (samples/*, busybox base)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.images import flatten

pytestmark = pytest.mark.privileged
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def pybuild(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "builder.cli", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=300)


def test_busybox_hello_builds_and_runs(built_root: Path) -> None:
    assert pybuild(built_root, "build", "-q", "-t", "sample:hello", str(SAMPLES / "busybox-hello")).returncode == 0
    result = pybuild(built_root, "run", "--rm", "sample:hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["hello from pybuild", f"built on {__import__('os').uname().machine}",
                                          "running as app"]


def test_heredocs_sample(built_root: Path, tmp_path: Path) -> None:
    assert pybuild(built_root, "build", "-q", "-t", "sample:heredocs", str(SAMPLES / "heredocs")).returncode == 0
    tree = flatten(built_root, "sample:heredocs", tmp_path / "t")
    app = tree / "etc/app"
    assert (app / "CONF").read_text() == "\tlisten 8080\n"  # << keeps tabs
    assert (app / "GREETING").read_text() == "hello world\n"  # <<- strips them; unquoted: expanded
    assert (app / "literal").read_text() == "from the script's environment: world\n"
    assert (app / "a.txt").read_text() == "first file\n" and (app / "b.txt").read_text() == "second file\n"


def test_static_site_sample(built_root: Path, tmp_path: Path) -> None:
    result = pybuild(built_root, "build", "-q", "-t", "sample:site", str(SAMPLES / "static-site"))
    assert result.returncode == 0, result.stderr
    tree = flatten(built_root, "sample:site", tmp_path / "t")
    index = (tree / "srv/www/index.html").stat()
    assert (index.st_uid, index.st_gid, index.st_mode & 0o777) == (101, 101, 0o644)
    inspect = pybuild(built_root, "inspect", "sample:site")
    assert '"8080/tcp"' in inspect.stdout and '"CMD-SHELL"' in inspect.stdout
