"""``--cache-from``: bring an exported cache's records and layers into the local store.

The cache is untrusted. Each compressed blob is hashed while it is read and must match
its digest; the decompressed bytes must match the diff_id (and size) the record claims,
or nothing is stored: ``BlobWriter.commit`` checks the diff_id and the compressed digest
is checked just before it. A rejected layer is a warning and its steps simply run again.
Local records win over imported ones: a local snapshot may already hold the local result.

Layers are fetched up front, a few at once, and only those the local store lacks.
A cache that cannot be read at all (no such directory or tag, a malformed manifest, the
registry down) is a warning too: the build goes on without it.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path

from builder.cache.stepnames import step_snapshot
from builder.cachetransfer.document import CachedLayer, CacheDocument
from builder.cachetransfer.exporting import RegistryFactory, default_registry
from builder.cachetransfer.ocidir import read_cache
from builder.cachetransfer.specs import LOCAL, CacheSpec, TransferReport
from builder.events import BuildWarning
from builder.layers import UNCOMPRESSED_LAYER
from builder.services import Services
from registry_client import ContentStore, Descriptor, Digest, DigestMismatch, NotFound, open_uncompressed

_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer (CRC32, size) around deflate
# A layer -> the content store holding its compressed blob while it is decompressed.
BlobSource = Callable[[CachedLayer], AbstractContextManager[ContentStore]]


def import_cache(services: Services, specs: Sequence[CacheSpec],
                 registry: RegistryFactory | None = None) -> list[TransferReport]:
    reports = []
    for spec in specs:
        with services.images.lease():  # no collection between a layer's arrival and its record
            report = _read_and_import(services, spec, registry or default_registry(services))
        if report.error:
            services.emit(BuildWarning(report.summary))
        reports.append(report)
    return reports


def _read_and_import(services: Services, spec: CacheSpec, registry: RegistryFactory) -> TransferReport:
    try:
        document, source, workers = _open(services, spec, registry)
    except (FileNotFoundError, NotFound):
        return TransferReport(spec, False, error=f"no cache at {spec.location}")  # a first CI run
    except Exception as exc:  # untrusted input: any failure to read skips this cache, not the build
        return TransferReport(spec, False, error=f"cache at {spec.location} is unusable: {exc}")
    return _import(services, spec, document, source, workers)


def _open(services: Services, spec: CacheSpec, registry: RegistryFactory) -> tuple[CacheDocument, BlobSource, int]:
    """The cache's document, where its blobs come from, and how many to fetch at once."""
    if spec.kind == LOCAL:
        assert spec.path is not None
        return read_cache(spec.path), _directory_blobs(spec.path), 2
    from builder.cachetransfer.registry import fetched_layer, read_remote_cache

    client = registry()
    remote = read_remote_cache(client, spec.ref, services.store)
    return (remote.document, lambda layer: fetched_layer(client, remote, layer, services.store),
            client.options.max_concurrent_downloads)


def _directory_blobs(directory: Path) -> BlobSource:
    store = ContentStore(directory)

    @contextlib.contextmanager
    def source(layer: CachedLayer) -> Iterator[ContentStore]:
        yield store

    return source


def _import(services: Services, spec: CacheSpec, document: CacheDocument, source: BlobSource,
            workers: int) -> TransferReport:
    started = time.monotonic()
    fresh = [(key, record) for key, record in document.records if services.cache.get(key) is None]
    wanted = {record.diff_id for _, record in fresh
              if record.diff_id is not None and not services.store.exists(Digest.parse(record.diff_id))}
    layers = list({str(layer.diff_id): layer for layer in reversed(document.layers)
                   if str(layer.diff_id) in wanted}.values())  # one fetch per diff_id
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(layers) or 1))) as pool:
        errors = list(pool.map(lambda layer: _fetch(source, layer, services.store), layers))
    for layer, error in zip(layers, errors):
        if error:
            services.emit(BuildWarning(f"cache layer {layer.blob.digest} rejected: {error}"))
    records = 0
    for key, record in fresh:
        if record.diff_id is not None and not services.store.exists(Digest.parse(record.diff_id)):
            continue  # rejected, or a record without its layer (e.g. a truncated cache): the step runs
        snapshot = step_snapshot(key) if record.diff_id is not None else ""
        services.cache.put(key, replace(record, snapshot=snapshot), used=False)  # re-exported only if hit
        records += 1
    rejected = sum(1 for error in errors if error)
    return TransferReport(spec, False, records, len(layers) - rejected, 0, rejected, time.monotonic() - started)


def _fetch(source: BlobSource, layer: CachedLayer, local: ContentStore) -> str:
    """Fetch and verify one layer; the reason it was rejected, or "" when it is in ``local``."""
    try:
        with source(layer) as store:
            fetch_layer(store, layer, local)
    except Exception as exc:  # decompressors raise all sorts of errors on hostile input
        return str(exc) or type(exc).__name__
    return ""


def fetch_layer(source: ContentStore, layer: CachedLayer, local: ContentStore) -> None:
    """Decompress ``layer`` into ``local`` as an uncompressed blob, verifying both digests."""
    expected = Descriptor(UNCOMPRESSED_LAYER, layer.diff_id, layer.size)
    with source.open(layer.blob.digest) as raw, local.writer(expected) as writer:
        hashed = _HashingReader(raw, layer.blob.digest.algorithm, layer.blob.size)
        buffered = io.BufferedReader(hashed, _CHUNK)
        for chunk in _plain_chunks(buffered, layer.blob.media_type):
            writer.write(chunk)  # raises as soon as it exceeds the claimed size: no decompression bombs
        while buffered.read(_CHUNK):
            pass  # bytes after the compressed stream still count in the blob's digest
        actual = Digest(layer.blob.digest.algorithm, hashed.hexdigest())
        if actual != layer.blob.digest or hashed.count != layer.blob.size:
            raise DigestMismatch(f"blob has digest {actual} ({hashed.count} bytes), expected "
                                 f"{layer.blob.digest} ({layer.blob.size} bytes)", digest=str(layer.blob.digest))
        writer.commit(UNCOMPRESSED_LAYER)  # checks the diff_id and the uncompressed size


def _plain_chunks(reader: io.BufferedReader, media_type: str) -> Iterator[bytes]:
    """The layer's tar bytes, at most ``_CHUNK`` at a time.

    gzip goes straight through zlib in large chunks (about 4x faster than ``gzip.GzipFile``'s
    small reads), member after member as pigz writes them; zero padding between or after
    members is skipped as ``gzip`` does. Other codecs go through ``open_uncompressed``.
    """
    if not reader.peek(2).startswith(_GZIP_MAGIC):  # the bytes decide, as in open_uncompressed
        stream = open_uncompressed(reader, media_type)  # type: ignore[arg-type]
        while chunk := stream.read(_CHUNK):
            yield chunk
        return
    inflater = zlib.decompressobj(_GZIP_WBITS)
    pending, inside = b"", False  # inside: a member has begun and not yet ended
    while True:
        if not pending:
            pending = reader.read(_CHUNK)
            if not pending:
                break
        if not inside:
            pending = pending.lstrip(b"\0")
            if not pending:
                continue
        inside = True
        if out := inflater.decompress(pending, _CHUNK):  # bounded output: no bomb fills the memory
            yield out
        if inflater.eof:
            pending, inside = inflater.unused_data, False
            inflater = zlib.decompressobj(_GZIP_WBITS)
        else:
            pending = inflater.unconsumed_tail
    if inside:
        raise EOFError("the gzip stream ends in the middle of a member")


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
