"""A cache ready to leave the machine: manifest, config and compressed layers in one content store.

Both transports build it the same way and differ only in where layer blobs come from and
where the bundle goes: ``ocidir`` writes it into a directory, ``registry`` pushes it.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from builder.cache.index import CacheRecord
from builder.cachetransfer.document import CONFIG_TYPE, config_bytes, layer_descriptor, manifest_for
from grammar import record
from registry_client import ContentStore, Descriptor, Digest, MediaType

# diff_id -> (the layer's compressed blob, taken from an earlier cache?) or None when the layer is gone.
LayerBlobs = Callable[[str], "tuple[Descriptor, bool] | None"]


@record
class CacheBundle:
    store: ContentStore  # holds the manifest and config (and the layers a transport reads from it)
    manifest: Descriptor
    config: Descriptor
    layers: tuple[Descriptor, ...]
    records: int
    compressed: int  # layers this export compressed
    reused: int  # layers taken from the cache already at the destination

    @property
    def digests(self) -> set[Digest]:
        return {self.manifest.digest, self.config.digest, *(layer.digest for layer in self.layers)}


def make_bundle(store: ContentStore, records: Sequence[tuple[str, CacheRecord]], layer_blobs: LayerBlobs,
                deadline: float, timeout: float) -> CacheBundle:
    """The bundle of ``records``; a record whose layer is gone stays behind (it could not hit)."""
    blobs: dict[str, tuple[Descriptor, bool]] = {}
    gone: set[str] = set()
    kept: list[tuple[str, CacheRecord]] = []
    for key, record in records:
        diff_id = record.diff_id
        if diff_id is not None and diff_id not in blobs:
            if diff_id in gone:
                continue
            if time.monotonic() >= deadline:
                raise TimeoutError(f"gave up after {timeout:.0f}s")
            found = layer_blobs(diff_id)
            if found is None:
                gone.add(diff_id)
                continue
            blobs[diff_id] = found
        kept.append((key, record))
    sizes = {record.diff_id: record.size for _, record in kept}
    layers = tuple(layer_descriptor(blob, diff_id, sizes[diff_id]) for diff_id, (blob, _) in blobs.items())
    config = store.put_bytes(config_bytes(kept), CONFIG_TYPE)
    manifest = store.put_bytes(manifest_for(config, layers).to_bytes(), MediaType.OCI_MANIFEST)
    reused = sum(1 for _, earlier in blobs.values() if earlier)
    return CacheBundle(store, manifest, config, layers, len(kept), len(blobs) - reused, reused)
