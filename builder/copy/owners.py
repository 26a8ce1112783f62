"""``COPY/ADD --chown``: ``user[:group]`` resolved in the destination image like BuildKit.

BuildKit (``llb.WithUser`` + ``solver/llbsolver/file/user_linux.go``): each side
is an id when it parses as a number (``root`` counts as 0), else a name. A user name is
looked up in the destination rootfs' ``/etc/passwd`` (first match wins) and also gives the
primary gid; a numeric user alone means gid = uid. A group name is looked up in
``/etc/group``. The files are read through the rootfs, never the host's.

A lookup does not fail: BuildKit treats a name it cannot find (or a missing passwd/group file) as
"not found" and keeps what it has, so an unknown user is 0:0 and an unknown group keeps the
user's gid; an empty side (``:staff``, ``5:``) is id 0. Checked against docker 26 (BuildKit
0.13), whose file op is the same as the newest one's. WORKDIR's directory is owned the same way.
Only a name on a bare scratch filesystem is an error, as in BuildKit (nothing to look it up in).
"""
from __future__ import annotations

import os

from builder.copy.errors import CopyError
from builder.copy.scoped_path import resolve_in_root
from grammar import record


@record
class Owner:
    uid: int
    gid: int


def resolve_chown(spec: str, dest_root: str) -> Owner:
    """The uid/gid that ``--chown=spec`` (or WORKDIR under ``USER spec``) means in ``dest_root``."""
    user, has_group, group = spec.partition(":")
    names = [name for name in (user, group if has_group else "0") if _as_id(name) is None]
    if names and not os.listdir(dest_root):
        # BuildKit has no image below a file op on bare scratch to look names up in: it fails
        # with "invalid user index: -1" (docker 26) / "invalid missing user mount"; say why.
        raise CopyError(f"cannot resolve {names[0]!r} of {spec!r}: the stage is an empty scratch filesystem "
                        "with no /etc/passwd or /etc/group; use numeric ids")
    uid_number = _as_id(user)
    if uid_number is not None:
        uid = gid = uid_number
    else:
        uid, gid = _lookup_user(user, dest_root) or (0, 0)
    if has_group:
        gid_number = _as_id(group)
        if gid_number is not None:
            gid = gid_number
        else:
            found = _lookup_group(group, dest_root)
            gid = gid if found is None else found
    return Owner(uid, gid)


def _as_id(text: str) -> int | None:
    # llb's parseUID: "root" is 0 without a lookup; an empty name is marshalled as id 0; else
    # plain decimal digits that fit in 32 bits.
    if text in ("root", ""):
        return 0
    if text.isascii() and text.isdigit() and int(text) < 1 << 32:
        return int(text)
    return None


def _lookup_user(name: str, dest_root: str) -> tuple[int, int] | None:
    for fields in _records(dest_root, "/etc/passwd"):
        if len(fields) >= 4 and fields[0] == name:
            uid, gid = _as_id(fields[2]), _as_id(fields[3])
            if uid is not None and gid is not None:
                return uid, gid
    return None


def _lookup_group(name: str, dest_root: str) -> int | None:
    for fields in _records(dest_root, "/etc/group"):
        if len(fields) >= 3 and fields[0] == name:
            gid = _as_id(fields[2])
            if gid is not None:
                return gid
    return None


def _records(dest_root: str, path: str) -> list[list[str]]:
    try:
        with open(resolve_in_root(dest_root, path), encoding="utf-8", errors="surrogateescape") as handle:
            lines = handle.read().splitlines()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []
    return [line.split(":") for line in (raw.strip() for raw in lines) if line and not line.startswith("#")]
