"""What changed between a lower tree and an upper tree, as a sorted list of ``Change``s.

Two sources, one scanner:

* an **overlay upperdir** (``full=False``): only what is in the upperdir can have changed. A char
  device 0:0 (or, on kernels >= 6.7, a zero-size file with ``*.overlay.whiteout``) is a deletion; a
  directory with ``trusted.overlay.opaque`` / ``user.overlay.opaque`` = ``y`` replaces the lower one.
  Cost: the size of the upperdir, not of the image.
* a **full copy** (native snapshots, ``full=True``): both trees are walked; a name missing from the
  upper is a deletion.

Entries also present in the lower with the same type, mode, owner, size, mtime, link target, device
number and ``security.capability`` are *false changes* (copy-ups by ``mv a b; mv b a``, ``touch`` with the
same time, ...) and are dropped. A file in an upperdir was copied up for a reason, so there its content
is compared too: ``mv y x`` over a file with the same size and mtime is a real change. In a full walk
that would read every byte of the image, so there content is compared only when mtimes are whole
seconds (BuildKit's ``sameDirent`` rule); a rename over a file with identical size, owner, mode and
nanosecond mtime is missed there, as by containerd's walking differ. Whiteouts are classified before hardlinks are looked at, because on this kernel all
whiteouts of a mount share one inode. If any name of a hardlinked inode changed, every name is kept so
the link survives. Directories are kept when they changed or anything below them is kept.

Order: depth first; in each directory the opaque marker first, then deletions, then entries by name.
"""
from __future__ import annotations

import enum
import filecmp
import os
import stat
from dataclasses import dataclass
from typing import Protocol

OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
WHITEOUT_XATTRS = ("trusted.overlay.whiteout", "user.overlay.whiteout")
CAPABILITY_XATTR = "security.capability"


class ChangeKind(enum.Enum):
    ADD = "add"            # added or modified: written in full
    DELETE = "delete"      # written as .wh.<name>
    OPAQUE = "opaque"      # written as <dir>/.wh..wh..opq


@dataclass(slots=True)
class Change:
    path: str                        # relative to the root, no leading slash
    kind: ChangeKind
    source: str | None = None        # host path of the new content (ADD only)
    stat: os.stat_result | None = None
    changed: bool = True             # False: an unchanged hardlink name, kept only for its group


def _xattr(path: str, name: str) -> bytes | None:
    # Listing first: most files have no extended attributes at all, and an empty list costs half
    # of a getxattr that fails (Python builds an OSError for every ENODATA).
    try:
        if name not in os.listxattr(path, follow_symlinks=False):
            return None
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None


def capability(path: str) -> bytes | None:
    """The ``security.capability`` of ``path`` (not followed when it is a symlink), or None."""
    return _xattr(path, CAPABILITY_XATTR)


def is_whiteout(path: str, st: os.stat_result) -> bool:
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return True
    return stat.S_ISREG(st.st_mode) and st.st_size == 0 and any(_xattr(path, x) is not None for x in WHITEOUT_XATTRS)


def is_opaque(path: str) -> bool:
    return any(_xattr(path, name) == b"y" for name in OPAQUE_XATTRS)


class LowerTree(Protocol):
    def lookup(self, rel: str) -> tuple[os.stat_result, str] | None:
        """(lstat, host path) of ``rel`` in the lower tree, or None if it does not exist there."""

    def names(self, rel_dir: str) -> set[str]:
        """Names in lower directory ``rel_dir`` (only asked for directories ``lookup`` found)."""


class EmptyLower:
    def lookup(self, rel: str) -> tuple[os.stat_result, str] | None:
        return None

    def names(self, rel_dir: str) -> set[str]:
        return set()


class LayeredLower:
    """The merged view of overlay lowerdirs (topmost first), resolved without mounting them."""

    def __init__(self, layers: tuple[str, ...]) -> None:
        self.layers = layers
        self._dirs: dict[str, list[int] | None] = {"": list(range(len(layers)))}

    def _dir_layers(self, rel_dir: str) -> list[int] | None:
        """Layers that contribute to directory ``rel_dir``, or None when it is not a directory."""
        if rel_dir in self._dirs:
            return self._dirs[rel_dir]
        parent = self._dir_layers(os.path.dirname(rel_dir))
        found: list[int] = []
        for index in parent or []:
            path = os.path.join(self.layers[index], rel_dir)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                break  # a whiteout or a non-directory hides everything below
            found.append(index)
            if is_opaque(path):
                break
        self._dirs[rel_dir] = found or None
        return self._dirs[rel_dir]

    def lookup(self, rel: str) -> tuple[os.stat_result, str] | None:
        for index in self._dir_layers(os.path.dirname(rel)) or []:
            path = os.path.join(self.layers[index], rel)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            return None if is_whiteout(path, st) else (st, path)
        return None

    def names(self, rel_dir: str) -> set[str]:
        names: set[str] = set()
        hidden: set[str] = set()
        for index in self._dir_layers(rel_dir) or []:
            directory = os.path.join(self.layers[index], rel_dir)
            for entry in os.scandir(directory):
                if entry.name in names or entry.name in hidden:
                    continue
                if is_whiteout(entry.path, entry.stat(follow_symlinks=False)):
                    hidden.add(entry.name)
                else:
                    names.add(entry.name)
        return names


