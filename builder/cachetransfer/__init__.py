"""Cache export and import for CI (``--cache-to`` / ``--cache-from``).

``builder.commands.building`` calls, in this order::

    cache_to, cache_from = parse_cache_options(options)   # before the build: typos fail early
    import_cache(services, cache_from)                    # warnings only
    ... build ...
    export_cache(services, cache_to, final_diff_ids)      # also after a failed build (None)

and ``builder.image.export`` calls ``inline.with_inline_cache`` when ``--cache-to type=inline``.
A cache is one manifest (see ``document``), built as a ``bundle``, kept in an OCI layout
directory (``ocidir``) or pushed to a registry (``registry``); ``inline`` puts the records
of an image's own steps in its config.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from builder.lazy import lazy_exports

if TYPE_CHECKING:
    from builder.cachetransfer.exporting import export_cache
    from builder.cachetransfer.flags import add_cache_arguments
    from builder.cachetransfer.importing import import_cache
    from builder.cachetransfer.selection import select_records
    from builder.cachetransfer.specs import CacheSpec, TransferReport, parse_cache_options, parse_cache_specs

# Loaded on first use: declaring the build flags must not import the exporter (and the runtime).
_EXPORTS: dict[str, str] = {
    "add_cache_arguments": "builder.cachetransfer.flags",
    "export_cache": "builder.cachetransfer.exporting",
    "import_cache": "builder.cachetransfer.importing",
    "select_records": "builder.cachetransfer.selection",
    "CacheSpec": "builder.cachetransfer.specs",
    "TransferReport": "builder.cachetransfer.specs",
    "parse_cache_options": "builder.cachetransfer.specs",
    "parse_cache_specs": "builder.cachetransfer.specs",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
