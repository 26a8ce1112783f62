"""The output flags of ``pybuild build`` and what happens to the built image after the build.

``add_output_arguments`` declares ``-o/--output`` (repeatable), ``--push``, ``--compression``
and ``--metadata-file``; ``apply_outputs`` runs the outputs on the image the build stored
and writes buildx's metadata file. Nothing heavy is imported until an output runs.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from builder.events import EventSink
    from builder.image.export import ExportedImage
    from builder.outputs.exporters import ExportResult
    from builder.outputs.spec import OutputSpec


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", dest="outputs", action="append", default=[],
                        metavar="type=TYPE[,dest=PATH]|PATH|-",
                        help="where the result goes (repeatable): type=local|tar|oci|docker|image|registry; "
                             "a bare PATH means type=local,dest=PATH and '-' a rootfs tar on stdout")
    parser.add_argument("--push", action="store_true", help="shorthand for --output=type=image,push=true")
    parser.add_argument("--compression", choices=("gzip", "zstd"), default="gzip",
                        help="layer compression for pushes and oci outputs (default gzip)")
    parser.add_argument("--metadata-file", metavar="FILE", help="write the build result metadata (JSON) to FILE")


def parse_outputs(options: argparse.Namespace) -> list[OutputSpec]:
    """Every output asked for, ``--push`` folded in as buildx does: it turns on ``push`` for
    the image outputs given, or adds one. Call before building so typos fail fast."""
    from builder.outputs.spec import DOCKER, IMAGE, OCI, OutputSpec, parse_output  # imports compression: only when used

    specs = [parse_output(text) for text in getattr(options, "outputs", None) or ()]
    if getattr(options, "push", False):
        images = [s for s in specs if s.type == IMAGE]
        if images:
            specs = [replace(s, attrs=MappingProxyType({**s.attrs, "push": "true"})) if s.type == IMAGE else s
                     for s in specs]
        else:
            specs.append(OutputSpec(IMAGE, None, MappingProxyType({"push": "true"})))
    if getattr(options, "load", False) and not any(s.type == DOCKER and s.dest is None for s in specs):
        # buildx's --load: the image is in the store already; this names it. First, so --metadata-file
        # reports what a -o or --push next to it wrote (the pushed manifest has compressed layers).
        specs.insert(0, OutputSpec(DOCKER))
    if getattr(options, "annotations", None):  # buildx hands every --annotation to every output
        from builder.outputs.annotations import annotation_attributes

        given = annotation_attributes(options.annotations)
        specs = [replace(s, attrs=MappingProxyType({**given, **s.attrs})) for s in specs]
    for spec in specs:
        if spec.type == OCI or (spec.type == DOCKER and spec.dest is not None):
            from builder.outputs.annotations import refuse_index_annotations

            refuse_index_annotations(spec.attrs)
    return specs


def apply_outputs(options: argparse.Namespace, root: Path, result_image: ExportedImage, *,
                  emit: EventSink | None = None) -> dict[str, Any]:
    """Run the outputs on the built image; write ``--metadata-file``; return the metadata."""
    from builder.events import ignore_event
    from builder.outputs.exporters import export_output

    def client_factory() -> Any:
        from builder.registry_settings import load_settings

        return load_settings(root, insecure=tuple(getattr(options, "insecure_registries", None) or ())).client()

    results = [export_output(root, result_image.manifest, spec, result_image.tags, client_factory=client_factory,
                             emit=emit or ignore_event, default_compression=getattr(options, "compression", "gzip"))
               for spec in parse_outputs(options)]
    metadata = build_metadata(result_image, results)
    if getattr(options, "metadata_file", None):
        write_metadata(Path(options.metadata_file), metadata)
    return metadata


def build_metadata(image: ExportedImage, results: list[ExportResult]) -> dict[str, Any]:
    """buildx's ``--metadata-file`` keys: the image as the last image-carrying output wrote
    or pushed it (the local store's manifest when there was none)."""
    from registry_client import parse_reference

    descriptor = image.manifest
    names = list(image.tags)
    for result in results:
        if result.descriptor is not None:
            descriptor = result.descriptor
            names = list(result.names) or names
    metadata: dict[str, Any] = {
        "containerimage.config.digest": image.image_id,
        "containerimage.descriptor": {"mediaType": descriptor.media_type, "digest": str(descriptor.digest),
                                      "size": descriptor.size},
        "containerimage.digest": str(descriptor.digest),
    }
    if names:
        metadata["image.name"] = ",".join(str(parse_reference(name)) for name in names)
    return metadata


def write_metadata(path: Path, metadata: dict[str, Any]) -> None:
    from builder.imagestore.layout import write_file_atomically

    path.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomically(path, json.dumps(metadata, indent=2).encode() + b"\n")
