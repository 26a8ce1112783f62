"""``--cache-from``: bring an exported cache's records and layers into the local store.

The cache is untrusted. Each compressed blob is hashed while it is read and must match
its digest; the decompressed bytes must match the diff_id (and size) the record claims,
or nothing is stored: ``BlobWriter.commit`` checks the diff_id and the compressed digest
is checked just before it. A rejected layer is a warning and its steps simply run again.
Local records win over imported ones: a local snapshot may already hold the local result.
"""
from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Sequence
from dataclasses import replace

from builder.cachetransfer.document import CachedLayer, CacheDocument
from builder.cachetransfer.ocidir import read_cache
from builder.cachetransfer.specs import CacheSpec, TransferReport
from builder.events import BuildWarning
from builder.layers import UNCOMPRESSED_LAYER
from builder.services import Services
from builder.stagestate import step_snapshot
from registry_client import ContentStore, Descriptor, Digest, DigestMismatch, open_uncompressed

_CHUNK = 1 << 20


def import_cache(services: Services, specs: Sequence[CacheSpec]) -> list[TransferReport]:
    reports = []
    for spec in specs:
        try:
            document = read_cache(spec.path)
        except FileNotFoundError:
            report = TransferReport(spec, False, error=f"no cache in {spec.path}")  # a first CI run: nothing yet
        except Exception as exc:  # untrusted input: any parse failure skips this cache, not the build
            report = TransferReport(spec, False, error=f"cache in {spec.path} is unusable: {exc}")
        else:
            report = _import(services, spec, document)
        if report.error:
            services.emit(BuildWarning(report.summary))
        reports.append(report)
    return reports


def _import(services: Services, spec: CacheSpec, document: CacheDocument) -> TransferReport:
    started = time.monotonic()
    source = ContentStore(spec.path)
    verdicts: dict[str, bool] = {}  # diff_id -> layer present locally (fetched and verified)
    records = 0
    for key, record in document.records:
        if services.cache.get(key) is not None:
            continue
        if record.diff_id is not None and not _have_layer(services, source, document, record.diff_id, verdicts):
            continue
        snapshot = step_snapshot(key) if record.diff_id is not None else ""
        services.cache.put(key, replace(record, snapshot=snapshot), used=False)  # re-exported only if hit
        records += 1
    layers = sum(1 for fetched in verdicts.values() if fetched)
    rejected = sum(1 for ok in verdicts.values() if not ok)
    return TransferReport(spec, False, records, layers, 0, rejected, time.monotonic() - started)


def _have_layer(services: Services, source: ContentStore, document: CacheDocument, diff_id: str,
                verdicts: dict[str, bool]) -> bool:
    if diff_id in verdicts:
        return verdicts[diff_id]
    if services.store.exists(Digest.parse(diff_id)):
        return True  # the local store verified it when it was written
    layer = document.layer_for(diff_id)
    if layer is None:
        return False  # a record without its layer (e.g. a truncated cache): the step runs
    try:
        fetch_layer(source, layer, services.store)
        verdicts[diff_id] = True
    except Exception as exc:  # decompressors raise all sorts of errors on hostile input
        services.emit(BuildWarning(f"cache layer {layer.blob.digest} rejected: {exc}"))
        verdicts[diff_id] = False
    return verdicts[diff_id]


def fetch_layer(source: ContentStore, layer: CachedLayer, local: ContentStore) -> None:
    """Decompress ``layer`` into ``local`` as an uncompressed blob, verifying both digests."""
    expected = Descriptor(UNCOMPRESSED_LAYER, layer.diff_id, layer.size)
    with source.open(layer.blob.digest) as raw, local.writer(expected) as writer:
        hashed = _HashingReader(raw, layer.blob.digest.algorithm, layer.blob.size)
        buffered = io.BufferedReader(hashed, _CHUNK)
        stream = open_uncompressed(buffered, layer.blob.media_type)  # type: ignore[arg-type]
        while chunk := stream.read(_CHUNK):
            writer.write(chunk)  # raises as soon as it exceeds the claimed size: no decompression bombs
        while buffered.read(_CHUNK):
            pass  # bytes after the compressed stream still count in the blob's digest
        actual = Digest(layer.blob.digest.algorithm, hashed.hexdigest())
        if actual != layer.blob.digest or hashed.count != layer.blob.size:
            raise DigestMismatch(f"blob has digest {actual} ({hashed.count} bytes), expected "
                                 f"{layer.blob.digest} ({layer.blob.size} bytes)", digest=str(layer.blob.digest))
        writer.commit(UNCOMPRESSED_LAYER)  # checks the diff_id and the uncompressed size


class _HashingReader(io.RawIOBase):
    """Hashes what passes through; refuses to read past the size the manifest announced."""

    def __init__(self, raw: io.BufferedIOBase | object, algorithm: str, limit: int) -> None:
        self._raw = raw
        self._hash = hashlib.new(algorithm)
        self._limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self._limit + 1 - self.count)  # one byte more reveals an oversized blob
        data = self._raw.read(max(wanted, 0))  # type: ignore[attr-defined]
        buffer[:len(data)] = data
        self._hash.update(data)
        self.count += len(data)
        return len(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

