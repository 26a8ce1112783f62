"""Content checksums of what a ``COPY --from`` (or a ``RUN --mount`` from a stage) reads.

BuildKit keys a FileOp copy from another input on the *content* of the selected paths
(``cache/contenthash``), not on how that input was made: a source stage that runs again
and yields the same files leaves the copy, and everything after it, cached.

``selection_digest`` hashes, per source word, what the copy would read: the paths the
word selects (wildcards, top-level symlinks followed, as ``builder.copy.sources``), each
with its whole tree below, filtered by ``--exclude`` and the ``--parents`` pattern as
``builder.copy.tree`` filters the copy. A record holds the path below the selected root,
the type, permission bits, uid, gid, symlink target, device numbers, xattrs (BuildKit's
set: no ``security.*`` but ``security.capability``, no ``system.*``) and the content's
sha256. Times (mtime, ctime, atime) and inode numbers never count, so a byte-identical
rebuild matches.

Hashing a large source is paid once per filesystem: ``SelectionDigests`` remembers each
digest under the source's layer chain (diff_ids name content, so a chain that is seen
again holds the same files; ``pybuild cache prune`` drops the memos of chains no cache
record or image holds any more: ``builder.cache.selections``), and ``FileDigests``
remembers file contents by inode, size and times, so the files an unchanged lower layer
provides are not read again when only an upper layer changed.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from builder.context.hashes import StatCache, now_ns, sha256_files
from builder.copy.filters import ParentMatches, PathFilter
from builder.copy.sources import SourceRoot, select_word
from builder.layers import chain_id
from grammar import PatternMatcher, record
from registry_client import Digest

_ENTRY_LIMIT = 200_000  # file-content entries kept on disk before the table starts over (~25 MB)
_EMPTY = "sha256:" + hashlib.sha256(b"").hexdigest()


@record
class Selection:
    """What one instruction reads from a source: its words and the filters applied below them."""

    words: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    parents: bool = False
    wildcards: bool = True  # False for a RUN --mount source, which is a plain path

    def material(self) -> dict[str, object]:
        return {"words": list(self.words), "exclude": list(self.exclude), "parents": self.parents,
                "wildcards": self.wildcards}


@record
class _Node:
    relpath: str  # in the source root (what to lstat / read)
    below: str  # the path below the selected root ("" for the root itself): what the record names
    st: os.stat_result


class FileDigests:
    """sha256 of regular files in snapshot views, remembered by (inode, size, mtime, ctime, mode).

    All snapshots live on one filesystem and overlayfs reports a file's own inode, so a file a
    lower layer holds keeps its signature in every view that shows it. The device number is left
    out: each mount of a view gets a new one.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._table: StatCache | None = None  # loaded on first use: most builds never hash a --from source

    def digests(self, root: str, nodes: Sequence[_Node]) -> dict[str, str]:
        if self._table is None:
            self._table = StatCache(self._path)
            if len(self._table) > _ENTRY_LIMIT:
                self._table.clear()
        table = self._table
        found: dict[str, str] = {}
        missing: list[_Node] = []
        for node in nodes:
            cached = table.lookup(node.relpath, _signature(node.st))
            if cached is None:
                missing.append(node)
            else:
                found[node.relpath] = cached
        if missing:
            started = now_ns()
            hashed = sha256_files(root, [node.relpath for node in missing])
            for node in missing:
                table.store(node.relpath, _signature(node.st), hashed[node.relpath], started)
            found.update(hashed)
        return found

    def save(self) -> None:
        """Write the table if this build added to it (``SourceViews.close``, at the end of the build)."""
        if self._table is not None:
            self._table.save()  # writes only if something was added


