"""Resolve paths inside a root directory as if it were ``/`` (continuity's ``fs.RootPath``).

Images are full of absolute symlinks (``/app -> /srv/app``, ``/lib -> usr/lib``).
Following them on the host would write outside the rootfs, so every path is
walked component by component: a symlink's target is spliced back in, absolute
targets restart at the root and ``..`` never climbs above it. Components that do
not exist are kept as they are, so the result can be created with plain mkdir.
"""
from __future__ import annotations

import os
import stat

from builder.copy_errors import DestinationError

MAX_SYMLINKS = 255  # continuity's limit


def split_path(path: str) -> list[str]:
    """The non-trivial components of a slash path (no ``""`` or ``"."``)."""
    return [part for part in path.split("/") if part and part != "."]


def resolve_components(root: str, path: str, *, follow_final: bool = True) -> list[str]:
    """The components below ``root`` that ``path`` designates once symlinks are resolved.

    With ``follow_final=False`` a symlink in the last component is kept, not followed.
    """
    pending = split_path(path)[::-1]  # a stack: the next component is last
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        if not pending and not follow_final:
            resolved.append(part)
            break
        host = os.path.join(root, *resolved, part)
        try:
            mode = os.lstat(host).st_mode
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)  # does not exist (yet): nothing to follow
            continue
        if not stat.S_ISLNK(mode):
            resolved.append(part)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise DestinationError(f"{path}: too many levels of symbolic links")
        target = os.readlink(host)
        if target.startswith("/"):
            resolved = []
        pending.extend(reversed(split_path(target)))
    return resolved


def resolve_in_root(root: str, path: str, *, follow_final: bool = True) -> str:
    """The host path of ``path`` inside ``root`` (see ``resolve_components``)."""
    return os.path.join(root, *resolve_components(root, path, follow_final=follow_final))
