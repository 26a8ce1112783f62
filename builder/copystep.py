"""COPY and ADD steps: what they add to the cache key, and running them on the active snapshot.

Also the sources other instructions read: stages and images seen through read-only
snapshot views (``--from``, ``RUN --mount from=``), and content digests of the context.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from builder.layers import temporary_key
from builder.services import Services
from builder.stagestate import StageState
from grammar import Add, Copy, Dockerfile
from builder.runmounts import MountSources


class SourceViews:
    """Read-only views of stage and image snapshots, removed when the build ends."""

    def __init__(self, services: Services, dockerfile: Dockerfile, finals: Mapping[int, StageState],
                 image_snapshot: Callable[[str], tuple[str | None, str]]) -> None:
        self._services = services
        self._dockerfile = dockerfile
        self._finals = finals
        self._image_snapshot = image_snapshot
        self._keys: list[str] = []

    def __call__(self, ref: str) -> tuple[list[Any], str]:
        """(mounts, cache identity) of what ``ref`` names: an earlier stage, else an image."""
        stage = self._dockerfile.stage_by_ref(ref)
        if stage is not None and stage.index in self._finals:
            state = self._finals[stage.index]
            snapshot, identity = state.snapshot, f"stage:{state.key.hex}"
        else:
            snapshot, identity = self._image_snapshot(ref)
        key = temporary_key("source")
        mounts = self._services.snapshotter.view(key, snapshot)
        self._keys.append(key)
        return mounts, identity

    def close(self) -> None:
        for key in self._keys:
            self._services.snapshotter.remove(key)
        self._keys.clear()


def context_digest(context: Path) -> Callable[[str], str]:
    """A content digest of a context subpath, for bind-mount cache keys (mtime never counts)."""
    def digest(relative: str) -> str:
        base = (context / relative.lstrip("/")).resolve()
        hasher = hashlib.sha256()
        for path in sorted(_walk(base)):
            info = os.lstat(path)
            hasher.update(f"{os.path.relpath(path, base)}\0{info.st_mode:o}\0".encode())
            if os.path.islink(path):
                hasher.update(os.readlink(path).encode())
            elif os.path.isfile(path):
                with open(path, "rb") as handle:
                    hasher.update(hashlib.file_digest(handle, "sha256").digest())
        return "sha256:" + hasher.hexdigest()

    return digest


def _walk(base: Path) -> list[str]:
    if not base.is_dir():
        return [str(base)] if os.path.lexists(base) else []
    found = []
    for directory, dirnames, filenames in os.walk(base):
        found += [os.path.join(directory, name) for name in dirnames + filenames]
    return found


def copy_material(instruction: Copy | Add, state: StageState, sources: MountSources) -> dict[str, Any]:
    raise NotImplementedError("COPY/ADD are being wired to builder.copying")


def execute_copy(instruction: Copy | Add, state: StageState, mounts: list[Any], sources: MountSources) -> None:
    raise NotImplementedError("COPY/ADD are being wired to builder.copying")
