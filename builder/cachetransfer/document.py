"""The cache manifest: which layer blobs a cache holds and which cache keys they answer.

A cache is an OCI artifact, so any OCI layout or registry can hold it::

    index.json -> manifest (config: CONFIG_TYPE, layers: the compressed layer blobs, each
                            annotated with its diff_id and uncompressed size)
    config     -> {"schema": 1, "records": [{key, parent, diff_id, chain, size, created[, content_key]}]}

A record with ``diff_id: null`` is a step that changed nothing; it needs no blob. One with a
``content_key`` is a step's fast key, naming the record that holds its result.
Everything read from here is untrusted: ``parse_*`` validate every field they return.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from builder.cache.index import CacheRecord, record_from_json
from builder.cache.keys import CacheKey
from builder.errors import BuildError
from grammar import record
from registry_client import Descriptor, Digest, Manifest, MediaType, ProtocolError, RegistryError

SCHEMA = 1
CONFIG_TYPE = "application/vnd.pybuild.cache.config.v1+json"
CACHE_REF_NAME = "pybuild-cache"  # the index.json entry's ref name
DIFF_ID = "io.pybuild.layer.diff-id"
UNCOMPRESSED_SIZE = "io.pybuild.layer.uncompressed-size"
MAX_DOCUMENT_BYTES = 64 << 20  # a manifest or config bigger than this is not ours


class CacheFormatError(BuildError):
    """The cache's manifest or config is malformed: the whole import is skipped."""


@record
class CachedLayer:
    blob: Descriptor  # the compressed blob in the cache
    diff_id: Digest
    size: int  # uncompressed


@record
class CacheDocument:
    layers: tuple[CachedLayer, ...]
    records: tuple[tuple[CacheKey, CacheRecord], ...]

    def layer_for(self, diff_id: str) -> CachedLayer | None:
        return next((layer for layer in self.layers if str(layer.diff_id) == diff_id), None)


def records_json(records: Iterable[tuple[str, CacheRecord]]) -> dict[str, Any]:
    """The records as the cache config holds them (and an inline cache, inside an image config)."""
    rows = [{"key": key, "parent": record.parent, "diff_id": record.diff_id, "chain": list(record.chain),
             "size": record.size, "created": record.created,
             **({"content_key": record.content_key} if record.content_key else {})} for key, record in records]
    return {"schema": SCHEMA, "records": rows}


def config_bytes(records: Iterable[tuple[str, CacheRecord]]) -> bytes:
    return json.dumps(records_json(records), sort_keys=True, separators=(",", ":")).encode()


def layer_descriptor(blob: Descriptor, diff_id: str, size: int) -> Descriptor:
    return Descriptor(blob.media_type, blob.digest, blob.size,
                      annotations={DIFF_ID: diff_id, UNCOMPRESSED_SIZE: str(size)})


def manifest_for(config: Descriptor, layers: Iterable[Descriptor]) -> Manifest:
    return Manifest(config, tuple(layers), MediaType.OCI_MANIFEST)


def parse_layers(manifest: Manifest) -> tuple[CachedLayer, ...]:
    if manifest.config.media_type != CONFIG_TYPE:
        raise CacheFormatError(f"not a pybuild cache (config type {manifest.config.media_type!r})")
    layers = []
    for blob in manifest.layers:
        try:
            diff_id = Digest.parse(blob.annotations.get(DIFF_ID, ""))
            size = int(blob.annotations.get(UNCOMPRESSED_SIZE, ""))
        except (RegistryError, ValueError) as exc:
            raise CacheFormatError(f"cache layer {blob.digest} without a valid diff_id and size") from exc
        if size < 0 or blob.size < 0:
            raise CacheFormatError(f"cache layer {blob.digest} with a negative size")
        layers.append(CachedLayer(blob, diff_id, size))
    return tuple(layers)


def parse_records(data: bytes) -> tuple[tuple[CacheKey, CacheRecord], ...]:
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise CacheFormatError(f"cache config is not JSON: {exc}") from None
    return parse_records_json(body)


def parse_records_json(body: object) -> tuple[tuple[CacheKey, CacheRecord], ...]:
    """``records_json``'s form back, every field validated (it comes from outside)."""
    if not isinstance(body, Mapping) or body.get("schema") != SCHEMA or not isinstance(body.get("records"), list):
        raise CacheFormatError("cache config of an unknown schema")
    return tuple(_record(row) for row in body["records"])


def _record(row: Any) -> tuple[CacheKey, CacheRecord]:
    if not isinstance(row, Mapping):
        raise CacheFormatError("a cache record is not an object")
    key = row.get("key")
    try:
        fields = {name: row.get(name) for name in ("diff_id", "parent", "size", "created", "content_key")}
        record = record_from_json({"snapshot": "", **fields, "chain": row.get("chain") or []})
        if not isinstance(key, str) or len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"invalid key {key!r}")
        if record.diff_id is not None:
            Digest.parse(record.diff_id)
        for item in record.chain:
            Digest.parse(item)
    except (TypeError, ValueError, RegistryError) as exc:
        raise CacheFormatError(f"malformed cache record: {exc}") from None
    return CacheKey(key), record


def parse_index_entry(data: bytes) -> Descriptor:
    """The cache manifest's descriptor in an OCI layout's ``index.json``."""
    try:
        body = json.loads(data)
        entries = [Descriptor.from_json(entry) for entry in body.get("manifests") or ()]
    except (ValueError, AttributeError, ProtocolError) as exc:
        raise CacheFormatError(f"index.json is malformed: {exc}") from None
    for entry in entries:
        if entry.media_type == MediaType.OCI_MANIFEST and entry.size <= MAX_DOCUMENT_BYTES:
            return entry
    raise CacheFormatError("index.json names no cache manifest")
