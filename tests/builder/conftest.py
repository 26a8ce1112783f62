"""Fixtures for end-to-end builds: a state root that already holds ``busybox:local``."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.images import busybox_tarball, import_busybox


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("busybox") is None and not Path("/bin/busybox").exists():
        pytest.fail("busybox-static is not installed (tests/apt-packages.txt)")
    return busybox_tarball(tmp_path_factory.mktemp("busybox"))


@pytest.fixture(scope="session")
def built_root(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Path:
    """One state root shared by the session's builds, so the cache tests see each other's steps."""
    root = tmp_path_factory.mktemp("pybuild-root")
    import_busybox(root, busybox_tar)
    return root
