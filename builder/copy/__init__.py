"""COPY and ADD with BuildKit's semantics, and the path rules they share with RUN mounts.

- ``step``: a COPY/ADD step's cache-key material and its run on the active snapshot;
- ``execute``: ``execute_copy(dest_root, request)``, one COPY/ADD into a rootfs directory;
- ``sources``: where a source word reads from and which paths it selects (wildcards, symlinks);
- ``wildcards``: Go's ``filepath.Match`` and fsutil's wildcard helpers;
- ``tree``: fsutil's copier (merge rules, metadata, ``--chmod``);
- ``filters``: ``--exclude`` and ``--parents`` below a copied root, for the copy and its checksum alike;
- ``source_digest`` and ``source_keys``: what a ``--from`` source adds to a cache key (its files' checksum,
  or for the fast key its layers);
- ``dest``: the destination path and the directories it needs;
- ``owners``: ``--chown`` resolved in the destination's ``/etc/passwd`` and ``/etc/group``;
- ``archives``: ADD's local tar detection and safe unpacking;
- ``add_sources`` and ``remote_files``: ADD's URLs (named, checksummed, fetched, revalidated) and git repositories;
- ``scoped_path``: paths resolved inside a root as if it were ``/``;
- ``errors``: COPY/ADD and build-context errors, with BuildKit's wording.

Exports load on first use (``builder.lazy``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from builder.lazy import lazy_exports

if TYPE_CHECKING:
    from builder.copy.errors import ContextError, CopyError
    from builder.copy.execute import CopyRequest, CopyResult, execute_copy
    from builder.copy.scoped_path import resolve_in_root
    from builder.copy.sources import SourceRoot

_EXPORTS: dict[str, str] = {
    "ContextError": "builder.copy.errors",
    "CopyError": "builder.copy.errors",
    "CopyRequest": "builder.copy.execute",
    "CopyResult": "builder.copy.execute",
    "execute_copy": "builder.copy.execute",
    "resolve_in_root": "builder.copy.scoped_path",
    "SourceRoot": "builder.copy.sources",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
