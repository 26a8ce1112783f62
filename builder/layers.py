"""Layers between the content store and the snapshotter.

* ``unpack`` turns an image's layer blobs into a chain of committed snapshots, one per
  layer, named by the OCI chain ID so any image sharing a prefix of layers reuses them.
* ``commit_layer`` turns an active snapshot into a layer: its diff against the parent
  is written as an uncompressed tar into the content store (digest == diff_id;
  compression happens only at export), and the snapshot is committed.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping, Sequence
from typing import Protocol

from grammar import record
from registry_client import ContentStore, Descriptor, Digest, ImageConfig, RegistryError, open_uncompressed
from runtime import (
    EntryIndex, EntryLocation, PreviousLayer, SnapshotError, Snapshotter, apply_layer, mounted, write_diff,
)

UNCOMPRESSED_LAYER = "application/vnd.oci.image.layer.v1.tar"


@record
class LayerRef:
    descriptor: Descriptor  # the blob as stored (compressed for pulled layers)
    diff_id: Digest  # digest of the uncompressed tar


def chain_id(parent: str | None, diff_id: Digest) -> str:
    """OCI ChainID: ``sha256(parent + " " + diff_id)``, or the diff_id itself for the first layer."""
    if parent is None:
        return str(diff_id)
    return "sha256:" + hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()


def diff_id_chain(config: ImageConfig) -> tuple[str, ...]:
    """The image's layers as a cache record's ``chain`` names them: its diff_ids, base first."""
    return tuple(str(diff_id) for diff_id in config.diff_ids)


def snapshot_exists(snapshotter: Snapshotter, name: str) -> bool:
    try:
        snapshotter.stat(name)
    except SnapshotError:
        return False
    return True


def temporary_key(purpose: str) -> str:
    # The pid lets a later run tell a dead build's leftovers from a live one's.
    return f"{purpose}-{os.getpid()}-{secrets.token_hex(6)}"


def temporary_key_owner(key: str) -> int | None:
    """The pid that made ``key`` with ``temporary_key``, or None for other names."""
    parts = key.rsplit("-", 2)
    if len(parts) == 3 and parts[1].isdigit() and len(parts[2]) == 12:
        return int(parts[1])
    return None


def unpack(layers: Sequence[LayerRef], store: ContentStore, snapshotter: Snapshotter) -> str | None:
    """Make sure every layer of an image is a committed snapshot; return the top one's name."""
    named: list[tuple[str, LayerRef]] = []
    parent: str | None = None
    for layer in layers:
        parent = chain_id(parent, layer.diff_id)
        named.append((parent, layer))
    return apply_chain(named, None, store, snapshotter)


def apply_chain(layers: Sequence[tuple[str, LayerRef]], parent: str | None, store: ContentStore,
                snapshotter: Snapshotter) -> str | None:
    """Commit each ``(name, layer)`` as a snapshot on the one before (``parent`` first); return the top.

    A name that already exists is trusted as is: snapshot names are derived from content
    (chain IDs) or from cache keys, so an existing one holds the same filesystem.
    """
    for name, layer in layers:
        if not snapshot_exists(snapshotter, name):
            _unpack_one(layer, store, snapshotter, name, parent)
        parent = name
    return parent


@record
class PendingLayers:
    """Cached layers not unpacked yet: a cache hit needs a snapshot only when something reads it.

    A fully cached build never unpacks them; the first step that misses (it needs a rootfs to
    run on) or a ``COPY --from`` of the stage applies them on ``parent``, oldest first.
    """

    store: ContentStore
    snapshotter: Snapshotter
    parent: str | None  # an existing snapshot the layers go on (None: the empty filesystem)
    layers: tuple[tuple[str, LayerRef], ...] = ()  # (snapshot name, layer), oldest first

    def plus(self, name: str, layer: LayerRef) -> PendingLayers:
        return PendingLayers(self.store, self.snapshotter, self.parent, (*self.layers, (name, layer)))

    def materialize(self) -> str | None:
        """Unpack what is missing (idempotent, safe against a concurrent build); return the top name."""
        return apply_chain(self.layers, self.parent, self.store, self.snapshotter)


