"""Resolve a Dockerfile USER against the image's own /etc/passwd and /etc/group (never the host's NSS)."""
from __future__ import annotations

from dataclasses import dataclass

from runtime.errors import UserLookupError
from runtime.paths import scoped_join


@dataclass(frozen=True, slots=True)
class Credentials:
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


def _read_table(root: str, name: str) -> list[list[str]]:
    # Resolved inside the root: an image whose /etc/passwd links to /etc/shadow or to ../../x
    # must not make the builder read a host file.
    try:
        with open(scoped_join(root, f"/etc/{name}"), encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []
    return [line.split(":") for line in lines if line and not line.startswith("#")]


def _find(rows: list[list[str]], key: str, width: int) -> list[str] | None:
    """A row by name, else by numeric id (as runc's user.GetExecUser does)."""
    rows = [row for row in rows if len(row) >= width]
    for row in rows:
        if row[0] == key:
            return row
    if key.isdigit():
        for row in rows:
            if row[2] == key:
                return row
    return None


def resolve_user(root: str, user: str) -> Credentials:
    """``name``, ``uid``, ``name:group`` or ``uid:gid`` -> credentials, with supplementary groups.

    A numeric uid missing from passwd is allowed (Docker runs it with gid 0 and HOME=/); a name that is
    missing is an error. Supplementary groups are the primary group plus the groups listing the user.
    """
    user_part, _, group_part = (user or "root").partition(":")
    passwd = _find(_read_table(root, "passwd"), user_part, 7)
    if passwd is None and not user_part.isdigit():
        raise UserLookupError(f"unable to find user {user_part}: no matching entries in passwd file")
    uid = int(passwd[2]) if passwd else int(user_part)
    gid = int(passwd[3]) if passwd else 0
    home = passwd[5] if passwd and passwd[5] else "/"
    group_rows = _read_table(root, "group")
    if group_part:
        group = _find(group_rows, group_part, 3)
        if group is None and not group_part.isdigit():
            raise UserLookupError(f"unable to find group {group_part}: no matching entries in group file")
        gid = int(group[2]) if group else int(group_part)
        return Credentials(uid, gid, (gid,), home)  # an explicit group means no membership groups
    name = passwd[0] if passwd else None
    extra = [int(row[2]) for row in group_rows if len(row) >= 4 and name and name in row[3].split(",")]
    # the primary group comes first, as containerd's WithAdditionalGIDs puts it
    return Credentials(uid, gid, tuple(dict.fromkeys([gid, *extra])), home)
