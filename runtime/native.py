"""NativeSnapshotter: every snapshot is a full copy of its parent (containerd's ``native``).

Slow for big images but needs nothing beyond bind mounts, so it serves where overlayfs cannot be
mounted. The copy is ``cp -a`` (hardlinks, xattrs, devices and times preserved; reflinks where the
filesystem has them). Diffs of native snapshots walk both trees (``runtime.diff``).
"""
from __future__ import annotations

import os
import subprocess

from runtime.errors import SnapshotError
from runtime.mounts import Mount
from runtime.snapshots import Kind
from runtime.store import DirectorySnapshotter


class NativeSnapshotter(DirectorySnapshotter):
    def _populate(self, directory: str, chain: list[int]) -> None:
        target = os.path.join(directory, "fs")
        if not chain:
            os.mkdir(target, 0o755)
            return
        result = subprocess.run(["cp", "-a", "--reflink=auto", self._fs(chain[0]), target], capture_output=True)
        if result.returncode != 0:
            raise SnapshotError(f"copying snapshot {chain[0]} failed: {result.stderr.decode(errors='replace')}")

    def _mounts(self, snapshot_id: int, kind: Kind, chain: list[int]) -> list[Mount]:
        return [Mount("bind", self._fs(snapshot_id), ("rbind", "ro" if kind is Kind.VIEW else "rw"))]
