"""Base images and image inspection for end-to-end tests: everything offline, from Debian packages."""
from __future__ import annotations

import subprocess
from pathlib import Path

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