def _signature(st: os.stat_result) -> tuple[int, int, int, int, int, int]:
    return (0, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


def selection_digest(root: SourceRoot, selection: Selection, files: FileDigests) -> str:
    """``sha256:<hex>`` of everything ``selection`` reads from ``root`` (a missing path raises as the copy would)."""
    exclude = PatternMatcher(selection.exclude) if selection.exclude else None
    parts: list[tuple[str, str, list[_Node]]] = []  # (word, name as matched, nodes)
    for word in selection.words:
        chosen = select_word(root, word, parents=selection.parents, wildcards=selection.wildcards)
        paths = PathFilter(chosen.include, exclude)
        for found in chosen.found:
            parts.append((word, found.name, _walk(root, found.relpath, found.st, paths)))
    if not parts:
        return _EMPTY
    regular = [node for _, _, nodes in parts for node in nodes if stat.S_ISREG(node.st.st_mode)]
    contents = files.digests(root.path, regular)
    digest = hashlib.sha256()
    for word, name, nodes in parts:
        digest.update(f"{word}\0{name}\0{len(nodes)}\n".encode("utf-8", "surrogateescape"))
        for node in nodes:
            digest.update(_record(root, node, contents).encode("utf-8", "surrogateescape"))
    return "sha256:" + digest.hexdigest()


def _walk(root: SourceRoot, relpath: str, st: os.stat_result, paths: PathFilter) -> list[_Node]:
    """The nodes below (and including) ``relpath`` that the copy writes, in sorted order (``TreeCopier``'s rules)."""
    def visit(relpath: str, below: str, st: os.stat_result, include_info: ParentMatches,
              exclude_info: ParentMatches) -> list[_Node]:
        wanted, include_info, exclude_info = paths.admits(below, include_info, exclude_info)
        if not stat.S_ISDIR(st.st_mode):
            return [_Node(relpath, below, st)] if wanted else []
        if not wanted and not paths.may_take_below(below):
            return []
        inner: list[_Node] = []
        prefix = f"{relpath}/" if relpath else ""
        for name in root.names(relpath):
            child = root.lstat(prefix + name)
            if child is not None:
                inner += visit(prefix + name, f"{below}/{name}" if below else name, child, include_info,
                               exclude_info)
        return [_Node(relpath, below, st), *inner] if wanted or inner else []

    return visit(relpath, "", st, (), ())


def _record(root: SourceRoot, node: _Node, contents: dict[str, str]) -> str:
    st = node.st
    mode = st.st_mode
    kind = stat.S_IFMT(mode) >> 12
    perm = 0o777 if stat.S_ISLNK(mode) else stat.S_IMODE(mode)  # as BuildKit: a link's bits never count
    target = os.readlink(root.host(node.relpath)) if stat.S_ISLNK(mode) else ""
    device = f"{os.major(st.st_rdev)},{os.minor(st.st_rdev)}" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else ""
    content = contents.get(node.relpath, "") if stat.S_ISREG(mode) else ""
    xattrs = "" if stat.S_ISLNK(mode) else _xattrs(root.host(node.relpath))
    return f"{node.below}\0{kind:o}\0{perm:o}\0{st.st_uid}\0{st.st_gid}\0{target}\0{device}\0{xattrs}\0{content}\n"


def _xattrs(path: str) -> str:
    """The extended attributes BuildKit's checksum includes, sorted by name, values as hex."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return ""
    kept = sorted(name for name in names if name == "security.capability"
                  or not name.startswith(("security.", "system.")))
    values = []
    for name in kept:
        try:
            values.append(f"{name}={os.getxattr(path, name, follow_symlinks=False).hex()}")
        except OSError:
            continue
    return ",".join(values)


class SelectionDigests:
    """Digests of selections, by (layer chain of the source, selection): one small file each,
    ``<directory>/<chain name>/<key>`` (``chain_name``), so that pruning finds a chain's memos
    without reading them.

    A chain of diff_ids names a filesystem's content, so an entry never goes stale; a source
    seen again (a fully cached build, another instruction reading the same paths) is not
    mounted, let alone read.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._known: dict[str, str] = {}

    def get(self, chain: Sequence[str], key: str) -> str | None:
        if key in self._known:
            return self._known[key]
        try:
            text = (self.directory / chain_name(chain) / key).read_text()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        if not (text.startswith("sha256:") and len(text) == 71):
            return None  # torn by a crash: hash again
        self._known[key] = text
        return text

    def put(self, chain: Sequence[str], key: str, digest: str) -> None:
        self._known[key] = digest
        memos = self.directory / chain_name(chain)
        memos.mkdir(parents=True, exist_ok=True)
        # Written beside the chain directories, dot-named: the leftover sweep finds it if a build dies here.
        temporary = self.directory / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"  # parallel stages
        temporary.write_text(digest)
        os.replace(temporary, memos / key)

    def remove_chains_except(self, kept: Iterable[Sequence[str]]) -> int:
        """Remove the memos of every chain but ``kept`` (and memos of the flat layout before chains); how many.

        The caller holds the store's exclusive lock: no build writes a memo meanwhile.
        """
        names = {chain_name(chain) for chain in kept} | {chain_name(())}
        removed = 0
        for path in self.directory.iterdir() if self.directory.is_dir() else ():
            if path.name.startswith(".") or path.name in names:
                continue  # temp files are the leftover sweep's (a live build may be renaming one)
            if path.is_dir():
                removed += sum(1 for _ in path.iterdir())
                shutil.rmtree(path, ignore_errors=True)
            elif _is_memo_name(path.name):
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def chain_name(chain: Sequence[str]) -> str:
    """The directory of a chain's memos: the hex of its OCI ChainID; ``empty`` for no layers (scratch)."""
    identity = None
    for diff_id in chain:
        identity = chain_id(identity, Digest.parse(diff_id))
    return identity.partition(":")[2] if identity else "empty"


def _is_memo_name(name: str) -> bool:
    return len(name) == 64 and all(char in "0123456789abcdef" for char in name)
