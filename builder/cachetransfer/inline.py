"""``--cache-to type=inline``: the cache records of an image's own steps inside its config.

The config gets one more top-level key, ``INLINE_KEY``, holding what a cache config holds
(``document.records_json``). Only the final image's steps go in (mode=min): an image carries
no other layers. Records are sorted by key and their ``created`` times are the original
ones, so a rebuild answered from this cache writes the same config, hence the same image ID.

Importing (``--cache-from IMAGE``): the image's own layers are the cache's blobs, paired with
its config's ``diff_ids``; every blob is verified as for any other cache.
BuildKit's key is ``moby.buildkit.cache.v0``; ours differs because the contents do.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from builder.cache.index import CacheRecord
from builder.cachetransfer.document import (
    CachedLayer,
    CacheDocument,
    CacheFormatError,
    parse_records_json,
    records_json,
)
from builder.cachetransfer.selection import select_records
from registry_client import Digest, ImageConfig, Manifest, RegistryError

INLINE_KEY = "pybuild.cache.v1"


def with_inline_cache(config: ImageConfig, used: Mapping[str, CacheRecord] | None) -> ImageConfig:
    """``config`` holding the records of its own steps; without them when ``used`` is None.

    Either way an inline cache inherited from the base image is dropped: it describes the
    base's build, not this one.
    """
    extra = {name: value for name, value in config.extra.items() if name != INLINE_KEY}
    if used is not None:
        extra[INLINE_KEY] = records_json(select_records(used, "min", config.diff_ids))
    if used is None and len(extra) == len(config.extra):
        return config
    return replace(config, extra=MappingProxyType(extra))


def inline_document(manifest: Manifest, config_data: bytes) -> CacheDocument:
    """The cache an image built with ``--cache-to type=inline`` carries (its config is verified)."""
    try:
        body = json.loads(config_data)
    except ValueError as exc:
        raise CacheFormatError(f"image config is not JSON: {exc}") from None
    if not isinstance(body, Mapping) or INLINE_KEY not in body:
        raise CacheFormatError("the image has no inline cache (build it with --cache-to type=inline)")
    records = parse_records_json(body[INLINE_KEY])
    rootfs = body.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, Mapping) else None
    if not isinstance(diff_ids, list) or len(diff_ids) != len(manifest.layers):
        raise CacheFormatError("the image config's diff_ids do not match its layers")
    sizes = {record.diff_id: record.size for _, record in records if record.diff_id is not None}
    try:
        layers = tuple(CachedLayer(blob, Digest.parse(diff_id), sizes[diff_id])
                       for blob, diff_id in zip(manifest.layers, diff_ids) if diff_id in sizes)
    except (RegistryError, TypeError) as exc:
        raise CacheFormatError(f"the image config names an invalid diff_id: {exc}") from None
    return CacheDocument(layers, records)
