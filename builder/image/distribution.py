"""Moving images between registries and the local store: ``pull_image`` and ``push_image``.

A push sends the image as it leaves the machine: built layers, stored uncompressed, are
compressed first (gzip by default, once per layer and codec, see builder.image.compression), so
the registry receives the manifest ``--output type=oci`` would write.

Both turn registry_client's ``on_progress(BlobProgress)`` callbacks, which arrive on download
threads, into ``PullProgress``/``PushProgress`` events for whatever sink the caller passes.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable

import registry_client
from registry_client import (
    BlobProgress, Descriptor, Digest, Platform, Reference, RegistryClient, parse_reference,
)

from builder.errors import UsageError
from builder.events import (
    EventSink, PullFinished, PullProgress, PullStarted, PushFinished, PushProgress, PushStarted, ignore_event,
)
from builder.imagestore import ImageNotFound, ImageStore

if TYPE_CHECKING:
    from builder.image.compression import Compression  # push only: not imported by a pull


@dataclass(frozen=True, slots=True)
class PullResult:
    name: Reference  # what the image is now called locally
    digest: Digest  # what the registry resolved the reference to (index or manifest)
    image_id: Digest
    downloaded: bool  # False when every blob was already in the store


@dataclass(frozen=True, slots=True)
class PushResult:
    name: Reference
    digest: Digest  # of the manifest (or index) the registry now holds
    size: int
    media_type: str = ""  # of that manifest or index (OCI when a docker manifest had to change)


class _ProgressRelay:
    """BlobProgress (any thread) -> events; remembers whether bytes really moved."""

    def __init__(self, make_event: Callable[[BlobProgress], object], emit: EventSink) -> None:
        self._make_event = make_event
        self._emit = emit
        self._lock = threading.Lock()
        self.transferred = False

    def __call__(self, progress: BlobProgress) -> None:
        if not progress.cached:
            with self._lock:
                self.transferred = True
        self._emit(self._make_event(progress))  # type: ignore[arg-type]


def pull_image(store: ImageStore, ref: str | Reference, *, client: RegistryClient,
               platform: Platform | None = None, emit: EventSink = ignore_event) -> PullResult:
    """Pull ``ref`` for ``platform`` (default: this host) and tag it in ``store``."""
    name = parse_reference(ref) if isinstance(ref, str) else ref
    text = str(name)
    emit(PullStarted(text))
    relay = _ProgressRelay(lambda p: PullProgress(text, str(p.digest), p.media_type, p.done, p.total,
                                                  p.cached, p.finished), emit)
    with store.lease():
        pulled = registry_client.pull(name, store.content, client=client, platform=platform, on_progress=relay)
        # The index entry's platform is what a later ``images``/``inspect`` shows without reading.
        image = replace(pulled.manifest_descriptor, platform=pulled.platform, annotations={})
        store.tag(name, image, repo_digest=f"{name.name}@{pulled.digest}")
    image_id = pulled.manifest.config.digest
    emit(PullFinished(text, str(pulled.digest), str(image_id), relay.transferred))
    return PullResult(name, pulled.digest, image_id, relay.transferred)


def push_image(store: ImageStore, ref: str, *, client: RegistryClient, emit: EventSink = ignore_event,
               compression: Compression | None = None) -> PushResult:
    """Push the local image ``ref`` to the registry its name points at, its plain layers
    compressed as ``compression`` says (default: gzip)."""
    from builder.image.compression import Compression
    from builder.outputs.convert import exportable_entry, image_for_export

    name = parse_reference(ref)
    if name.digest is not None:
        raise UsageError(f"cannot push a digest reference: {ref}")
    entry = store.resolve(ref)
    if entry is None or name not in store.names_of(entry.digest):  # an ID prefix is not a name to push to
        raise ImageNotFound(ref)
    text = str(name)
    emit(PushStarted(text, name.name))
    relay = _ProgressRelay(lambda p: PushProgress(text, str(p.digest), p.media_type, p.done, p.total,
                                                  p.cached, p.finished), emit)
    with store.lease():  # the compressed blobs must outlive a concurrent prune until pushed
        target = image_for_export(store, exportable_entry(store, entry), compression or Compression())
        digest = registry_client.push(name, store.content, target, client=client,
                                      mount_from=_mount_source(store, entry, name), on_progress=relay)
    store.tag(name, entry, repo_digest=f"{name.name}@{digest}")
    emit(PushFinished(text, str(digest), target.size))
    return PushResult(name, digest, target.size, target.media_type)


def _mount_source(store: ImageStore, entry: Descriptor, target: Reference) -> str | None:
    """Another repository of the same registry holding this image: its blobs can be mounted."""
    for other in store.names_of(entry.digest):
        if other.registry == target.registry and other.repository != target.repository:
            return other.repository
    return None
