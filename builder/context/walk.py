"""Walk a build context, applying ``.dockerignore`` the way fsutil's sender does.

An excluded directory is pruned unless some ``!`` pattern may re-include
something inside it (``PatternMatcher.may_contain_included``); such a directory
is kept only as the parent of what gets re-included. Paths are slash-separated
and relative to the context root. One ``lstat`` per entry (``os.scandir``),
nothing is read: content hashing is ``builder.context.hashes``'s job.
"""
from __future__ import annotations

import os
import stat
from typing import NamedTuple

from builder.copy.errors import ContextError
from grammar import PatternMatcher

# Stat fields that change whenever content may have changed (the stat cache key).
Signature = tuple[int, int, int, int, int, int]

FILE, DIRECTORY, SYMLINK, SPECIAL = "f", "d", "l", "s"
_KINDS = {stat.S_IFREG: FILE, stat.S_IFDIR: DIRECTORY, stat.S_IFLNK: SYMLINK}


class ContextEntry(NamedTuple):
    """One path of the context. ``kind``: f(ile), d(irectory), l(ink) or s(pecial).

    BuildKit's client sends sockets as empty regular files and fifos and devices
    without content, so a special entry is hashed as an empty file. A NamedTuple rather than a
    frozen dataclass: it is built 20,000 times per scan and tuple construction
    is several times cheaper, which matters for the warm-rebuild budget.
    """

    kind: str
    mode: int
    size: int
    link_target: str
    signature: Signature


def walk_context(root: str, matcher: PatternMatcher | None) -> dict[str, ContextEntry]:
    """Every path of ``root`` that ``matcher`` (``.dockerignore``) keeps, by relative path."""
    entries: dict[str, ContextEntry] = {}
    kept_for_children: dict[str, ContextEntry] = {}  # excluded dirs walked for a "!" pattern
    use_matcher = matcher is not None and bool(matcher.patterns)
    stack: list[tuple[str, tuple[bool, ...]]] = [("", ())]
    while stack:
        directory, parent_matches = stack.pop()
        try:
            scanner = os.scandir(os.path.join(root, directory) if directory else root)
        except OSError as error:
            raise ContextError(f"cannot read build context directory {directory or '.'}: {error.strerror}") from None
        with scanner:
            for item in scanner:
                relpath = f"{directory}/{item.name}" if directory else item.name
                st = item.stat(follow_symlinks=False)
                is_dir = stat.S_ISDIR(st.st_mode)
                matches: tuple[bool, ...] = ()
                if use_matcher:
                    assert matcher is not None
                    excluded, matches = matcher.matches_with_parent(relpath, parent_matches)
                    if excluded:
                        if is_dir and matcher.may_contain_included(relpath):
                            kept_for_children[relpath] = _entry(item.path, st)
                            stack.append((relpath, matches))
                        continue
                entries[relpath] = _entry(item.path, st)
                if is_dir:
                    stack.append((relpath, matches))
    if kept_for_children:
        _add_needed_parents(entries, kept_for_children)
    return entries


def _entry(path: str, st: os.stat_result) -> ContextEntry:
    mode = st.st_mode
    signature = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, mode)
    kind = _KINDS.get(stat.S_IFMT(mode))
    if kind is FILE:
        return ContextEntry(FILE, mode, st.st_size, "", signature)
    if kind is DIRECTORY:
        return ContextEntry(DIRECTORY, mode, 0, "", signature)
    if kind is SYMLINK:
        return ContextEntry(SYMLINK, mode, 0, os.readlink(path), signature)
    return ContextEntry(SPECIAL, stat.S_IFREG | stat.S_IMODE(mode), 0, "", signature)


def _add_needed_parents(entries: dict[str, ContextEntry], candidates: dict[str, ContextEntry]) -> None:
    """Keep an excluded directory when something below it was re-included."""
    for relpath in list(entries):
        parent = relpath.rpartition("/")[0]
        while parent and parent not in entries and parent in candidates:
            entries[parent] = candidates[parent]
            parent = parent.rpartition("/")[0]
