"""Everything a build touches on disk, opened once per build from the state root.

Layout of ``<root>`` (the root is itself an OCI image layout, see ``builder.imagestore``)::

    blobs/ index.json oci-layout ingest/   image store and content store (shared blobs)
    snapshots/                             the snapshotter (overlay or native)
    cache/keys/                            the build cache index
    cache/mounts/                          RUN --mount=type=cache directories
    run/                                   runtime state of live containers
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from builder.cache import CacheIndex
from builder.events import EventSink, ignore_event
from builder.imagestore import ImageStore
from registry_client import ContentStore
from runtime import NativeSnapshotter, OverlaySnapshotter, Snapshotter, overlay_supported


@dataclass(frozen=True, slots=True)
class Services:
    root: Path
    store: ContentStore
    images: ImageStore
    snapshotter: Snapshotter
    cache: CacheIndex
    emit: EventSink = ignore_event

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
    return Services(root, ContentStore(root), ImageStore(root), snapshotter, CacheIndex(root), emit)
