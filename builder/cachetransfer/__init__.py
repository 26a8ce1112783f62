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

import argparse
from typing import TYPE_CHECKING, Any

from builder.cachetransfer.flags import add_cache_arguments

if TYPE_CHECKING:
    from builder.cachetransfer.exporting import export_cache
    from builder.cachetransfer.importing import import_cache
    from builder.cachetransfer.selection import select_records
    from builder.cachetransfer.specs import CacheSpec, TransferReport, parse_cache_specs

# Loaded on first use: declaring the build flags must not import the exporter (and the runtime).
_LAZY = {"export_cache": "exporting", "select_records": "selection", "import_cache": "importing",
         "CacheSpec": "specs", "TransferReport": "specs", "parse_cache_specs": "specs"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'builder.cachetransfer' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"builder.cachetransfer.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def parse_cache_options(options: argparse.Namespace) -> tuple[tuple[CacheSpec, ...], tuple[CacheSpec, ...]]:
    """(--cache-to specs, --cache-from specs) from the parsed build flags."""
    from builder.cachetransfer.specs import parse_cache_specs

    return (parse_cache_specs(getattr(options, "cache_to", []) or [], export=True),
            parse_cache_specs(getattr(options, "cache_from", []) or [], export=False))


__all__ = [
    "CacheSpec",
    "TransferReport",
    "add_cache_arguments",
    "export_cache",
    "import_cache",
    "parse_cache_options",
    "parse_cache_specs",
    "select_records",
]
