"""``export_output``: one parsed ``--output`` applied to an image already in the local store."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from grammar import record
from registry_client import Descriptor, Reference, parse_reference

from builder.errors import UsageError
from builder.events import EventSink, ignore_event
from builder.image.compression import GZIP, UNCOMPRESSED, Compression
from builder.imagestore import ImageStore
from builder.outputs.archive import STDOUT, output_stream
from builder.outputs.spec import DOCKER, IMAGE, LOCAL, OCI, TAR, OutputSpec

if TYPE_CHECKING:
    from registry_client import RegistryClient

ClientFactory = Callable[[], "RegistryClient"]


@record
class ExportResult:
    spec: OutputSpec
    descriptor: Descriptor | None  # the manifest or index as written or pushed; None for a rootfs
    names: tuple[str, ...] = ()


def export_output(root: Path, manifest_descriptor: Descriptor, spec: OutputSpec, tags: Sequence[str] = (), *,
                  client_factory: ClientFactory | None = None, emit: EventSink = ignore_event,
                  default_compression: str = GZIP) -> ExportResult:
    """Write the stored image ``manifest_descriptor`` where ``spec`` says.

    ``tags`` name the image when the output has no ``name=``; ``client_factory`` gives the
    registry client for pushes (asked for only when one happens).
    """
    store = ImageStore(root)
    with store.lease():  # compressed blobs written here must survive a concurrent prune
        if spec.type in (LOCAL, TAR):
            return _export_rootfs(store, manifest_descriptor, spec)
        if spec.type == OCI:
            compression = spec.compression(default_compression)
            return _export_layout(store, manifest_descriptor, spec, tags, compression, docker=False)
        if spec.type == DOCKER:
            if spec.dest is None:  # buildx would load into dockerd: the image is already in our store
                return ExportResult(spec, manifest_descriptor, tuple(tags))
            # docker save's layers are plain tars named by diff_id: decompress pulled ones too
            compression = Compression(UNCOMPRESSED, force=True)
            return _export_layout(store, manifest_descriptor, spec, tags, compression, docker=True)
        if spec.type == IMAGE:
            return _export_image(store, manifest_descriptor, spec, tags, client_factory, emit, default_compression)
    raise UsageError(f"unsupported output type {spec.type!r}")


def _export_rootfs(store: ImageStore, descriptor: Descriptor, spec: OutputSpec) -> ExportResult:
    from builder.outputs.rootfs import export_local, export_tar

    image = store.image(descriptor)
    if spec.type == LOCAL:
        if not spec.dest or spec.dest == STDOUT:
            raise UsageError("output directory is required for local exporter")
        export_local(store.root, store.content, image, Path(spec.dest))
    else:
        with output_stream(spec.dest or STDOUT, TAR) as out:
            export_tar(store.root, store.content, image, out)
    return ExportResult(spec, None)


def _export_layout(store: ImageStore, descriptor: Descriptor, spec: OutputSpec, tags: Sequence[str],
                   compression: Compression, *, docker: bool) -> ExportResult:
    from builder.outputs.convert import exportable_entry, image_for_export
    from builder.outputs.layout import LayoutImage, save_archive, write_directory

    entry = store.image(descriptor).descriptor if docker else exportable_entry(store, descriptor)
    converted = image_for_export(store, entry, compression)
    names = spec.names or tuple(tags)
    on_entry: dict[str, str] = {}
    if any(key.startswith("annotation") for key in spec.attrs):  # the files carry them, as BuildKit writes them
        from builder.outputs.annotations import image_annotations
        from builder.outputs.convert import annotated

        annotations = image_annotations(spec.attrs, store.image(entry).config.platform)
        if annotations.manifest:
            converted = annotated(store, converted, annotations.manifest)
        on_entry.update(annotations.manifest_descriptor)
    images = [LayoutImage(converted, tuple(_reference(n) for n in names), MappingProxyType(on_entry))]
    dest = spec.dest or STDOUT
    if spec.as_directory or (dest != STDOUT and Path(dest).is_dir()):  # dest=DIR: a layout directory
        if dest == STDOUT:
            raise UsageError(f"output directory is required for {spec.type} exporter with tar=false")
        write_directory(Path(dest), store.content, images, docker=docker)
    else:
        save_archive(dest, store.content, images, docker=docker, what=spec.type)
    return ExportResult(spec, converted, names)


def _export_image(store: ImageStore, descriptor: Descriptor, spec: OutputSpec, tags: Sequence[str],
                  client_factory: ClientFactory | None, emit: EventSink, default_compression: str) -> ExportResult:
    names = spec.names or tuple(tags)
    for name in names:
        store.tag(_reference(name), descriptor)
    if not spec.flag("push"):
        return ExportResult(spec, descriptor, names)
    if not names:
        raise UsageError("tag is needed when pushing to registry")
    if client_factory is None:
        raise UsageError("pushing needs registry settings")
    from builder.image.distribution import push_image

    client = client_factory()
    pushed = descriptor
    for name in names:
        result = push_image(store, name, client=client, emit=emit,
                            compression=spec.compression(default_compression))
        pushed = Descriptor(result.media_type or descriptor.media_type, result.digest, result.size)
    return ExportResult(spec, pushed, names)


def _reference(text: str) -> Reference:
    from registry_client import RegistryError

    try:
        return parse_reference(text)
    except RegistryError as exc:
        raise UsageError(f"invalid image name {text!r}: {exc}") from None
