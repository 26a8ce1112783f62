"""``COPY/ADD --chown``: ``user[:group]`` resolved in the destination image like BuildKit.

BuildKit (``llb.WithUser`` + ``solver/llbsolver/file/user_linux.go``): each side
is an id when it parses as a number, else a name. A user name is looked up in
the destination rootfs' ``/etc/passwd`` (first match wins) and also gives the
primary gid; a numeric user alone means gid = uid. A group name is looked up in
``/etc/group``. The files are read through the rootfs, never the host's.
"""
from __future__ import annotations

from dataclasses import dataclass

from builder.copy.errors import OwnerLookupError
from builder.copy.scoped_path import resolve_in_root


@dataclass(frozen=True, slots=True)
class Owner:
    uid: int
    gid: int


def resolve_chown(spec: str, dest_root: str) -> Owner:
    """The uid/gid that ``--chown=spec`` means for the image whose rootfs is ``dest_root``."""
    user, _, group = spec.partition(":")
    uid_number = _as_id(user)
    if uid_number is not None:
        uid, gid = uid_number, uid_number
    else:
        uid, gid = _lookup_user(user, dest_root)
    if group:
        gid_number = _as_id(group)
        if gid_number is not None:
            gid = gid_number
        elif group != user or _has_group(group, dest_root):
            gid = _lookup_group(group, dest_root)
        # else `--chown=app:app` without an `app` group: docker 26 (BuildKit 0.13) keeps app's
        # primary group (seen in a side-by-side build); other unknown groups stay errors.
    return Owner(uid, gid)


def _has_group(name: str, dest_root: str) -> bool:
    return any(len(fields) >= 3 and fields[0] == name for fields in _records(dest_root, "/etc/group"))


def _as_id(text: str) -> int | None:
    # Go's strconv.ParseUint(v, 10, 32): plain decimal digits that fit in 32 bits.
    if text.isascii() and text.isdigit() and int(text) < 1 << 32:
        return int(text)
    return None


def _lookup_user(name: str, dest_root: str) -> tuple[int, int]:
    for fields in _records(dest_root, "/etc/passwd"):
        if len(fields) >= 4 and fields[0] == name:
            uid, gid = _as_id(fields[2]), _as_id(fields[3])
            if uid is not None and gid is not None:
                return uid, gid
    raise OwnerLookupError(f"unable to find user {name}: no matching entries in passwd file")


def _lookup_group(name: str, dest_root: str) -> int:
    for fields in _records(dest_root, "/etc/group"):
        if len(fields) >= 3 and fields[0] == name:
            gid = _as_id(fields[2])
            if gid is not None:
                return gid
    raise OwnerLookupError(f"unable to find group {name}")


def _records(dest_root: str, path: str) -> list[list[str]]:
    try:
        with open(resolve_in_root(dest_root, path), encoding="utf-8", errors="surrogateescape") as handle:
            lines = handle.read().splitlines()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []
    return [line.split(":") for line in (raw.strip() for raw in lines) if line and not line.startswith("#")]
