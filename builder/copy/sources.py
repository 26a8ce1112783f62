"""Where COPY reads from and which paths a source word selects (BuildKit ``docopy`` + fsutil ``ResolveWildcards``).

A ``SourceRoot`` is a directory: the build context (filtered by ``.dockerignore``,
files owned by 0:0) or another stage's / image's rootfs (``--from``, unfiltered,
owners kept). A source word is cleaned and clamped to the root (``../x`` is
``/x``); the top-level path is followed through symlinks inside the root
(``FollowSymlinks``). A wildcard word walks below its literal prefix without
following symlinks, matching the rest with Go ``filepath.Match``; a matched
directory is not descended into. No match is fine (``AllowEmptyWildcard``); a
missing literal path is ``SourceNotFoundError``.
"""
from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Container

from builder.copy.errors import SourceNotFoundError
from builder.copy.scoped_path import resolve_components
from builder.copy.wildcards import go_match, split_wildcards
from grammar import PatternMatcher, record


@record
class SourceRoot:
    path: str  # host directory
    included: Container[str] | None = None  # relative paths .dockerignore keeps; None: everything
    from_context: bool = False  # context files arrive as 0:0 and sockets as empty files
    name: str = "context"  # how error messages name the source

    def visible(self, relpath: str) -> bool:
        return self.included is None or relpath == "" or relpath in self.included

    def lstat(self, relpath: str) -> os.stat_result | None:
        if not self.visible(relpath):
            return None
        try:
            return os.lstat(self.host(relpath))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def host(self, relpath: str) -> str:
        if not relpath:
            return self.path
        # Asked several times per copied file: plain concatenation costs a fraction of os.path.join.
        return self.path + relpath if self.path.endswith("/") else f"{self.path}/{relpath}"

    def names(self, relpath: str) -> list[str]:
        """The visible names in directory ``relpath``, sorted like Go's ``os.ReadDir``."""
        prefix = relpath + "/" if relpath else ""
        return sorted(name for name in os.listdir(self.host(relpath)) if self.visible(prefix + name))


@record
class SelectedSource:
    """One path to copy: ``relpath`` after following symlinks, ``name`` as matched (for ``dest/name``)."""

    relpath: str
    name: str
    st: os.stat_result


def clean_source(word: str) -> str:
    """``/`` + the cleaned word; ``..`` cannot climb above the root, a trailing slash is dropped."""
    return posixpath.normpath("/" + word)


def select_sources(root: SourceRoot, word: str, *, follow: bool = True, wildcards: bool = True) -> list[SelectedSource]:
    """The paths ``word`` selects in ``root`` (empty for an unmatched wildcard)."""
    cleaned = clean_source(word)
    head, rest = split_wildcards(cleaned) if wildcards else (cleaned, "")
    if not rest:
        found = _follow(root, cleaned, follow)
        if found is None:
            raise SourceNotFoundError(cleaned, root.name)
        return [found]
    base = _follow(root, head, True)
    if base is None or not stat.S_ISDIR(base.st.st_mode):
        raise SourceNotFoundError(head, root.name)
    return [found for relpath in _match_below(root, base.relpath, rest)
            if (found := _follow(root, relpath, follow)) is not None]


def _follow(root: SourceRoot, path: str, follow: bool) -> SelectedSource | None:
    relpath = "/".join(resolve_components(root.path, path, follow_final=follow))
    st = root.lstat(relpath)
    if st is None:
        return None
    name = posixpath.basename(path.rstrip("/")) or "/"
    return SelectedSource(relpath, name, st)


def _match_below(root: SourceRoot, base: str, pattern: str) -> list[str]:
    """``filepath.Walk(base)`` collecting paths whose path below ``base`` matches ``pattern``."""
    depth_limit = pattern.count("/") + 1  # "*" never crosses "/": deeper paths cannot match
    matches: list[str] = []

    def walk(directory: str, below: str, depth: int) -> None:
        for name in root.names(directory):
            relative = f"{below}/{name}" if below else name
            relpath = f"{directory}/{name}" if directory else name
            if go_match(pattern, relative):
                matches.append(relpath)
                continue
            if depth < depth_limit:
                st = root.lstat(relpath)
                if st is not None and stat.S_ISDIR(st.st_mode):
                    walk(relpath, relative, depth + 1)

    walk(base, "", 1)
    return matches


@record
class ParentsSelection:
    """``COPY --parents``: copy ``directory`` keeping only ``pattern`` (relative to it)."""

    directory: str
    pattern: str
    required: str | None  # a literal path that must exist


@record
class WordSelection:
    """What one source word reads: the paths it selects and, with ``--parents``, the pattern kept below them."""

    found: tuple[SelectedSource, ...]
    include: PatternMatcher | None = None


def select_word(root: SourceRoot, word: str, *, parents: bool = False, wildcards: bool = True) -> WordSelection:
    """The paths a COPY of ``word`` reads, for the copy and for the checksum of what it reads alike."""
    if not parents:
        return WordSelection(tuple(select_sources(root, word, wildcards=wildcards)))
    chosen = parents_selection(word)
    if chosen.required is not None:
        select_sources(root, chosen.required, wildcards=False)  # a missing literal path fails the copy here
    return WordSelection(tuple(select_sources(root, chosen.directory)), PatternMatcher([chosen.pattern]))


def parents_selection(word: str) -> ParentsSelection:
    """Split at the ``/./`` pivot; without one the structure is kept from the root."""
    directory, pivot, pattern = word.partition("/./")
    if not pivot:
        directory, pattern = "/", word
    pattern = clean_source(pattern).lstrip("/")
    directory = clean_source(directory)
    literal = split_wildcards(directory)[1] == "" and split_wildcards("/" + pattern)[1] == ""
    return ParentsSelection(directory, pattern, posixpath.join(directory, pattern) if literal else None)
