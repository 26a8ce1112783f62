"""The local build cache: keys, records, locks, the after-build GC and ``pybuild cache``.

A layer step's cache key (``keys``) chains its parent's key with the step's material; the index
(``index``) maps a key to the layer and snapshot it produced, one JSON file per key. Modules:

- ``keys``: ``CacheKey`` and ``key_for(parent, material)``;
- ``index``: ``CacheIndex`` of ``CacheRecord`` files under ``<root>/cache/keys/``;
- ``locks``: per-key locks, so two builds sharing a root run an identical step once;
- ``stepnames``: the names of step snapshots (``step-<key>``, a re-run's ``step-<key>-r<n>``);
- ``leftovers``: what killed builds leave behind, swept at every start;
- ``settings``: the ``gc`` and ``cache`` keys of ``config.json``;
- ``usage``: the running size estimate that keeps the after-build GC check cheap;
- ``gc``: the automatic GC after each successful build;
- ``prune``, ``check`` and ``sweep``: ``pybuild cache prune`` / ``cache check`` and what they share;
- ``explain`` and ``missreasons``: why a step missed the cache (``--progress`` shows the reason).

Sending the cache elsewhere (``--cache-to`` / ``--cache-from``) is ``builder.cachetransfer``'s job.
Exports load on first use (``builder.lazy``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from builder.lazy import lazy_exports

if TYPE_CHECKING:
    from builder.cache.check import check_cache
    from builder.cache.explain import open_explainer
    from builder.cache.gc import collect_if_needed
    from builder.cache.index import CacheIndex, CacheRecord
    from builder.cache.keys import CacheKey, key_for
    from builder.cache.leftovers import sweep_leftovers
    from builder.cache.prune import prune_cache
    from builder.cache.settings import CacheSettings, load_cache_settings

_EXPORTS: dict[str, str] = {
    "check_cache": "builder.cache.check",
    "open_explainer": "builder.cache.explain",
    "collect_if_needed": "builder.cache.gc",
    "CacheIndex": "builder.cache.index",
    "CacheRecord": "builder.cache.index",
    "CacheKey": "builder.cache.keys",
    "key_for": "builder.cache.keys",
    "sweep_leftovers": "builder.cache.leftovers",
    "prune_cache": "builder.cache.prune",
    "CacheSettings": "builder.cache.settings",
    "load_cache_settings": "builder.cache.settings",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
