"""``--cache-to``: send the steps this build hit or ran to a cache directory or registry.

Never fails the build: every problem becomes a ``BuildWarning``. Transient errors are
retried with backoff, and all attempts together are bounded by the spec's timeout.
Both transports build the same ``CacheBundle``; a layer the destination's previous cache
already holds (the CI cache restored before the build, or the ref's last push) is reused
as is, so a re-export compresses and uploads only new layers.
``type=inline`` has nothing to do here: ``builder.image.export`` wrote the records into the image.
"""
from __future__ import annotations

import errno
import time
from collections.abc import Callable, Sequence

from builder.cache.index import CacheRecord
from builder.cachetransfer.bundle import make_bundle
from builder.cachetransfer.document import CacheFormatError
from builder.cachetransfer.ocidir import locked_directory, publish, read_cache, remove_unreferenced
from builder.cachetransfer.selection import select_records
from builder.cachetransfer.specs import INLINE, LOCAL, CacheSpec, TransferReport
from builder.events import BuildWarning
from builder.image.compression import GZIP, OCI_LAYER_TYPES, compressor
from builder.layers import UNCOMPRESSED_LAYER
from builder.services import Services
from registry_client import (
    AuthError, ContentStore, Descriptor, Digest, RegistryClient, RegistryError, parse_reference,
)

RETRY_DELAYS = (0.5, 2.0)  # two retries after the first attempt
_PERMANENT = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST}
_CHUNK = 1 << 20

RegistryFactory = Callable[[], RegistryClient]


def export_cache(services: Services, specs: Sequence[CacheSpec], final_diff_ids: Sequence[object] | None,
                 registry: RegistryFactory | None = None) -> list[TransferReport]:
    """Export to each of ``specs``; ``final_diff_ids`` is None when the build failed (all steps go)."""
    reports = []
    for spec in specs:
        if spec.kind == INLINE:
            continue
        records = select_records(services.cache.used, spec.mode, final_diff_ids)
        report = _export_with_retries(services, spec, records, registry or default_registry(services))
        if report.error:
            services.emit(BuildWarning(report.summary))
        reports.append(report)
    return reports


def default_registry(services: Services) -> RegistryFactory:
    def factory() -> RegistryClient:
        from builder.registry_settings import load_settings

        return load_settings(services.root).client()  # auth and insecure hosts as for push and pull

    return factory


def _export_with_retries(services: Services, spec: CacheSpec, records: list[tuple[str, CacheRecord]],
                         registry: RegistryFactory) -> TransferReport:
    started = time.monotonic()
    deadline = started + spec.timeout
    error = ""
    for delay in (*RETRY_DELAYS, None):
        try:
            if spec.kind == LOCAL:
                return _export_local(services, spec, records, deadline, started)
            return _export_registry(services, spec, records, deadline, started, registry())
        except (OSError, RegistryError, ValueError, CacheFormatError) as exc:
            error = str(exc) or type(exc).__name__
            permanent = isinstance(exc, AuthError) or (isinstance(exc, OSError) and exc.errno in _PERMANENT)
            if delay is None or permanent or time.monotonic() + delay >= deadline:
                break
            time.sleep(delay)
    return TransferReport(spec, True, seconds=time.monotonic() - started, error=error)


def _export_local(services: Services, spec: CacheSpec, records: list[tuple[str, CacheRecord]],
                  deadline: float, started: float) -> TransferReport:
    assert spec.path is not None
    target = ContentStore(spec.path)
    with locked_directory(spec.path, deadline):
        previous = _previous_local_layers(spec)

        def layer_blobs(diff_id: str) -> tuple[Descriptor, bool] | None:
            known = previous.get(diff_id)
            if known is not None and target.has(known):
                return known, True
            if services.store.exists(Digest.parse(diff_id)):
                return _compress_into(services.store, target, diff_id), False
            return None  # pruned meanwhile: a record cannot travel without its layer

        bundle = make_bundle(target, records, layer_blobs, deadline, spec.timeout)
        publish(spec.path, bundle.manifest)
        remove_unreferenced(spec.path, bundle.digests)
    return TransferReport(spec, True, bundle.records, bundle.compressed, bundle.reused, 0,
                          time.monotonic() - started)


def _export_registry(services: Services, spec: CacheSpec, records: list[tuple[str, CacheRecord]],
                     deadline: float, started: float, client: RegistryClient) -> TransferReport:
    from builder.cachetransfer.registry import previous_layers, push_bundle
    from builder.image.compression import Compression, LayerCompressor

    remote = parse_reference(spec.ref)
    compress = LayerCompressor(services.root, services.store)
    with services.images.lease():  # the compressed blobs must outlive a concurrent prune until pushed
        previous = previous_layers(client, spec.ref, services.store)

        def layer_blobs(diff_id: str) -> tuple[Descriptor, bool] | None:
            known = previous.get(diff_id)
            if known is not None and client.blob_exists(remote, known.blob.digest):
                return known.blob, True
            digest = Digest.parse(diff_id)
            if not services.store.exists(digest):
                return None
            plain = Descriptor(UNCOMPRESSED_LAYER, digest, services.store.path(digest).stat().st_size)
            return compress.convert(plain, digest, Compression()), False  # made once per layer, also for push

        bundle = make_bundle(services.store, records, layer_blobs, deadline, spec.timeout)
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up after {spec.timeout:.0f}s")
        _, uploaded = push_bundle(client, spec.ref, bundle)
    return TransferReport(spec, True, bundle.records, uploaded, len(bundle.layers) - uploaded, 0,
                          time.monotonic() - started)


def _previous_local_layers(spec: CacheSpec) -> dict[str, Descriptor]:
    """diff_id -> compressed blob of the cache already in the directory (none if unreadable)."""
    assert spec.path is not None
    try:
        document = read_cache(spec.path)
    except Exception:  # a missing or broken previous cache only means compressing everything
        return {}
    return {str(layer.diff_id): layer.blob for layer in document.layers}


def _compress_into(local: ContentStore, target: ContentStore, diff_id: str) -> Descriptor:
    engine = compressor(GZIP)
    with local.open(Digest.parse(diff_id)) as layer, target.writer() as writer:
        while chunk := layer.read(_CHUNK):
            writer.write(engine.compress(chunk))
        writer.write(engine.flush())
        return writer.commit(OCI_LAYER_TYPES[GZIP])
