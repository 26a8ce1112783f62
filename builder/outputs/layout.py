"""Images as an OCI image layout, and as docker's archive (the same layout plus its own files).

An OCI layout holds ``oci-layout``, ``index.json`` (one entry per name, annotated as
containerd and BuildKit do: ``io.containerd.image.name`` = the full reference,
``org.opencontainers.image.ref.name`` = its tag) and ``blobs/<alg>/<hex>``.

A docker archive is what ``docker save`` writes since docker 25: that layout, plus
``manifest.json`` (``Config``/``RepoTags``/``Layers`` paths into ``blobs/``, read by
``docker load`` and ``skopeo docker-archive:``) and ``repositories``. Its layers are plain
tars, so ``Layers`` name blobs by diff_id, as docker's do.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import field, replace
from pathlib import Path
from types import MappingProxyType

from grammar import record
from registry_client import ContentStore, Descriptor, Index, Manifest, MediaType, Reference, parse_manifest

from builder.outputs.archive import ArchiveWriter, copy_file_atomically, output_stream

IMAGE_NAME = "io.containerd.image.name"
REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_BYTES = b'{"imageLayoutVersion":"1.0.0"}'
DOCUMENT_TYPES = frozenset({MediaType.OCI_INDEX, MediaType.OCI_MANIFEST, MediaType.DOCKER_MANIFEST_LIST,
                             MediaType.DOCKER_MANIFEST})


@record
class LayoutImage:
    """One image to write: a manifest or index in the content store, and its names."""

    descriptor: Descriptor
    names: tuple[Reference, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # on its index.json entry


def blob_path(descriptor: Descriptor) -> str:
    return f"blobs/{descriptor.digest.algorithm}/{descriptor.digest.hex}"


def blobs_of(content: ContentStore, images: list[LayoutImage]) -> list[Descriptor]:
    """Every blob the images need, each once, in a fixed order: manifest, config, layers."""
    found: dict[str, Descriptor] = {}
    pending = [image.descriptor for image in reversed(images)]
    while pending:
        current = pending.pop()
        if str(current.digest) in found or not content.exists(current.digest):
            continue  # an index child another platform's pull never fetched
        found[str(current.digest)] = current
        if current.media_type not in DOCUMENT_TYPES:
            continue  # a config or layer: nothing below it
        document = parse_manifest(content.read_bytes(current.digest), current.media_type)
        children = document.manifests if isinstance(document, Index) else (document.config, *document.layers)
        pending.extend(reversed(children))
    return list(found.values())


def index_bytes(images: list[LayoutImage]) -> bytes:
    entries = []
    for image in images:
        plain = replace(image.descriptor, annotations=MappingProxyType(dict(image.annotations)))
        if not image.names:
            entries.append(plain.to_json())
        for name in image.names:
            annotations = {**image.annotations, IMAGE_NAME: str(name), REF_NAME: name.tag or name.digest or "latest"}
            entries.append(replace(plain, annotations=MappingProxyType(annotations)).to_json())
    document = {"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": entries}
    return json.dumps(document, separators=(",", ":")).encode() + b"\n"


def docker_files(content: ContentStore, images: list[LayoutImage]) -> dict[str, bytes]:
    """``manifest.json`` and (when anything is named) ``repositories`` for these images."""
    items, repositories = [], {}
    for image in images:
        manifest = parse_manifest(content.read_bytes(image.descriptor.digest), image.descriptor.media_type)
        if not isinstance(manifest, Manifest):
            raise ValueError("a docker archive holds single-platform images, not an index")
        tagged = [name for name in image.names if name.tag]
        items.append({"Config": blob_path(manifest.config),
                      "RepoTags": [name.familiar for name in tagged] or None,
                      "Layers": [blob_path(layer) for layer in manifest.layers]})
        for name in tagged:
            familiar_repo = name.familiar.rsplit(":", 1)[0]
            top = manifest.layers[-1].digest.hex if manifest.layers else ""
            repositories.setdefault(familiar_repo, {})[name.tag] = top
    files = {"manifest.json": json.dumps(items, separators=(",", ":")).encode() + b"\n"}
    if repositories:
        files["repositories"] = json.dumps(repositories, separators=(",", ":")).encode() + b"\n"
    return files


def metadata_files(content: ContentStore, images: list[LayoutImage], docker: bool) -> dict[str, bytes]:
    files = {"oci-layout": LAYOUT_BYTES, "index.json": index_bytes(images)}
    if docker:
        files.update(docker_files(content, images))
    return files


def write_archive(writer: ArchiveWriter, content: ContentStore, images: list[LayoutImage], *, docker: bool) -> None:
    """The layout as tar members: metadata first (a streaming reader knows what comes), then blobs."""
    for name, data in metadata_files(content, images, docker).items():
        writer.add_bytes(name, data)
    for blob in blobs_of(content, images):
        writer.add_file(blob_path(blob), content.path(blob.digest), blob.size)


def save_archive(dest: str, content: ContentStore, images: list[LayoutImage], *, docker: bool, what: str) -> None:
    """The layout as a tar file at ``dest`` (``-``: stdout), replaced only once complete."""
    with output_stream(dest, what) as out:
        writer = ArchiveWriter(out)
        write_archive(writer, content, images, docker=docker)
        writer.close()


def write_directory(dest: Path, content: ContentStore, images: list[LayoutImage], *, docker: bool) -> None:
    """The layout as a directory; blobs already there are kept, ``index.json`` is merged:
    entries with the names written now are replaced, others stay."""
    dest.mkdir(parents=True, exist_ok=True)
    for blob in blobs_of(content, images):
        target = dest / blob_path(blob)
        if not (target.is_file() and target.stat().st_size == blob.size):
            copy_file_atomically(content.path(blob.digest), target)
    files = metadata_files(content, images, docker)
    files["index.json"] = _merged_index(dest / "index.json", files["index.json"])
    for name, data in files.items():
        _write_bytes(dest / name, data)


def _merged_index(existing: Path, new: bytes) -> bytes:
    try:
        old = json.loads(existing.read_bytes()).get("manifests") or []
    except (OSError, ValueError, AttributeError):
        return new
    document = json.loads(new)
    written = {(e.get("annotations") or {}).get(IMAGE_NAME) for e in document["manifests"]} - {None}
    kept = [e for e in old if isinstance(e, dict)
            and (e.get("annotations") or {}).get(IMAGE_NAME) not in written
            and e not in document["manifests"]]
    document["manifests"] = kept + document["manifests"]
    return json.dumps(document, separators=(",", ":")).encode() + b"\n"


def _write_bytes(path: Path, data: bytes) -> None:
    from builder.imagestore.layout import write_file_atomically

    write_file_atomically(path, data)
