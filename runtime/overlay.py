"""OverlaySnapshotter: committed snapshots stay unpacked directories, reused as overlay lowerdirs.

An active snapshot with a parent is ``overlay`` with ``lowerdir=<parent chain, nearest first>``, its own
``fs`` as upperdir and ``work`` as workdir. The options always carry ``redirect_dir=off,metacopy=off,
index=off``: with redirects a renamed directory would be a pointer the upperdir diff cannot see, with
metacopy a chmod'ed file would be an empty upper file, and index=on would tie the upperdir to its
lowers (snapshots-and-layers.md §6). Without a parent the snapshot is a bind mount of its ``fs``.
Many-layer option strings are handled when mounting (``runtime.mounts``).
"""
from __future__ import annotations

import os
import shutil
import tempfile

from runtime.errors import ContainerError
from runtime.hostmounts import mounted
from runtime.mounts import Mount
from runtime.snapshots import Kind
from runtime.store import DirectorySnapshotter

OVERLAY_OPTIONS = ("redirect_dir=off", "metacopy=off", "index=off")


class OverlaySnapshotter(DirectorySnapshotter):
    def _populate(self, directory: str, chain: list[int]) -> None:
        os.mkdir(os.path.join(directory, "fs"), 0o755)
        os.mkdir(os.path.join(directory, "work"), 0o700)

    def _mounts(self, snapshot_id: int, kind: Kind, chain: list[int]) -> list[Mount]:
        lowers = [self._fs(i) for i in chain]
        if kind is Kind.VIEW:
            if len(lowers) <= 1:
                return [Mount("bind", lowers[0] if lowers else self._fs(snapshot_id), ("rbind", "ro"))]
            return [Mount("overlay", "overlay", ("ro", "lowerdir=" + ":".join(lowers), *OVERLAY_OPTIONS))]
        if not lowers:
            return [Mount("bind", self._fs(snapshot_id), ("rbind", "rw"))]
        work = os.path.join(self._store.directory(snapshot_id), "work")
        options = ("lowerdir=" + ":".join(lowers), f"upperdir={self._fs(snapshot_id)}", f"workdir={work}")
        return [Mount("overlay", "overlay", (*options, *OVERLAY_OPTIONS))]


def overlay_supported(scratch: str) -> bool:
    """Whether an overlay with our options can be mounted here (else use ``NativeSnapshotter``)."""
    base = tempfile.mkdtemp(prefix="overlay-probe-", dir=scratch)
    try:
        for name in ("lower", "upper", "work"):
            os.mkdir(os.path.join(base, name))
        options = tuple(f"{name}dir={os.path.join(base, name)}" for name in ("lower", "upper", "work"))
        with mounted([Mount("overlay", "overlay", (*options, *OVERLAY_OPTIONS))], parent=base):
            return True
    except (ContainerError, OSError):
        return False
    finally:
        shutil.rmtree(base, ignore_errors=True)
