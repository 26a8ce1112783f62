"""Which paths below a copied root a COPY takes: ``--exclude`` and the ``--parents`` include pattern.

One set of rules for the copy (``builder.copy.tree``) and for the checksum of what it reads
(``builder.copy.source_digest``): were they to differ, a ``COPY --from`` could hit the cache for
files it would not copy, or miss it for files it never reads.
"""
from __future__ import annotations

from grammar import PatternMatcher, record

ParentMatches = tuple[bool, ...]  # PatternMatcher.matches_with_parent's memo of a directory, for its children


@record
class PathFilter:
    """fsutil's include/exclude filters, matched on the path below the copied root ("" is the root itself)."""

    include: PatternMatcher | None = None
    exclude: PatternMatcher | None = None

    def admits(self, below: str, include_info: ParentMatches,
               exclude_info: ParentMatches) -> tuple[bool, ParentMatches, ParentMatches]:
        """(whether ``below`` is taken, the memos to pass to its children); the root is always taken."""
        if not below:
            return True, include_info, exclude_info
        taken = True
        if self.include is not None:
            taken, include_info = self.include.matches_with_parent(below, include_info)
        if self.exclude is not None:
            excluded, exclude_info = self.exclude.matches_with_parent(below, exclude_info)
            taken = taken and not excluded
        return taken, include_info, exclude_info

    def may_take_below(self, directory: str) -> bool:
        """Whether a directory that is not taken itself must still be walked: something below may be.

        Without ``!`` patterns everything below an excluded directory is excluded too. A directory
        walked this way appears in the result only if something below it does (fsutil creates it lazily).
        """
        exclude = self.exclude
        return exclude is None or exclude.has_exceptions or not exclude.matches(directory)
