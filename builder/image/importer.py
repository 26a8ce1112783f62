"""``pybuild import``: a root filesystem tarball becomes a one-layer image (like ``docker import``)."""
from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

from builder.errors import UsageError
from builder.image.export import OCI_CONFIG, OCI_MANIFEST
from builder.imagestore import ImageStore
from builder.layers import UNCOMPRESSED_LAYER
from grammar import record
from registry_client import Descriptor, Digest, History, ImageConfig, Manifest, Platform, host_platform, open_uncompressed

_CHUNK = 1 << 20


@record
class ImportedImage:
    manifest: Descriptor
    image_id: str


def import_rootfs(store: ImageStore, tarball: Path, reference: str, *, platform: Platform | None = None,
                  changes: Sequence[str] = (), message: str = "") -> ImportedImage:
    """Store ``tarball`` (plain, gzip or zstd) as the single layer of a new image named ``reference``."""
    if not tarball.is_file():
        raise UsageError(f"import: {tarball}: no such file")
    with tarball.open("rb") as raw, store.content.writer() as writer:
        stream = open_uncompressed(raw, "")
        digest = hashlib.sha256()
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            writer.write(chunk)
        layer = writer.commit(UNCOMPRESSED_LAYER)
    diff_id = Digest("sha256", digest.hexdigest())
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    history = History(created=created, created_by="", comment=message or f"Imported from {tarball.name}")
    config = ImageConfig(platform=platform or host_platform(), diff_ids=(diff_id,), history=(history,),
                         created=created, env=tuple(changes))
    config_descriptor = store.content.put_bytes(config.to_bytes(), OCI_CONFIG)
    manifest = Manifest(config_descriptor, (layer,), OCI_MANIFEST)
    descriptor = store.content.put_bytes(manifest.to_bytes(), OCI_MANIFEST)
    store.tag(reference, descriptor)
    return ImportedImage(descriptor, str(config_descriptor.digest))
