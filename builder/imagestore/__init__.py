"""The local image store: the state root is itself an OCI image layout.

Layout of ``<root>`` (shared with ``registry_client.ContentStore``, so blobs are shared)::

    oci-layout            {"imageLayoutVersion": "1.0.0"}
    index.json            OCI index; one entry per name (or per dangling image)
    blobs/sha256/<hex>    manifests, configs and layers, verified on write
    ingest/               blob writes in progress (stale ones are swept, see collect.py)
    index.lock, gc.lock   flock files (see locks.py)

Naming: each ``index.json`` entry carries ``org.opencontainers.image.ref.name`` = the full
normalised reference (``docker.io/library/busybox:latest``, ``127.0.0.1:5000/app@sha256:...``);
an entry without it is a dangling image. ``io.pybuild.image.repo-digest`` keeps the
``name@digest`` a registry served the image as (docker's RepoDigests). A pull stores the
platform's image manifest, so an image ID (the config digest, as docker shows it) is
one lookup away; an entry may also be an index (a multi-platform build or a loaded archive).

Concepts: ``ImageStore`` names, resolves, lists and removes images; ``StoredImage`` is one
image read back (manifest, config, their bytes); ``ImageRecord`` is one row of ``images``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from builder.lazy import lazy_exports

if TYPE_CHECKING:
    from .collect import Collected, sweep_ingest
    from .errors import AmbiguousImage, ImageInUse, ImageNotFound, ImageStoreError, StoreCorrupt
    from .names import REF_NAME, REPO_DIGEST
    from .reading import StoredImage
    from .store import ImageRecord, ImageStore, Removal

# Lazy (PEP 562): a pull takes the store's lease (``locks``) before its blobs download and
# imports the rest of the store while they do.
_EXPORTS: dict[str, str] = {
    "Collected": "builder.imagestore.collect",
    "sweep_ingest": "builder.imagestore.collect",
    "AmbiguousImage": "builder.imagestore.errors",
    "ImageInUse": "builder.imagestore.errors",
    "ImageNotFound": "builder.imagestore.errors",
    "ImageStoreError": "builder.imagestore.errors",
    "StoreCorrupt": "builder.imagestore.errors",
    "REF_NAME": "builder.imagestore.names",
    "REPO_DIGEST": "builder.imagestore.names",
    "StoredImage": "builder.imagestore.reading",
    "ImageRecord": "builder.imagestore.store",
    "ImageStore": "builder.imagestore.store",
    "Removal": "builder.imagestore.store",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
