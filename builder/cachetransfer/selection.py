"""Which of this build's cache records an export sends."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from builder.cache.index import CacheRecord


def select_records(used: Mapping[str, CacheRecord], mode: str,
                   final_diff_ids: Sequence[object] | None) -> list[tuple[str, CacheRecord]]:
    """mode=max: every step used; mode=min: the steps of the final image (walked back by parent key),
    with the fast keys (``CacheRecord.content_key``) that name them, so an importer hits without
    reading a ``--from`` source's files.

    Sorted by key: the same steps give the same bytes whatever order stages finished in,
    which an inline cache needs (it is part of the image ID).
    """
    if mode == "max" or final_diff_ids is None:
        return sorted(used.items())
    final = tuple(str(digest) for digest in final_diff_ids)
    last = next((key for key in reversed(used) if used[key].chain == final and not used[key].content_key), None)
    wanted: set[str] = set()
    while last is not None and last in used and last not in wanted:
        wanted.add(last)
        last = used[last].parent
    return sorted((key, record) for key, record in used.items() if key in wanted or record.content_key in wanted)
