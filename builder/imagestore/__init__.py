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

from .collect import Collected, sweep_ingest
from .errors import AmbiguousImage, ImageInUse, ImageNotFound, ImageStoreError, StoreCorrupt
from .names import REF_NAME, REPO_DIGEST
from .reading import StoredImage
from .store import ImageRecord, ImageStore, Removal

__all__ = [
    "REF_NAME",
    "REPO_DIGEST",
    "AmbiguousImage",
    "Collected",
    "ImageInUse",
    "ImageNotFound",
    "ImageRecord",
    "ImageStore",
    "ImageStoreError",
    "Removal",
    "StoreCorrupt",
    "StoredImage",
    "sweep_ingest",
]
