"""What ``cache prune`` and ``cache check`` share: the store-wide lock and what is safe to delete.

Both run under the image store's EXCLUSIVE ``gc.lock``: builds hold it SHARED while they
run, so no snapshot or blob disappears under a live build.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from builder.cache.leftovers import unrecorded_step_snapshots
from builder.cache.lineage import LineageStore
from builder.imagestore.collect import Collected, delete_blobs
from builder.imagestore.locks import locked
from builder.imagestore.reading import ManifestReader
from builder.layers import snapshot_exists
from builder.services import Services
from registry_client import Digest, RegistryError
from runtime import SnapshotError


@contextlib.contextmanager
def exclusive(services: Services) -> Iterator[None]:
    with locked(services.root / "gc.lock"):
        yield


def unrecorded_snapshots(services: Services) -> list[str]:
    """Committed step snapshots no record names and nothing builds on (see ``builder.cache.leftovers``)."""
    return unrecorded_step_snapshots(services.snapshotter, services.cache)


def remove_snapshots(services: Services, names: Iterable[str]) -> int:
    """Remove ``names``, then the lineage records that named a snapshot no longer there."""
    removed = 0
    for name in names:
        with contextlib.suppress(SnapshotError):
            services.snapshotter.remove(name)
            removed += 1
    LineageStore(services.root).drop_stale(lambda name: snapshot_exists(services.snapshotter, name))
    return removed


def delete_unneeded_blobs(services: Services, candidates: set[Digest]) -> Collected:
    """Delete ``candidates`` unless an image or a remaining cache record needs them (caller holds the lock)."""
    keep: set[Digest] = set()
    for text in services.cache.layer_digests():
        with contextlib.suppress(RegistryError):
            keep.add(Digest.parse(text))
    reader = ManifestReader(services.store)
    for entry in services.images.entries():
        keep |= reader.blobs_of(entry)
    return delete_blobs(services.root, keep, candidates)
