"""A cache as an OCI image layout directory: reading it (untrusted) and publishing it (atomically).

Blobs go through a ``ContentStore`` on the directory, so each appears only once complete
and verified. ``index.json`` is replaced by temp+rename while holding a *blocking* lock on
``DIR/.pybuild-cache.lock``, so two exporters to one directory take turns and a reader
sees the old cache or the new one, never a mix.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from builder.cachetransfer.document import (
    CACHE_REF_NAME,
    MAX_DOCUMENT_BYTES,
    CacheDocument,
    CacheFormatError,
    parse_index_entry,
    parse_layers,
    parse_records,
)
from builder.imagestore.layout import write_file_atomically
from registry_client import ContentStore, Descriptor, Digest, DigestMismatch, Manifest, MediaType, parse_manifest

LOCK_NAME = ".pybuild-cache.lock"
OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'


def read_cache(directory: Path) -> CacheDocument:
    """The cache in ``directory``; its manifest and config are verified against their digests."""
    store = ContentStore(directory)
    entry = parse_index_entry(_read_capped(directory / "index.json"))
    manifest = parse_manifest(_read_blob(store, entry))
    if not isinstance(manifest, Manifest):
        raise CacheFormatError("the cache entry of index.json is not an image manifest")
    layers = parse_layers(manifest)
    records = parse_records(_read_blob(store, manifest.config))
    return CacheDocument(layers, records)


def _read_blob(store: ContentStore, descriptor: Descriptor) -> bytes:
    if descriptor.size > MAX_DOCUMENT_BYTES:
        raise CacheFormatError(f"cache document {descriptor.digest} is too large ({descriptor.size} bytes)")
    data = _read_capped(store.path(descriptor.digest))
    if Digest.of(data, descriptor.digest.algorithm) != descriptor.digest:
        raise DigestMismatch("cache document does not match its digest", digest=str(descriptor.digest))
    return data


def _read_capped(path: Path) -> bytes:
    with open(path, "rb") as handle:
        data = handle.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise CacheFormatError(f"{path} is too large")
    return data


def publish(directory: Path, manifest: Descriptor) -> None:
    """Point ``index.json`` at ``manifest`` (its blobs are already in place)."""
    write_file_atomically(directory / "oci-layout", OCI_LAYOUT)
    entry = Descriptor(manifest.media_type, manifest.digest, manifest.size,
                       annotations={"org.opencontainers.image.ref.name": CACHE_REF_NAME})
    index = {"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": [entry.to_json()]}
    write_file_atomically(directory / "index.json", json.dumps(index, indent=2).encode())


def remove_unreferenced(directory: Path, keep: set[Digest]) -> int:
    """Delete blobs the new cache no longer names (the caller holds the lock); return how many."""
    removed = 0
    blobs = directory / "blobs" / "sha256"
    for path in blobs.iterdir() if blobs.is_dir() else ():
        if path.name.startswith(".") or Digest("sha256", path.name) in keep:
            continue
        path.unlink(missing_ok=True)
        removed += 1
    with contextlib.suppress(OSError):
        (directory / "ingest").rmdir()  # the content store's temp dir: empty once writes are done
    return removed


@contextlib.contextmanager
def locked_directory(directory: Path, deadline: float) -> Iterator[None]:
    """Hold the directory's exclusive lock; give up with TimeoutError at ``deadline`` (monotonic)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"{directory} is locked by another cache export") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing releases the lock
