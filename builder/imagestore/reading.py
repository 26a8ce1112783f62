"""Reading a stored image: its manifest, its config, and for an index the platform's image.

Manifests and configs are immutable, so what was read once is kept in a small per-store
memo keyed by digest; listing a store of many images reads each file once.
"""
from __future__ import annotations

from grammar import record
from registry_client import (
    ContentStore, Descriptor, Digest, ImageConfig, Index, Manifest, Platform, RegistryError,
    host_platform, parse_manifest, select_platform,
)

from .errors import StoreCorrupt


@record
class StoredImage:
    """One image (never an index) that is fully present in the store."""

    descriptor: Descriptor  # of the image manifest
    manifest: Manifest
    manifest_bytes: bytes
    config: ImageConfig
    config_bytes: bytes

    @property
    def image_id(self) -> Digest:
        """The config digest: docker's image ID."""
        return self.manifest.config.digest

    @property
    def size(self) -> int:
        """Bytes the image takes in the store: config plus compressed layers."""
        return self.manifest.config.size + sum(layer.size for layer in self.manifest.layers)


class ManifestReader:
    def __init__(self, content: ContentStore) -> None:
        self._content = content
        self._documents: dict[Digest, tuple[bytes, Manifest | Index]] = {}

    def document(self, descriptor: Descriptor) -> tuple[bytes, Manifest | Index]:
        cached = self._documents.get(descriptor.digest)
        if cached is None:
            try:
                data = self._content.read_bytes(descriptor.digest)
                cached = (data, parse_manifest(data, descriptor.media_type))
            except RegistryError as exc:
                raise StoreCorrupt(f"cannot read manifest {descriptor.digest}: {exc}") from exc
            self._documents[descriptor.digest] = cached
        return cached

    def image_manifest(self, descriptor: Descriptor, platform: Platform | None = None) -> Descriptor:
        """``descriptor`` itself for an image; for an index the entry for ``platform``.

        Without a platform an index yields the host's image if present, else the first
        image whose manifest is in the store (a pull keeps only the platform it fetched).
        """
        for _ in range(4):
            _, parsed = self.document(descriptor)
            if isinstance(parsed, Manifest):
                return descriptor
            descriptor = self._pick(parsed, platform)
        raise StoreCorrupt(f"indexes nested too deep under {descriptor.digest}")

    def _pick(self, index: Index, platform: Platform | None) -> Descriptor:
        try:
            chosen = select_platform(index, platform or host_platform())
            if platform is not None or self._content.exists(chosen.digest):
                return chosen
        except RegistryError:
            if platform is not None:
                raise
        present = [d for d in index.manifests if self._content.exists(d.digest)
                   and not (d.platform is not None and d.platform.is_unknown)]
        if not present:
            raise StoreCorrupt("no image of this index is in the store")
        return present[0]

    def image_id(self, descriptor: Descriptor) -> Digest:
        """The config digest of the image an entry denotes, without reading the config."""
        _, manifest = self.document(self.image_manifest(descriptor))
        assert isinstance(manifest, Manifest)
        return manifest.config.digest

    def image(self, descriptor: Descriptor, platform: Platform | None = None) -> StoredImage:
        chosen = self.image_manifest(descriptor, platform)
        data, manifest = self.document(chosen)
        assert isinstance(manifest, Manifest)
        try:
            config_bytes = self._content.read_bytes(manifest.config.digest)
            config = ImageConfig.from_bytes(config_bytes)
        except RegistryError as exc:
            raise StoreCorrupt(f"cannot read config {manifest.config.digest}: {exc}") from exc
        return StoredImage(chosen, manifest, data, config, config_bytes)

    def blobs_of(self, descriptor: Descriptor) -> set[Digest]:
        """Every digest reachable from ``descriptor`` that is present: what keeps it alive."""
        found: set[Digest] = set()
        pending = [descriptor]
        while pending:
            current = pending.pop()
            if current.digest in found or not self._content.exists(current.digest):
                continue
            found.add(current.digest)
            try:
                _, parsed = self.document(current)
            except StoreCorrupt:
                continue  # unreadable: keep the blob itself, nothing below it is known
            if isinstance(parsed, Index):
                pending.extend(parsed.manifests)
            else:
                found.add(parsed.config.digest)
                found.update(layer.digest for layer in parsed.layers)
        return found
