"""Pruning ``cache/selections``: the content digests of what ``COPY --from`` steps read.

A memo (``builder.copy.source_digest.SelectionDigests``) names the files of a layer chain,
so it never goes stale; it is worth keeping while that chain can come back without being
rebuilt, that is while a cache record (its ``chain``) or a stored image (its config's
diff_ids) holds it. Prune drops the memos of every other chain: a chain built again is
hashed again, once. This reads the record list prune walks anyway and one config per
image, and removes whole chain directories without opening a memo.
"""
from __future__ import annotations

from collections.abc import Iterable

from builder.cache.index import CacheEntry
from builder.copy.source_digest import SelectionDigests
from builder.imagestore import StoreCorrupt
from builder.imagestore.reading import ManifestReader
from builder.layers import diff_id_chain
from builder.services import Services
from registry_client import ImageConfig, Index, RegistryError


def prune_selection_memos(services: Services, remaining: Iterable[CacheEntry]) -> int:
    """Remove the memos of chains neither ``remaining`` records nor stored images hold; how many went.

    The caller holds the store's exclusive lock (``builder.cache.prune``).
    """
    chains = {entry.record.chain for entry in remaining} | stored_image_chains(services)
    return SelectionDigests(services.root / "cache" / "selections").remove_chains_except(chains)


def stored_image_chains(services: Services) -> set[tuple[str, ...]]:
    """The diff_id chain of every image in the store (each platform an index holds)."""
    content = services.store
    reader = ManifestReader(content)
    chains: set[tuple[str, ...]] = set()
    pending = list(services.images.entries())
    while pending:
        descriptor = pending.pop()
        if not content.exists(descriptor.digest):
            continue  # another platform's image of an index: never pulled
        try:
            _, document = reader.document(descriptor)
            if isinstance(document, Index):
                pending += document.manifests
                continue
            config = ImageConfig.from_bytes(content.read_bytes(document.config.digest))
        except (StoreCorrupt, RegistryError):
            continue  # not an image (an attestation) or unreadable: it holds no chain to keep
        chains.add(diff_id_chain(config))
    return chains
