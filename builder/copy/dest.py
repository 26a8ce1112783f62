"""The destination side of COPY/ADD: the dest path, and the directories it needs.

``normalize_dest`` is BuildKit's ``pathRelativeToWorkingDir``: a relative dest is
joined to WORKDIR, ``""`` and ``.`` mean the workdir itself, and a trailing
``/`` (or ``/.``) marks a directory. ``make_dirs`` is fsutil's ``MkdirAll``
inside the root: missing directories are created 0755 and owned by ``--chown``'s
user or 0:0 (no owner: left to the kernel, so a setgid parent's group), keeping the setgid bit a
setgid parent passes down; existing ones are left alone. BuildKit 0.13 (docker 26) does not
apply ``--chmod`` to these parents; BuildKit >= 0.21 does (fsutil#228).
"""
from __future__ import annotations

import os
import posixpath
import stat

from builder.copy.errors import DestinationError
from builder.copy.owners import Owner
from builder.copy.scoped_path import resolve_components
from grammar import record

DEFAULT_DIR_MODE = 0o755


@record
class Destination:
    path: str  # absolute, cleaned
    is_dir: bool  # written with a trailing "/" (or "." / ""): always a directory


def normalize_dest(dest: str, workdir: str = "/") -> Destination:
    is_dir = dest in ("", ".") or dest.endswith("/") or dest.endswith("/.")
    joined = dest if dest.startswith("/") else posixpath.join("/", workdir, dest)
    return Destination(posixpath.normpath(joined).replace("//", "/"), is_dir)


def make_dirs(dest_root: str, path: str, owner: Owner | None, written: list[str]) -> str:
    """``mkdir -p`` of image path ``path`` inside ``dest_root``; the host path of the directory."""
    current = dest_root
    for part in resolve_components(dest_root, path):
        current = os.path.join(current, part)
        try:
            existing = os.lstat(current)
        except FileNotFoundError:
            os.mkdir(current, DEFAULT_DIR_MODE)
            # whatever the umask; a setgid parent passes its setgid bit (and group) down, as to
            # fsutil's os.Mkdir, which never chmods
            os.chmod(current, DEFAULT_DIR_MODE | (os.lstat(current).st_mode & stat.S_ISGID))
            if owner is not None:
                os.chown(current, owner.uid, owner.gid, follow_symlinks=False)
            written.append(current[len(dest_root):])
            continue
        if not stat.S_ISDIR(existing.st_mode):
            raise DestinationError(f"mkdir {path}: not a directory")
    return current
