"""``pybuild load``: images from a docker archive or an OCI archive into the local store.

- A docker archive has ``manifest.json`` (``Config``, ``RepoTags``, ``Layers`` paths): the
  legacy ``<id>/layer.tar`` form and docker 25's OCI-layout-inside form alike. Layers may be
  plain or compressed tars; each must hash (uncompressed) to its config's diff_id. When the
  archive's ``index.json`` holds a manifest for the same config with exactly these layers,
  that manifest is kept byte for byte, so ``save`` then ``load`` gives back the same image.
- An OCI archive (a tar of an OCI layout, no ``manifest.json``) is copied blob by blob, each
  verified against its descriptor; an entry's name is its ``io.containerd.image.name``, or its
  ``org.opencontainers.image.ref.name`` when that is a full reference.

The archive may itself be gzip-, bzip2- or xz-compressed; stdin is spooled to a file first because
``manifest.json`` can come after the blobs it names.
"""
from __future__ import annotations

import hashlib
import json
import posixpath
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO

from grammar import record
from registry_client import (
    Descriptor, Digest, DigestMismatch, ImageConfig, Index, Manifest, MediaType, Reference, RegistryError,
    open_uncompressed, parse_manifest, parse_reference,
)

from builder.errors import UsageError
from builder.image.compression import GZIP, OCI_LAYER_TYPES, ZSTD
from builder.imagestore import ImageStore
from builder.outputs.layout import DOCUMENT_TYPES, IMAGE_NAME, REF_NAME, blob_path

_CHUNK = 1 << 20


@record
class LoadedImage:
    descriptor: Descriptor  # the manifest (or index) now in the store
    image_id: Digest
    names: tuple[Reference, ...]


def load_archive(store: ImageStore, source: Path | BinaryIO) -> list[LoadedImage]:
    """Store every image of the archive ``source`` (a path, or a stream such as stdin)."""
    with _seekable(store.root, source) as path, store.lease():
        try:
            archive = tarfile.open(path, "r:*")
        except tarfile.TarError as exc:
            raise UsageError(f"load: not a tar archive: {exc}") from None
        with archive:
            members = {_clean(m.name): m for m in archive.getmembers()}
            reader = _ArchiveReader(store, archive, members)
            if "manifest.json" in members:
                loaded = reader.docker_images()
            elif "index.json" in members:
                loaded = reader.oci_images()
            else:
                raise UsageError("load: the archive has neither manifest.json nor index.json")
    for image in loaded:
        for name in image.names:
            store.tag(name, image.descriptor)
        if not image.names:
            store.add_unnamed(image.descriptor)
    return loaded


