"""Fixtures for end-to-end builds: a state root whose ``busybox:local`` was pulled from a real registry.

The busybox rootfs (from Debian's busybox-static) is imported once into a publisher root, pushed
to Debian's docker-registry on 127.0.0.1 with pybuild's own push (layers compressed on the way),
and pulled into the shared build root: every end-to-end build starts from a base image that went
through a real registry, as ``FROM busybox`` does. ``busybox:local`` is the name the builds use.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest

from registry_commands_support import make_client  # also puts tests/registry_client on sys.path
from registry_servers import RegistryProcess

from builder.image.distribution import pull_image, push_image
from builder.imagestore import ImageStore
from tests.support.images import busybox_tarball, import_busybox

BASE_REPOSITORY = "library/busybox:latest"


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("busybox") is None and not Path("/bin/busybox").exists():
        pytest.fail("busybox-static is not installed (tests/apt-packages.txt)")
    return busybox_tarball(tmp_path_factory.mktemp("busybox"))


@pytest.fixture(scope="session")
def base_registry(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Iterator[str]:
    """A docker-registry holding ``library/busybox:latest``; yields its host."""
    if shutil.which("docker-registry") is None:
        pytest.fail("docker-registry is not installed (tests/apt-packages.txt)")
    work = tmp_path_factory.mktemp("base-registry")
    process = RegistryProcess(work)
    try:
        reference = f"{process.host}/{BASE_REPOSITORY}"
        publisher = work / "publisher"
        import_busybox(publisher, busybox_tar, reference)
        push_image(ImageStore(publisher), reference, client=make_client())
        yield process.host
    finally:
        process.stop()


@pytest.fixture(scope="session")
def built_root(tmp_path_factory: pytest.TempPathFactory, base_registry: str) -> Path:
    """One state root shared by the session's builds, so the cache tests see each other's steps."""
    root = tmp_path_factory.mktemp("pybuild-root")
    store = ImageStore(root)
    pulled = pull_image(store, f"{base_registry}/{BASE_REPOSITORY}", client=make_client())
    entry = store.resolve(str(pulled.name))
    assert entry is not None
    store.tag("busybox:local", entry)
    return root
