"""The build context: a directory seen through its ``.dockerignore``, with cached content hashes.

``BuildContext.digest_of(paths)`` is the content checksum a COPY cache key needs:
a sha256 over the sorted records ``(relpath, type, mode & 0o7777, link target,
sha256 of content)`` of the given paths and everything below them. Like BuildKit,
uid/gid do not count (the client sends every file as 0:0) and neither do mtimes;
permission bits, setuid/setgid/sticky included, do, unless ``normalize_modes`` (the
``cache.normalize-modes`` setting) hashes them as umask 022 would have made them, so that
checkouts under different umasks share cache. Only the key changes: COPY copies the real modes.
"""
from __future__ import annotations

import bisect
import hashlib
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from builder.context.hashes import StatCache, now_ns, sha256_files
from builder.context.walk import DIRECTORY, FILE, SPECIAL, SYMLINK, ContextEntry, Signature, walk_context
from builder.copy.errors import SourceNotFoundError
from builder.copy.sources import SourceRoot
from grammar import PatternMatcher, find_ignore_file, read_ignore_file

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class BuildContext:
    """One build's context directory. Scanned once, on first use (``rescan`` to refresh)."""

    def __init__(self, root: str | os.PathLike[str], ignore_patterns: Sequence[str] = (),
                 cache_dir: str | os.PathLike[str] | None = None, *, normalize_modes: bool = False) -> None:
        self.root = os.path.realpath(root)
        self.normalize_modes = normalize_modes  # hash modes as umask 022 would have made them
        self.ignore_patterns = tuple(ignore_patterns)
        self._matcher = PatternMatcher(self.ignore_patterns) if self.ignore_patterns else None
        self._cache = StatCache(_cache_file(Path(cache_dir), self.root) if cache_dir is not None else None)
        self._entries: dict[str, ContextEntry] | None = None
        self._sorted: list[str] = []
        self._root_signature: Signature | None = None
        self._records: dict[str, str] = {}  # relpath -> its record in digest_of, for this scan
        self._lock = threading.RLock()  # stages built in parallel share the context: one scan, one stat cache

    @classmethod
    def load(cls, root: str | os.PathLike[str], dockerfile_path: Path | None = None,
             cache_dir: str | os.PathLike[str] | None = None, *, normalize_modes: bool = False) -> BuildContext:
        """The context at ``root`` with the ignore file BuildKit would pick for ``dockerfile_path``."""
        ignore_file = find_ignore_file(Path(root), dockerfile_path)
        patterns = read_ignore_file(ignore_file) if ignore_file is not None else []
        return cls(root, patterns, cache_dir, normalize_modes=normalize_modes)

    @property
    def entries(self) -> Mapping[str, ContextEntry]:
        """Every path the ignore file keeps, by slash-separated relative path."""
        with self._lock:
            if self._entries is None:
                self.rescan()
        assert self._entries is not None
        return self._entries

    def rescan(self) -> None:
        with self._lock:
            self._root_signature = _signature(self.root)  # before the walk: a change during it shows later
            entries = walk_context(self.root, self._matcher)
            self._sorted = sorted(entries)
            self._entries = entries
            self._records = {}

    def source(self) -> SourceRoot:
        """What COPY reads from: the directory, filtered by the ignore file, files owned by 0:0."""
        included = self.entries if self._matcher is not None else None
        return SourceRoot(self.root, included=included, from_context=True, name="context")

    def digest_of(self, paths: Iterable[str]) -> str:
        """``sha256:<hex>`` over the records of ``paths`` (relative; ``""`` is the whole context)."""
        records = self._records_of(self._select(paths))
        return "sha256:" + hashlib.sha256("".join(records).encode("utf-8", "surrogateescape")).hexdigest()

    def fingerprints(self, paths: Iterable[str]) -> dict[str, str]:
        """Per covered path, a short digest of what ``digest_of`` hashes for it (type, mode, content).

        Two builds' fingerprints tell which files made a COPY's ``digest_of`` differ.
        """
        selected = self._select(paths)
        sha256 = hashlib.sha256
        return {relpath: sha256(record.encode("utf-8", "surrogateescape")).hexdigest()[:16]
                for relpath, record in zip(selected, self._records_of(selected))}

    def _records_of(self, selected: list[str]) -> list[str]:
        """The records of ``selected``, made once per scan (``fingerprints`` asks again what ``digest_of`` hashed)."""
        with self._lock:
            known = self._records
            missing = [relpath for relpath in selected if relpath not in known]
            if missing:
                entries = self.entries
                digests = self._file_digests([relpath for relpath in missing if entries[relpath].kind == FILE])
                normalize = self.normalize_modes
                for relpath in missing:
                    known[relpath] = _record(relpath, entries[relpath], digests, normalize)
            return [known[relpath] for relpath in selected]

    def known_digest(self, relpath: str, st: os.stat_result) -> str | None:
        """The sha256 this build hashed for file ``relpath``, if ``st`` (an lstat now) shows it unchanged since."""
        entry = (self._entries if self._entries is not None else self.entries).get(relpath)
        if entry is None or entry.kind != FILE:
            return None
        signature = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)
        if signature != entry.signature:
            return None
        # Asked once per copied file: no lock, a dict read sees a concurrent store's old or new entry.
        return self._cache.lookup(relpath, signature)

    def walked_signature(self, relpath: str) -> Signature | None:
        """The stat signature ``relpath`` (``""``: the root) had when the context was scanned."""
        entries = self.entries
        if not relpath:
            return self._root_signature
        entry = entries.get(relpath)
        return entry.signature if entry is not None else None

    def covered_paths(self, paths: Iterable[str]) -> list[str]:
        """The relative paths ``digest_of(paths)`` reads: the paths and everything below them."""
        return self._select(paths)

    def _select(self, paths: Iterable[str]) -> list[str]:
        entries = self.entries
        chosen: set[str] = set()
        for raw in paths:
            relpath = "/".join(part for part in raw.split("/") if part and part != ".")
            if not relpath:
                return self._sorted
            found = entries.get(relpath)
            if found is None:
                raise SourceNotFoundError("/" + relpath)
            chosen.add(relpath)
            if found.kind == DIRECTORY:
                prefix = relpath + "/"
                start = bisect.bisect_left(self._sorted, prefix)
                for candidate in self._sorted[start:]:
                    if not candidate.startswith(prefix):
                        break
                    chosen.add(candidate)
        return sorted(chosen)

    def _file_digests(self, relpaths: list[str]) -> dict[str, str]:
        """Content sha256 of files, from the stat cache or hashed now (called with the lock held)."""
        entries = self.entries
        digests: dict[str, str] = {}
        missing: list[str] = []
        for relpath in relpaths:
            cached = self._cache.lookup(relpath, entries[relpath].signature)
            if cached is None:
                missing.append(relpath)
            else:
                digests[relpath] = cached
        if missing:
            started = now_ns()
            for relpath, digest in sha256_files(self.root, missing).items():
                self._cache.store(relpath, entries[relpath].signature, digest, started)
                digests[relpath] = digest
            self._cache.forget_missing(entries)
            self._cache.save()
        return digests


def _record(relpath: str, entry: ContextEntry, digests: Mapping[str, str], normalize_modes: bool = False) -> str:
    if entry.kind == SYMLINK:
        return f"{relpath}\0l\0777\0{entry.link_target}\0\n"  # BuildKit forces link perms to 0777
    perm = umask_022_mode(entry.mode) if normalize_modes else entry.mode & 0o7777
    if entry.kind == DIRECTORY:
        return f"{relpath}\0d\0{perm:o}\0\0\n"
    digest = _EMPTY_SHA256 if entry.kind == SPECIAL else digests[relpath]
    return f"{relpath}\0f\0{perm:o}\0\0{digest}\n"


def umask_022_mode(mode: int) -> int:
    """``mode`` as a checkout under umask 022 would have it: special and owner bits kept, group and
    other get read, plus execute if anyone had it (0664 and 0600 -> 0644; 0775 and 0700 -> 0755)."""
    executable = 0o011 if mode & 0o111 else 0
    return (mode & 0o7700) | 0o044 | executable


def _signature(path: str) -> Signature | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


def _cache_file(cache_dir: Path, root: str) -> Path:
    key = hashlib.sha256(root.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return cache_dir / "context-stat" / f"{key}.marshal"