def _unpack_one(layer: LayerRef, store: ContentStore, snapshotter: Snapshotter, name: str, parent: str | None) -> None:
    key = temporary_key("unpack")
    mounts = snapshotter.prepare(key, parent)
    try:
        with mounted(mounts) as root, store.open(layer.descriptor.digest) as blob:
            apply_layer(open_uncompressed(blob, layer.descriptor.media_type), root)
        snapshotter.commit(name, key)
    except SnapshotError:
        snapshotter.remove(key)
        if not snapshot_exists(snapshotter, name):  # not a lost race with another build
            raise
    except BaseException:
        snapshotter.remove(key)
        raise


@record
class CommittedLayer:
    snapshot: str
    layer: LayerRef | None  # None when the step changed nothing (BuildKit drops empty layers)
    size: int


class LayerLineage(Protocol):
    """A step whose layer may copy tar entries from its previous run's layer (``runtime.layerentries``)."""

    def previous_layer(self) -> tuple[str, Mapping[str, EntryLocation], bool] | None:
        """The previous run's layer diffID and entry index, when files of it were reused, and whether those
        files were all checked to have no xattrs (``PreviousLayer.xattrs_checked``)."""

    def layer_written(self, diff_id: str, entries: EntryIndex | None, snapshot: str) -> None:
        """This run's layer, its entry index and the snapshot whose inodes it names (None: another build's)."""


def commit_layer(snapshotter: Snapshotter, store: ContentStore, key: str, parent: str | None, name: str,
                 source_date_epoch: int | None = None, lineage: LayerLineage | None = None) -> CommittedLayer:
    """Diff active snapshot ``key`` against ``parent``, store the layer, commit the snapshot as ``name``."""
    view_key = temporary_key("view")
    lower = snapshotter.view(view_key, parent) if parent else []
    previous = _previous_layer(store, lineage) if lineage is not None else None
    try:
        with store.writer(hashing=False) as writer:  # write_diff hashes the tar as it writes it
            stats = write_diff(lower, snapshotter.mounts(key), _BlobSink(writer), source_date_epoch, previous,
                               index=lineage is not None)
            descriptor = writer.commit(UNCOMPRESSED_LAYER, Digest.parse(stats.diff_id)) if stats.entries else None
    finally:
        if parent:
            snapshotter.remove(view_key)
    if descriptor is None:
        snapshotter.remove(key)
        return CommittedLayer(parent or "", None, 0)
    index = stats.index
    try:
        snapshotter.commit(name, key)
    except SnapshotError:
        if not snapshot_exists(snapshotter, name):
            snapshotter.remove(key)
            raise
        snapshotter.remove(key, background=True)  # a redundant copy (a --no-cache re-run, a lost race)
        index = None  # it names this copy's inodes, not those of the snapshot that stays
    if lineage is not None:
        lineage.layer_written(stats.diff_id, index, name)
    return CommittedLayer(name, LayerRef(descriptor, Digest.parse(stats.diff_id)), stats.size)


def _previous_layer(store: ContentStore, lineage: LayerLineage) -> PreviousLayer | None:
    found = lineage.previous_layer()
    if found is None:
        return None
    diff_id, entries, xattrs_checked = found
    try:
        return PreviousLayer(str(store.path(Digest.parse(diff_id))), entries, xattrs_checked)
    except RegistryError:  # not a digest: a damaged record
        return None


class _BlobSink:
    """A file-like adapter: write_diff writes and hashes, the content store's writer stores."""

    def __init__(self, writer: object) -> None:
        self._writer = writer

    def write(self, data: bytes) -> int:
        self._writer.write(data)  # type: ignore[attr-defined]
        return len(data)

    def flush(self) -> None:
        pass
