"""What ``cache prune`` and ``cache check`` share: the store-wide lock and what is safe to delete.

Both run under the image store's EXCLUSIVE ``gc.lock``: builds hold it SHARED while they
run, so no snapshot or blob disappears under a live build.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator

from builder.imagestore.collect import Collected, delete_blobs
from builder.imagestore.locks import locked
from builder.imagestore.reading import ManifestReader
from builder.services import Services
from registry_client import Digest, RegistryError
from runtime import Kind, SnapshotError

STEP_SNAPSHOT = re.compile(r"step-([0-9a-f]{64})")


@contextlib.contextmanager
def exclusive(services: Services) -> Iterator[None]:
    with locked(services.root / "gc.lock"):
        yield


def unrecorded_snapshots(services: Services) -> list[str]:
    """Committed step snapshots no record names and no other snapshot builds on, children first.

    A step snapshot whose record is gone but that still has a child is kept: the child's
    filesystem is layered on it.
    """
    entries = list(services.cache.entries())
    recorded = {entry.key.hex for entry in entries} | {entry.record.snapshot for entry in entries}
    infos = services.snapshotter.list()
    found: list[str] = []
    while True:  # removing a leaf may make its parent a leaf
        live = [info for info in infos if info.name not in found]
        parents = {info.parent for info in live if info.parent}
        leaves = [info.name for info in live if info.kind is Kind.COMMITTED and info.name not in parents
                  and (match := STEP_SNAPSHOT.fullmatch(info.name)) and match.group(1) not in recorded
                  and info.name not in recorded]
        if not leaves:
            return found
        found += leaves


def remove_snapshots(services: Services, names: Iterable[str]) -> int:
    removed = 0
    for name in names:
        with contextlib.suppress(SnapshotError):
            services.snapshotter.remove(name)
            removed += 1
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
