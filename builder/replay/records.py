"""Fully cached rebuilds without rebuilding: replay a recorded result when nothing it read changed.

A warm daemon answers a fully cached ``docker build`` in tens of milliseconds; a fresh
Python process cannot import the whole builder that fast. So after each successful
build we record what it read (``builder.replay.journal``): the request, the base images'
index entries, and the stat signature of every context path that fed a cache key.
The next identical request checks exactly those with the standard library only, and
if all still match, it re-reports the same image instead of planning and solving.

Anything that does not match, or any doubt (a missing blob, a tag now naming another
image, an unreadable record), falls back to the real build, which is always correct.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECORD_VERSION = 1
REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True, slots=True)
class Replay:
    image_id: str
    manifest_digest: str
    tags: tuple[str, ...]  # as the user wrote them
    titles: tuple[str, ...]  # step titles, to show as CACHED
    warnings: tuple[str, ...]


def request_key(fields: Mapping[str, Any]) -> str:
    data = json.dumps({"v": RECORD_VERSION, **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8", "surrogateescape")).hexdigest()


def _record_path(root: Path, key: str) -> Path:
    return root / "cache" / "builds" / f"{key}.json"


def signature(path: str) -> list[int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode]


def write_record(root: Path, key: str, record: Mapping[str, Any]) -> None:
    path = _record_path(root, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def context_signatures(context: str, relpaths: Sequence[str]) -> dict[str, list[int] | None]:
    # The context root itself is included: its mtime changes when a top-level entry comes or goes.
    return {relpath: signature(os.path.join(context, relpath)) for relpath in sorted({"", *relpaths})}


def try_replay(root: Path, key: str) -> Replay | None:
    """The recorded result for ``key`` if every input it read is unchanged, else None."""
    try:
        record = json.loads(_record_path(root, key).read_text())
        if record.get("v") != RECORD_VERSION or not _inputs_unchanged(root, record):
            return None
        return Replay(record["image_id"], record["manifest"], tuple(record["tags"]), tuple(record["titles"]),
                      tuple(record["warnings"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _inputs_unchanged(root: Path, record: Mapping[str, Any]) -> bool:
    context = record["context"]
    for relpath, recorded in record["context_paths"].items():
        if signature(os.path.join(context, relpath)) != recorded:
            return False
    for path, recorded in record["files"].items():
        if signature(path) != recorded:
            return False
    blobs = root / "blobs" / "sha256"
    for digest in (record["manifest"], record["image_id"], *record["layers"]):
        if not (blobs / digest.removeprefix("sha256:")).is_file():
            return False
    names = _index_names(root)
    wanted = {**record["bases"], **{name: record["manifest"] for name in record["tag_names"]}}
    return all(names.get(name) == digest for name, digest in wanted.items())


def _index_names(root: Path) -> dict[str, str]:
    index = json.loads((root / "index.json").read_text())
    return {entry["annotations"][REF_NAME]: entry["digest"]
            for entry in index.get("manifests", []) if REF_NAME in entry.get("annotations", {})}
