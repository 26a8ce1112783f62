"""The automatic cache GC that runs after each successful build (BuildKit's gc policy, simplified).

The check is cheap when there is nothing to do: it reads ``cache/usage.json``
(``builder.cache.usage``) and compares it with the policy. Only when the estimate is over
``keep-storage``, unknown, or the last walk is older than a day (``keep-duration`` needs
one now and then) does it walk the records, and then only if it gets the store's gc lock
at once: other builds hold it shared while they run, and GC never waits for them or makes
them wait; the next build that finds the store idle collects instead.

Order: entries unused for ``keep-duration`` go first, then the least recently used until the
layers fit in ``keep-storage`` (``builder.cache.prune``).
"""
from __future__ import annotations

import time

from builder.cache.prune import PrunePolicy, PruneResult, prune_locked, storage_of
from builder.cache.settings import GcPolicy
from builder.imagestore.locks import try_locked
from builder.services import Services
from grammar import record

WALK_INTERVAL_SECONDS = 86400.0  # how stale the exact figure may get before keep-duration needs a walk


@record
class Collection:
    before: int  # bytes of layers the records named when GC looked
    after: int
    pruned: PruneResult | None  # None: nothing had to go


def collect_if_needed(services: Services, policy: GcPolicy, now: float | None = None) -> Collection | None:
    """Apply ``policy`` if the estimate says so and the store is idle; None when nothing was looked at."""
    now = time.time() if now is None else now
    if not policy.enabled or not _due(services, policy, now):
        return None
    with try_locked(services.root / "gc.lock") as idle:
        if not idle:
            return None
        before = storage_of(list(services.cache.entries()))
        results = []
        if policy.keep_duration is not None:
            results.append(prune_locked(services, PrunePolicy(unused_for=policy.keep_duration), now))
        results.append(prune_locked(services, PrunePolicy(keep_storage=policy.keep_storage), now))
        after = storage_of(list(services.cache.entries()))
        services.cache.usage.reset(after, now)
    pruned = [result for result in results
              if result.records or result.snapshots or result.blobs or result.downloads or result.selection_memos]
    return Collection(before, after, _combined(pruned) if pruned else None)


def _due(services: Services, policy: GcPolicy, now: float) -> bool:
    usage = services.cache.usage.read()
    if usage is None or usage.bytes > policy.keep_storage:
        return True
    return policy.keep_duration is not None and now - usage.walked > min(policy.keep_duration, WALK_INTERVAL_SECONDS)


def _combined(results: list[PruneResult]) -> PruneResult:
    return PruneResult(sum(r.records for r in results), sum(r.snapshots for r in results),
                       sum(r.blobs for r in results), sum(r.reclaimed for r in results),
                       sum(r.downloads for r in results), sum(r.selection_memos for r in results))
