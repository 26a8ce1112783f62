"""An image as it leaves the machine: its manifest (or index) with layers in the wanted codec.

The stored manifest is rewritten only when a layer changes (built layers are stored
uncompressed); the new manifest goes into the content store so pushes and exports can read
it like any other blob. Docker schema2 manifests cannot hold zstd or plain tar layers:
when one is needed the manifest becomes OCI, as BuildKit does.
"""
from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from types import MappingProxyType

from registry_client import Descriptor, ImageConfig, Index, Manifest, MediaType, parse_manifest

from builder.errors import UsageError
from builder.image.compression import GZIP, Compression, LayerCompressor, codec_of
from builder.imagestore import ImageStore, StoreCorrupt

_DOCKER_TO_OCI = {
    MediaType.DOCKER_MANIFEST: MediaType.OCI_MANIFEST,
    MediaType.DOCKER_CONFIG: MediaType.OCI_CONFIG,
    MediaType.DOCKER_LAYER_GZIP: MediaType.OCI_LAYER_GZIP,
}
_WORKERS = 2  # igzip and zstd release the GIL: two layers compress at once


def exportable_entry(store: ImageStore, entry: Descriptor) -> Descriptor:
    """The entry itself, unless it is an index with images missing (a pull keeps one
    platform): then the local platform's image, as docker pushes and saves it."""
    document = parse_manifest(store.content.read_bytes(entry.digest), entry.media_type)
    if isinstance(document, Index) and not all(store.content.exists(m.digest) for m in document.manifests):
        return store.image(entry).descriptor
    return entry


def image_for_export(store: ImageStore, descriptor: Descriptor, compression: Compression) -> Descriptor:
    """``descriptor`` (manifest or index in the store) with every layer in ``compression``.

    Returns ``descriptor`` itself when nothing had to change, else the descriptor of a new
    manifest or index written to the content store (platform and annotations kept).
    """
    document = parse_manifest(store.content.read_bytes(descriptor.digest), descriptor.media_type)
    if isinstance(document, Index):
        children = tuple(image_for_export(store, child, compression) if store.content.exists(child.digest)
                         else child for child in document.manifests)
        if children == document.manifests:
            return descriptor
        return _store_document(store, descriptor, replace(document, manifests=children))
    assert isinstance(document, Manifest)
    layers = _converted_layers(store, document, compression)
    if layers == document.layers:
        return descriptor
    manifest = replace(document, layers=layers)
    if document.media_type == MediaType.DOCKER_MANIFEST:
        manifest = _with_media_types(manifest)
    return _store_document(store, descriptor, manifest)


def _converted_layers(store: ImageStore, manifest: Manifest, compression: Compression) -> tuple[Descriptor, ...]:
    try:
        config = ImageConfig.from_bytes(store.content.read_bytes(manifest.config.digest))
    except Exception as exc:
        raise StoreCorrupt(f"cannot read config {manifest.config.digest}: {exc}") from exc
    if len(config.diff_ids) != len(manifest.layers):
        raise StoreCorrupt(f"config {manifest.config.digest} has {len(config.diff_ids)} diff_ids "
                           f"for {len(manifest.layers)} layers")
    compressor = LayerCompressor(store.root, store.content)

    def convert(pair: tuple[Descriptor, object]) -> Descriptor:
        layer, diff_id = pair
        if _is_foreign(layer.media_type):
            return layer  # fetched from its URLs by whoever pulls: never rewritten
        converted = compressor.convert(layer, diff_id, compression)  # type: ignore[arg-type]
        return layer if converted is layer else replace(converted, annotations=layer.annotations)

    pairs = list(zip(manifest.layers, config.diff_ids))
    with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="pybuild-compress") as pool:
        return tuple(pool.map(convert, pairs))


def _is_foreign(media_type: str) -> bool:
    return (media_type == MediaType.DOCKER_FOREIGN_LAYER_GZIP
            or media_type.startswith(MediaType.OCI_NONDISTRIBUTABLE_PREFIX))


def _with_media_types(manifest: Manifest) -> Manifest:
    """Keep a docker manifest docker-typed when every layer is gzip; else make it OCI."""
    if all(codec_of(layer.media_type) == GZIP for layer in manifest.layers):
        layers = tuple(replace(layer, media_type=MediaType.DOCKER_LAYER_GZIP)
                       if layer.media_type == MediaType.OCI_LAYER_GZIP else layer for layer in manifest.layers)
        return replace(manifest, layers=layers)
    return oci_manifest(manifest)


def oci_manifest(manifest: Manifest) -> Manifest:
    """``manifest`` with OCI media types (only an OCI manifest holds zstd layers or annotations)."""
    return Manifest(
        replace(manifest.config, media_type=_DOCKER_TO_OCI.get(manifest.config.media_type, manifest.config.media_type)),
        tuple(replace(layer, media_type=_DOCKER_TO_OCI.get(layer.media_type, layer.media_type))
              for layer in manifest.layers),
        MediaType.OCI_MANIFEST, manifest.annotations)


def annotated(store: ImageStore, descriptor: Descriptor, annotations: Mapping[str, str]) -> Descriptor:
    """The stored image manifest ``descriptor`` as an OCI manifest with ``annotations`` added (written to the
    content store, as BuildKit's exporters write the annotated manifest)."""
    document = parse_manifest(store.content.read_bytes(descriptor.digest), descriptor.media_type)
    if not isinstance(document, Manifest):
        raise UsageError("annotations on a multi-platform image index are not supported")
    manifest = oci_manifest(replace(document, annotations=MappingProxyType({**document.annotations, **annotations})))
    return _store_document(store, descriptor, manifest)


def _store_document(store: ImageStore, old: Descriptor, document: Manifest | Index) -> Descriptor:
    written = store.content.put_bytes(document.to_bytes(), document.media_type)
    return replace(old, media_type=written.media_type, digest=written.digest, size=written.size)
