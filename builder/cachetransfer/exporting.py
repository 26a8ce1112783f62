"""``--cache-to``: write the steps this build hit or ran into a cache directory.

Never fails the build: every problem becomes a ``BuildWarning``. Transient errors are
retried with backoff, and all attempts together are bounded by the spec's timeout.
Layers go out gzip-compressed; a layer the directory already holds (the CI cache that
was restored before the build) is reused as is, so a re-export compresses only new layers.
"""
from __future__ import annotations

import errno
import time
from collections.abc import Mapping, Sequence

from builder.cache import CacheRecord
from builder.cachetransfer.document import CONFIG_TYPE, config_bytes, layer_descriptor, manifest_for
from builder.cachetransfer.ocidir import locked_directory, publish, read_cache, remove_unreferenced
from builder.cachetransfer.specs import CacheSpec, TransferReport
from builder.compression import GZIP, OCI_LAYER_TYPES, compressor
from builder.events import BuildWarning
from builder.services import Services
from registry_client import ContentStore, Descriptor, Digest, MediaType, RegistryError

RETRY_DELAYS = (0.5, 2.0)  # two retries after the first attempt
_PERMANENT = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST}
_CHUNK = 1 << 20


def export_cache(services: Services, specs: Sequence[CacheSpec],
                 final_diff_ids: Sequence[object] | None) -> list[TransferReport]:
    """Export to each of ``specs``; ``final_diff_ids`` is None when the build failed (all steps go)."""
    reports = []
    for spec in specs:
        records = select_records(services.cache.used, spec.mode, final_diff_ids)
        report = _export_with_retries(services, spec, records)
        if report.error:
            services.emit(BuildWarning(report.summary))
        reports.append(report)
    return reports


def select_records(used: Mapping[str, CacheRecord], mode: str,
                   final_diff_ids: Sequence[object] | None) -> list[tuple[str, CacheRecord]]:
    """mode=max: every step used; mode=min: the steps of the final image (walked back by parent key)."""
    if mode == "max" or final_diff_ids is None:
        return list(used.items())
    final = tuple(str(digest) for digest in final_diff_ids)
    last = next((key for key in reversed(used) if used[key].chain == final), None)
    wanted: set[str] = set()
    while last is not None and last in used and last not in wanted:
        wanted.add(last)
        last = used[last].parent
    return [(key, record) for key, record in used.items() if key in wanted]


def _export_with_retries(services: Services, spec: CacheSpec,
                         records: list[tuple[str, CacheRecord]]) -> TransferReport:
    started = time.monotonic()
    deadline = started + spec.timeout
    error = ""
    for delay in (*RETRY_DELAYS, None):
        try:
            return _export(services, spec, records, deadline, started)
        except (OSError, RegistryError, ValueError) as exc:
            error = str(exc) or type(exc).__name__
            transient = not (isinstance(exc, OSError) and exc.errno in _PERMANENT)
            if delay is None or not transient or time.monotonic() + delay >= deadline:
                break
            time.sleep(delay)
    return TransferReport(spec, True, seconds=time.monotonic() - started, error=error)


def _export(services: Services, spec: CacheSpec, records: list[tuple[str, CacheRecord]],
            deadline: float, started: float) -> TransferReport:
    target = ContentStore(spec.path)
    with locked_directory(spec.path, deadline):
        previous = _previous_layers(spec)
        blobs: dict[str, Descriptor] = {}
        kept: list[tuple[str, CacheRecord]] = []
        written = reused = 0
        for key, record in records:
            diff_id = record.diff_id
            if diff_id is not None and diff_id not in blobs:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"gave up after {spec.timeout:.0f}s")
                known = previous.get(diff_id)
                if known is not None and target.has(known):
                    blobs[diff_id], reused = known, reused + 1
                elif services.store.exists(Digest.parse(diff_id)):
                    blobs[diff_id], written = _compress_into(services.store, target, diff_id), written + 1
                else:
                    continue  # pruned meanwhile: a record cannot travel without its layer
            kept.append((key, record))
        layers = [layer_descriptor(blobs[d], d, _size(kept, d)) for d in blobs]
        config = target.put_bytes(config_bytes(kept), CONFIG_TYPE)
        manifest = target.put_bytes(manifest_for(config, layers).to_bytes(), MediaType.OCI_MANIFEST)
        publish(spec.path, manifest)
        remove_unreferenced(spec.path, {config.digest, manifest.digest, *(b.digest for b in blobs.values())})
    return TransferReport(spec, True, len(kept), written, reused, 0, time.monotonic() - started)


def _previous_layers(spec: CacheSpec) -> dict[str, Descriptor]:
    """diff_id -> compressed blob of the cache already in the directory (none if unreadable)."""
    try:
        document = read_cache(spec.path)
    except Exception:  # a missing or broken previous cache only means compressing everything
        return {}
    return {str(layer.diff_id): layer.blob for layer in document.layers}


def _size(records: list[tuple[str, CacheRecord]], diff_id: str) -> int:
    return next(record.size for _, record in records if record.diff_id == diff_id)


def _compress_into(local: ContentStore, target: ContentStore, diff_id: str) -> Descriptor:
    engine = compressor(GZIP)
    with local.open(Digest.parse(diff_id)) as layer, target.writer() as writer:
        while chunk := layer.read(_CHUNK):
            writer.write(engine.compress(chunk))
        writer.write(engine.flush())
        return writer.commit(OCI_LAYER_TYPES[GZIP])