class PlainLower(LayeredLower):
    """A single ordinary directory tree (a native snapshot or a mounted view)."""

    def __init__(self, root: str) -> None:
        super().__init__((root,))


def _same(new: os.stat_result, new_path: str, old: os.stat_result, old_path: str, compare_content: bool) -> bool:
    if (new.st_mode, new.st_uid, new.st_gid, new.st_mtime_ns) != (old.st_mode, old.st_uid, old.st_gid, old.st_mtime_ns):
        return False
    if stat.S_ISLNK(new.st_mode):
        return os.readlink(new_path) == os.readlink(old_path)
    if stat.S_ISCHR(new.st_mode) or stat.S_ISBLK(new.st_mode):
        return new.st_rdev == old.st_rdev
    if capability(new_path) != capability(old_path):
        return False
    if stat.S_ISREG(new.st_mode):
        if new.st_size != old.st_size:
            return False
        if compare_content or new.st_mtime_ns % 1_000_000_000 == 0:
            return filecmp.cmp(new_path, old_path, shallow=False)
    return True


def scan(upper: str, lower: LowerTree, full: bool) -> list[Change]:
    """The changes that turn ``lower`` into ``upper`` (see the module docstring)."""
    found: list[Change] = []
    _scan_directory(upper, "", lower, full, hidden=False, found=found)
    _keep_whole_hardlink_groups(found)
    return _with_needed_parents(found)


def _scan_directory(upper: str, rel_dir: str, lower: LowerTree, full: bool, hidden: bool, found: list[Change]) -> None:
    entries = sorted(os.scandir(os.path.join(upper, rel_dir)), key=lambda e: os.fsencode(e.name))
    present: list[tuple[os.DirEntry[str], os.stat_result]] = []
    deleted: list[str] = []
    for entry in entries:
        st = entry.stat(follow_symlinks=False)
        if is_whiteout(entry.path, st):  # before any hardlink logic: whiteouts share one inode
            deleted.append(entry.name)
        elif not stat.S_ISSOCK(st.st_mode):
            present.append((entry, st))
    if full and not hidden:
        deleted = sorted(lower.names(rel_dir) - {entry.name for entry, _ in present}, key=os.fsencode)
    for name in deleted:
        rel = os.path.join(rel_dir, name)
        if not hidden and lower.lookup(rel) is not None:
            found.append(Change(rel, ChangeKind.DELETE))
    for entry, st in present:
        rel = os.path.join(rel_dir, entry.name)
        old = None if hidden else lower.lookup(rel)
        changed = old is None or not _same(st, entry.path, *old, compare_content=not full)
        found.append(Change(rel, ChangeKind.ADD, entry.path, st, changed))
        if stat.S_ISDIR(st.st_mode):
            opaque = not full and is_opaque(entry.path)
            lower_is_dir = old is not None and stat.S_ISDIR(old[0].st_mode)
            if opaque and lower_is_dir:
                found.append(Change(rel, ChangeKind.OPAQUE))
            _scan_directory(upper, rel, lower, full, hidden or opaque or not lower_is_dir, found)


def _keep_whole_hardlink_groups(found: list[Change]) -> None:
    # Only unchanged names can be affected, so no group lists are built: after a context COPY
    # re-run every file is a hardlink to the previous snapshot, each its own one-name group.
    changed_inodes: set[tuple[int, int]] = set()
    unchanged: list[Change] = []
    for change in found:
        st = change.stat
        if st is not None and st.st_nlink > 1 and stat.S_ISREG(st.st_mode):
            if change.changed:
                changed_inodes.add((st.st_dev, st.st_ino))
            else:
                unchanged.append(change)
    for change in unchanged:
        st = change.stat
        assert st is not None
        if (st.st_dev, st.st_ino) in changed_inodes:
            change.changed = True


def _with_needed_parents(found: list[Change]) -> list[Change]:
    needed: set[str] = set()
    for change in found:
        if change.changed:
            # an opaque marker lives inside its directory, so that directory itself is needed
            parent = change.path if change.kind is ChangeKind.OPAQUE else os.path.dirname(change.path)
            while parent and parent not in needed:
                needed.add(parent)
                parent = os.path.dirname(parent)
    result = []
    for change in found:
        if change.changed or change.path in needed:
            change.changed = True
            result.append(change)
    return result
