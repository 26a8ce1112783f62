"""A cache in a registry: the bundle pushed as an OCI artifact under a reference, and read back.

The artifact is an image manifest whose config has the pybuild cache media type and whose
layers are the gzip layer blobs, so any OCI registry stores it. A push sends blobs first
(skipping those the registry has) and the manifest last: a reader of the tag sees the old
cache or the new one, complete either way. Many runners may push one tag at once; the last
manifest wins and each is whole, since blobs are content-addressed and never overwritten.

Reading accepts that artifact or an image built with ``--cache-to type=inline``.
Manifests are verified by ``registry_client.resolve``, blobs while they stream in.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from builder.cachetransfer.bundle import CacheBundle
from builder.cachetransfer.document import (
    CONFIG_TYPE,
    MAX_DOCUMENT_BYTES,
    CachedLayer,
    CacheDocument,
    CacheFormatError,
    parse_layers,
    parse_records,
)
from builder.cachetransfer.inline import inline_document
from grammar import record
from registry_client import BlobProgress, ContentStore, Digest, Manifest, Reference, RegistryClient, parse_reference


@record
class RemoteCache:
    reference: Reference  # pinned to the manifest that was read
    document: CacheDocument


def read_remote_cache(client: RegistryClient, ref: str, store: ContentStore) -> RemoteCache:
    """The cache at ``ref`` (an artifact or an image with an inline cache); its config lands in ``store``."""
    from registry_client import resolve

    resolved = resolve(client, parse_reference(ref))  # an index: this host's image
    manifest = resolved.manifest.parsed
    if not isinstance(manifest, Manifest):
        raise CacheFormatError(f"{ref} is not an image manifest")
    if manifest.config.size > MAX_DOCUMENT_BYTES:
        raise CacheFormatError(f"the config of {ref} is too large ({manifest.config.size} bytes)")
    client.fetch_blob(resolved.reference, manifest.config, store)
    config = store.read_bytes(manifest.config.digest)
    if manifest.config.media_type == CONFIG_TYPE:
        document = CacheDocument(parse_layers(manifest), parse_records(config))
    else:
        document = inline_document(manifest, config)
    return RemoteCache(resolved.reference, document)


@contextlib.contextmanager
def fetched_layer(client: RegistryClient, remote: RemoteCache, layer: CachedLayer,
                  store: ContentStore) -> Iterator[ContentStore]:
    """``store`` holding the layer's compressed blob for as long as the caller needs it."""
    had = store.exists(layer.blob.digest)
    client.fetch_blob(remote.reference, layer.blob, store)  # hashed while it streams
    try:
        yield store
    finally:
        if not had and layer.blob.digest != layer.diff_id:  # an uncompressed blob *is* the layer
            store.delete(layer.blob.digest)


def previous_layers(client: RegistryClient, ref: str, store: ContentStore) -> dict[str, CachedLayer]:
    """diff_id -> layer of the cache already at ``ref`` (none if there is none or it is unreadable)."""
    try:
        document = read_remote_cache(client, ref, store).document
    except Exception:  # a missing or broken previous cache only means compressing everything
        return {}
    return {str(layer.diff_id): layer for layer in document.layers}


def push_bundle(client: RegistryClient, ref: str, bundle: CacheBundle) -> tuple[Digest, int]:
    """Push ``bundle`` to ``ref``; return the manifest digest and how many layers were uploaded."""
    from registry_client import push

    layers = {layer.digest for layer in bundle.layers}
    uploaded: set[Digest] = set()
    lock = threading.Lock()

    def progress(event: BlobProgress) -> None:
        if event.finished and not event.cached and event.digest in layers:
            with lock:
                uploaded.add(event.digest)

    digest = push(parse_reference(ref), bundle.store, bundle.manifest, client=client, on_progress=progress)
    return digest, len(uploaded)
