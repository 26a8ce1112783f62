"""Images: their config and history as a build writes them, and images entering or leaving the store.

- ``config``: how each instruction changes the image config (pure functions);
- ``history``: the ``created_by`` text of each history entry;
- ``export``: the end of a build, config and manifest written into the store and named;
- ``compression``: layers compressed once per codec when they leave the machine;
- ``distribution``: ``pull_image`` and ``push_image`` against registries;
- ``importer``: ``pybuild import``, a rootfs tarball as a one-layer image;
- ``loading``: ``pybuild load``, docker and OCI archives into the store.

The store itself is ``builder.imagestore``; ``--output`` exports are ``builder.outputs``.
Exports load on first use (``builder.lazy``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from builder.lazy import lazy_exports

if TYPE_CHECKING:
    from builder.image.compression import Compression, LayerCompressor
    from builder.image.config import StageConfig
    from builder.image.distribution import pull_image, push_image
    from builder.image.export import ExportedImage, export_image
    from builder.image.history import created_by
    from builder.image.importer import import_rootfs
    from builder.image.loading import load_archive

_EXPORTS: dict[str, str] = {
    "Compression": "builder.image.compression",
    "LayerCompressor": "builder.image.compression",
    "StageConfig": "builder.image.config",
    "pull_image": "builder.image.distribution",
    "push_image": "builder.image.distribution",
    "ExportedImage": "builder.image.export",
    "export_image": "builder.image.export",
    "created_by": "builder.image.history",
    "import_rootfs": "builder.image.importer",
    "load_archive": "builder.image.loading",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
