"""The build context: the local directory a build reads, and the contexts that become one.

- ``local``: ``BuildContext``, a directory seen through its ``.dockerignore``, with content digests;
- ``walk``: the ``.dockerignore``-aware walk (fsutil's sender);
- ``hashes``: content hashes with a persistent stat cache, so unchanged files are not re-read;
- ``fetch``: ``-`` (a tar on stdin), git and http(s) contexts, turned into a temporary directory;
- ``named``: ``--build-context NAME=VALUE``, which replaces a stage or image wherever it is named.

Exports load on first use (``builder.lazy``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from builder.lazy import lazy_exports

if TYPE_CHECKING:
    from builder.context.fetch import prepared_context
    from builder.context.local import BuildContext
    from builder.context.named import NamedContext, NamedContextResolver, parse_build_contexts

_EXPORTS: dict[str, str] = {
    "prepared_context": "builder.context.fetch",
    "BuildContext": "builder.context.local",
    "NamedContext": "builder.context.named",
    "NamedContextResolver": "builder.context.named",
    "parse_build_contexts": "builder.context.named",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
