"""Resolve a container path inside a root directory the way the container will see it.

``scoped_join(root, "/etc/resolv.conf")`` follows symlinks component by component with chroot
semantics: an absolute link target restarts at ``root`` and ``..`` never climbs above it. Used to place
mount points before ``pivot_root`` (what runc does with securejoin), so an image whose ``/etc`` is a
symlink to ``/`` cannot make us bind-mount over a host file. No process runs in the container yet,
so nothing can swap a component between the check and the use.
"""
from __future__ import annotations

import os
import stat

from runtime.errors import ContainerStartError

_MAX_LINKS = 255


def scoped_components(root: str, path: str, *, follow_final: bool = True) -> list[str]:
    """The components below ``root`` that ``path`` designates once symlinks are resolved.

    Components that do not exist are kept as they are. With ``follow_final=False`` a symlink
    in the last component is kept, not followed.
    """
    pending = [part for part in path.split("/") if part not in ("", ".")]
    pending.reverse()  # a stack: the next component is last
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
        candidate = os.path.join(root, *resolved, part)
        try:
            mode = os.lstat(candidate).st_mode
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)  # does not exist (yet): nothing to follow
            continue
        if not stat.S_ISLNK(mode):
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_LINKS:
            raise ContainerStartError(f"too many levels of symbolic links resolving {path!r} in {root}")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        pending.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
    return resolved


def scoped_join(root: str, path: str, *, follow_final: bool = True) -> str:
    """The host path of container path ``path``; the last component may not exist yet."""
    return os.path.join(root, *scoped_components(root, path, follow_final=follow_final))
