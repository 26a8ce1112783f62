"""Everything a build touches on disk, opened once per build from the state root.

Layout of ``<root>`` (the root is itself an OCI image layout, see ``builder.imagestore``)::

    blobs/ index.json oci-layout ingest/   image store and content store (shared blobs)
    snapshots/                             the snapshotter (overlay or native)
    cache/keys/                            the build cache index
    cache/locks/                           per-cache-key locks of steps being run (builder.cache.locks)
    cache/mounts/                          RUN --mount=type=cache directories
    run/                                   runtime state of live containers
"""
from __future__ import annotations

from dataclasses import field
from pathlib import Path

from builder.cache.index import CacheIndex, protected_blobs
from builder.cache.leftovers import sweep_leftovers
from builder.events import EventSink, ignore_event
from builder.imagestore import ImageStore
from builder.replay.journal import BuildJournal
from grammar import record
from registry_client import ContentStore
from runtime import NativeSnapshotter, OverlaySnapshotter, Snapshotter, overlay_supported


@record
class Services:
    root: Path
    store: ContentStore
    images: ImageStore
    snapshotter: Snapshotter
    cache: CacheIndex
    emit: EventSink = ignore_event
    journal: BuildJournal = field(default_factory=BuildJournal)

    @property
    def runtime_state(self) -> str:
        return str(self.root / "run")

    @property
    def cache_mounts(self) -> Path:
        return self.root / "cache" / "mounts"


def open_services(root: Path, emit: EventSink = ignore_event) -> Services:
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    snapshots = root / "snapshots"
    snapshots.mkdir(exist_ok=True)
    snapshotter: Snapshotter
    if overlay_supported(str(snapshots)):
        snapshotter = OverlaySnapshotter(str(snapshots / "overlay"))
    else:
        snapshotter = NativeSnapshotter(str(snapshots / "native"))
    cache = CacheIndex(root)
    sweep_leftovers(root, snapshotter, cache)
    images = ImageStore(root, protect=protected_blobs(root))
    return Services(root, ContentStore(root), images, snapshotter, cache, emit)