class _ArchiveReader:
    def __init__(self, store: ImageStore, archive: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> None:
        self._store = store
        self._archive = archive
        self._members = members

    def docker_images(self) -> list[LoadedImage]:
        items = json.loads(self._read("manifest.json"))
        layout_manifests = self._layout_manifests() if "index.json" in self._members else {}
        loaded = []
        for item in items:
            config_bytes = self._read(item["Config"])
            config = ImageConfig.from_bytes(config_bytes)
            config_descriptor = Descriptor(MediaType.OCI_CONFIG, Digest.of(config_bytes), len(config_bytes))
            if len(item.get("Layers") or ()) != len(config.diff_ids):
                raise UsageError(f"load: {item['Config']} lists {len(config.diff_ids)} diff_ids "
                                 f"but the archive has {len(item.get('Layers') or ())} layers")
            layers = tuple(self._layer(path, diff_id) for path, diff_id in zip(item["Layers"], config.diff_ids))
            self._store.content.put_bytes(config_bytes, MediaType.OCI_CONFIG)
            descriptor = self._manifest_for(config_descriptor, layers, layout_manifests)
            names = tuple(parse_reference(tag) for tag in item.get("RepoTags") or ())
            loaded.append(LoadedImage(descriptor, config_descriptor.digest, names))
        return loaded

    def oci_images(self) -> list[LoadedImage]:
        index = json.loads(self._read("index.json"))
        loaded = []
        for entry in (Descriptor.from_json(e) for e in index.get("manifests") or ()):
            self._copy_tree(entry)
            plain = replace(entry, annotations=MappingProxyType({}))
            image_id = self._store.image(plain).image_id
            loaded.append(LoadedImage(plain, image_id, _entry_names(entry)))
        return loaded

    # -- docker archives --------------------------------------------------------------------
    def _layer(self, path: str, diff_id: Digest) -> Descriptor:
        """Store one layer as it is in the archive, after checking its content is ``diff_id``."""
        content = self._store.content
        with self._open(path) as source, content.writer() as writer:
            head = source.read(_CHUNK)
            codec = _codec(head)
            plain_hash = hashlib.new(diff_id.algorithm) if codec is None else None
            while head:
                writer.write(head)
                if plain_hash is not None:
                    plain_hash.update(head)
                head = source.read(_CHUNK)
            if plain_hash is not None and plain_hash.hexdigest() != diff_id.hex:
                raise DigestMismatch(f"layer {path} does not match its diff_id {diff_id}", digest=str(diff_id))
            stored = writer.commit(OCI_LAYER_TYPES[codec or "uncompressed"])
        if codec is not None:
            self._check_compressed(stored, diff_id, path)
        return stored

    def _check_compressed(self, layer: Descriptor, diff_id: Digest, path: str) -> None:
        plain_hash = hashlib.new(diff_id.algorithm)
        with self._store.content.open(layer.digest) as blob:
            stream = open_uncompressed(blob, layer.media_type)
            while chunk := stream.read(_CHUNK):
                plain_hash.update(chunk)
        if plain_hash.hexdigest() != diff_id.hex:
            self._store.content.delete(layer.digest)
            raise DigestMismatch(f"layer {path} does not decompress to its diff_id {diff_id}", digest=str(diff_id))

    def _layout_manifests(self) -> dict[Digest, Descriptor]:
        """Manifests the archive's OCI layout describes, by config digest (docker >= 25 writes one)."""
        found: dict[Digest, Descriptor] = {}
        try:
            entries = json.loads(self._read("index.json")).get("manifests") or ()
            for entry in (Descriptor.from_json(e) for e in entries):
                path = blob_path(entry)
                if entry.media_type == MediaType.OCI_MANIFEST and path in self._members:
                    manifest = parse_manifest(self._read(path), entry.media_type)
                    if isinstance(manifest, Manifest):
                        found[manifest.config.digest] = replace(entry, annotations=MappingProxyType({}))
        except (ValueError, RegistryError, KeyError):
            return {}  # an index we cannot use: manifests are made from manifest.json instead
        return found

    def _manifest_for(self, config: Descriptor, layers: tuple[Descriptor, ...],
                      layout_manifests: dict[Digest, Descriptor]) -> Descriptor:
        known = layout_manifests.get(config.digest)
        if known is not None:
            data = self._read(blob_path(known))
            manifest = parse_manifest(data, known.media_type)
            if isinstance(manifest, Manifest) and [(l.digest, l.size) for l in manifest.layers] == \
                    [(l.digest, l.size) for l in layers]:
                stored = self._store.content.put_bytes(data, known.media_type)
                return replace(known, digest=stored.digest, size=stored.size)
        manifest = Manifest(config, layers, MediaType.OCI_MANIFEST)
        return self._store.content.put_bytes(manifest.to_bytes(), MediaType.OCI_MANIFEST)

    # -- OCI archives -----------------------------------------------------------------------
    def _copy_tree(self, descriptor: Descriptor) -> None:
        path = blob_path(descriptor)
        if path not in self._members:
            if descriptor.media_type in DOCUMENT_TYPES and descriptor.platform is None:
                raise UsageError(f"load: the archive lacks {path}")
            return  # another platform's image of an index, not in this archive
        content = self._store.content
        if not content.has(descriptor):
            with self._open(path) as source, content.writer(descriptor) as writer:
                while chunk := source.read(_CHUNK):
                    writer.write(chunk)
                writer.commit(descriptor.media_type)  # raises DigestMismatch on any difference
        if descriptor.media_type not in DOCUMENT_TYPES:
            return
        document = parse_manifest(content.read_bytes(descriptor.digest), descriptor.media_type)
        children = document.manifests if isinstance(document, Index) else (document.config, *document.layers)
        for child in children:
            self._copy_tree(child)

    # -- members ----------------------------------------------------------------------------
    def _read(self, name: str) -> bytes:
        with self._open(name) as source:
            return source.read()

    @contextmanager
    def _open(self, name: str) -> Iterator[BinaryIO]:
        member = self._members.get(_clean(name))
        source = self._archive.extractfile(member) if member is not None else None
        if source is None:
            raise UsageError(f"load: the archive has no file {name}")
        with source:
            yield source  # type: ignore[misc]


def _entry_names(entry: Descriptor) -> tuple[Reference, ...]:
    for key in (IMAGE_NAME, REF_NAME):
        text = entry.annotations.get(key, "")
        if "/" in text or ":" in text.split("/")[-1]:  # a bare tag such as "latest" names nothing
            try:
                return (parse_reference(text),)
            except RegistryError:
                continue
    return ()


def _codec(head: bytes) -> str | None:
    if head.startswith(b"\x1f\x8b"):
        return GZIP
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return ZSTD
    return None


def _clean(name: str) -> str:
    return posixpath.normpath(name).lstrip("/") if name not in ("", ".") else name


@contextmanager
def _seekable(root: Path, source: Path | BinaryIO) -> Iterator[Path]:
    if isinstance(source, Path):
        if not source.is_file():
            raise UsageError(f"load: {source}: no such file")
        yield source
        return
    scratch = root / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=scratch, prefix="load-", suffix=".tar") as spool:
        shutil.copyfileobj(source, spool, _CHUNK)
        spool.flush()
        yield Path(spool.name)
