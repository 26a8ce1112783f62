"""``pybuild cache prune``: drop the least recently used cache entries, then what only they needed."""
from __future__ import annotations

import time

from builder.cache.downloads import DownloadsPruned, prune_downloads
from builder.cache.index import CacheEntry
from builder.cache.selections import prune_selection_memos
from builder.cache.sweep import delete_unneeded_blobs, exclusive, remove_snapshots, unrecorded_snapshots
from builder.services import Services
from grammar import record
from registry_client import Digest, RegistryError


@record
class PrunePolicy:
    keep_storage: int | None = None  # stop once the cache's layers take at most this many bytes
    unused_for: float | None = None  # only entries not used for this many seconds (``until=24h``)


@record
class PruneResult:
    records: int
    snapshots: int
    blobs: int
    reclaimed: int  # bytes of deleted blobs and downloads
    downloads: int = 0  # ADD-from-URL downloads removed
    selection_memos: int = 0  # COPY --from content digests of layer chains nothing holds any more


def storage_of(entries: list[CacheEntry]) -> int:
    """Bytes the entries' layers take (a layer shared by several entries counts once)."""
    return sum({e.record.diff_id: e.record.size for e in entries if e.record.diff_id}.values())


def prune_cache(services: Services, policy: PrunePolicy, now: float | None = None) -> PruneResult:
    """Remove entries, least recently used first, that match ``policy`` until the cache fits.

    With neither limit every entry goes. Cache keys chain on keys, not on snapshots, so a
    kept entry whose parent is pruned still hits: its layer goes on the re-run parent.
    """
    with exclusive(services):
        return prune_locked(services, policy, time.time() if now is None else now)


def prune_locked(services: Services, policy: PrunePolicy, now: float) -> PruneResult:
    """``prune_cache`` for a caller that holds the exclusive lock already (``builder.cache.gc``)."""
    entries = sorted(services.cache.entries(), key=lambda entry: entry.last_used)
    remaining = list(entries)
    removed: list[CacheEntry] = []
    for entry in entries:
        if policy.unused_for is not None and entry.last_used > now - policy.unused_for:
            continue
        if policy.keep_storage is not None and storage_of(remaining) <= policy.keep_storage:
            break
        services.cache.remove(entry.key)
        remaining.remove(entry)
        removed.append(entry)
    snapshots = remove_snapshots(services, unrecorded_snapshots(services))
    candidates = set()
    for entry in removed:
        try:
            candidates.add(Digest.parse(entry.record.diff_id or ""))
        except RegistryError:
            continue
    collected = delete_unneeded_blobs(services, candidates)
    services.cache.usage.reset(storage_of(remaining), now)
    downloads = (prune_downloads(services.root, policy.unused_for, now) if policy.keep_storage is None
                 else DownloadsPruned(0, 0))  # keep-storage counts layers: downloads wait for until=
    memos = prune_selection_memos(services, remaining)
    return PruneResult(len(removed), snapshots, collected.blobs, collected.bytes + downloads.reclaimed,
                       downloads.files, memos)
