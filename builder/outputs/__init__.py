"""Where a built image goes besides the local store: ``--output`` and ``--push``.

- ``parse_output(text) -> OutputSpec``: one ``-o`` value, parsed as buildx does (spec.py);
- ``export_output(root, manifest_descriptor, spec, tags) -> ExportResult`` (exporters.py):
  ``type=oci`` (layout tar or directory), ``type=docker`` (docker-archive, layout.py),
  ``type=local`` / ``type=tar`` (the root filesystem, rootfs.py), ``type=image[,push=true]``;
- ``add_output_arguments(parser)`` and ``apply_outputs(options, root, exported_image)`` for
  ``pybuild build`` (flags.py), which also writes ``--metadata-file``.

Layers leave the machine compressed (convert.py, builder.image.compression) and archives are
byte-identical for the same image (archive.py). Exports are loaded lazily (PEP 562) so
declaring the flags costs ``pybuild build`` nothing at start-up.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from builder.lazy import lazy_exports

if TYPE_CHECKING:
    from builder.outputs.exporters import ExportResult, export_output
    from builder.outputs.flags import add_output_arguments, apply_outputs, build_metadata, parse_outputs
    from builder.outputs.spec import OutputSpec, parse_output

_EXPORTS: dict[str, str] = {
    "ExportResult": "builder.outputs.exporters",
    "export_output": "builder.outputs.exporters",
    "add_output_arguments": "builder.outputs.flags",
    "apply_outputs": "builder.outputs.flags",
    "build_metadata": "builder.outputs.flags",
    "parse_outputs": "builder.outputs.flags",
    "OutputSpec": "builder.outputs.spec",
    "parse_output": "builder.outputs.spec",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
