"""Everything a build touches on disk, opened once per build from the state root.

Layout of ``<root>`` (the root is itself an OCI image layout, see ``builder.imagestore``)::

    blobs/ index.json oci-layout ingest/   image store and content store (shared blobs)
    snapshots/                             the snapshotter (overlay or native)
    cache/keys/                            the build cache index
    cache/mounts/                          RUN --mount=type=cache directories
    run/                                   runtime state of live containers
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from builder.cache import CacheIndex, protected_blobs
from builder.events import EventSink, ignore_event
from builder.imagestore import ImageStore
from builder.journal import BuildJournal
from builder.layers import temporary_key_owner
from registry_client import ContentStore
from runtime import Kind, NativeSnapshotter, OverlaySnapshotter, SnapshotError, Snapshotter, overlay_supported


@dataclass(frozen=True, slots=True)
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


def sweep_dead_snapshots(snapshotter: Snapshotter) -> list[str]:
    """Remove active and view snapshots left by builds that died (their key names the pid)."""
    removed = []
    for info in reversed(snapshotter.list()):  # children before parents
        if info.kind is Kind.COMMITTED:
            continue
        owner = temporary_key_owner(info.name)
        if owner is not None and not _alive(owner):
            with contextlib.suppress(SnapshotError):
                snapshotter.remove(info.name)
                removed.append(info.name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    sweep_dead_snapshots(snapshotter)
    images = ImageStore(root, protect=protected_blobs(root))
    return Services(root, ContentStore(root), images, snapshotter, CacheIndex(root), emit)
