"""Base images and image inspection for end-to-end tests: everything offline, from Debian packages."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from builder.image.importer import import_rootfs
from builder.imagestore import ImageStore
from registry_client import ContentStore, open_uncompressed
from runtime import apply_layer

ROOT = Path(__file__).resolve().parents[2]
MAKE_ROOTFS = ROOT / "samples" / "busybox-base" / "make-rootfs.sh"


def busybox_tarball(directory: Path) -> Path:
    """The samples' reproducible busybox rootfs tarball (from Debian's busybox-static)."""
    tarball = directory / "busybox-rootfs.tar"
    if not tarball.exists():
        subprocess.run(["bash", str(MAKE_ROOTFS), str(tarball)], check=True)
    return tarball


def import_busybox(root: Path, tarball: Path, reference: str = "busybox:local") -> str:
    return import_rootfs(ImageStore(root), tarball, reference).image_id


def busybox_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new store holding busybox:local (the test is skipped without Debian's busybox-static)."""
    if not os.path.exists("/bin/busybox"):
        pytest.skip("busybox-static is not installed (tests/apt-packages.txt)")
    root = tmp_path_factory.mktemp("store")
    import_busybox(root, busybox_tarball(tmp_path_factory.mktemp("tarball")))
    return root


def flatten(root: Path, reference: str, target: Path) -> Path:
    """Apply every layer of a stored image onto ``target``: the image's file tree."""
    store = ImageStore(root)
    image = store.image(reference)
    content = ContentStore(root)
    target.mkdir(parents=True, exist_ok=True)
    for layer in image.manifest.layers:
        with content.open(layer.digest) as blob:
            apply_layer(open_uncompressed(blob, layer.media_type), str(target))
    return target
