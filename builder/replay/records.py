"""Fully cached rebuilds without rebuilding: replay a recorded result when nothing it read changed.

A warm daemon answers a fully cached ``docker build`` in tens of milliseconds; a fresh
Python process cannot import the whole builder that fast. So after each successful
build we record what it read (``builder.replay.journal``): the request, the base images'
index entries, and the context paths that fed a cache key (one NUL-separated string) with
a digest over their stat signatures (``dev,ino,size,mtime,ctime,mode``) per block of paths:
an edited, added or removed file changes its own signature or its directory's. The next
identical request stats exactly those paths with the standard library only, block by block
(stopping at the first that differs), and if all still match (and the rest), it re-reports
the same image instead of planning and solving.

Anything that does not match, or any doubt (a missing blob, a tag now naming another
image, an unreadable record), falls back to the real build, which is always correct.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from grammar import record

RECORD_VERSION = 2
REF_NAME = "org.opencontainers.image.ref.name"


@record
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


_MISSING = "-"


def signature(path: str) -> str:
    """``path``'s stat signature now, as one short string (``-``: it does not exist)."""
    try:
        st = os.lstat(path)
    except OSError:
        return _MISSING
    return f"{st.st_dev},{st.st_ino},{st.st_size},{st.st_mtime_ns},{st.st_ctime_ns},{st.st_mode}"


_BLOCK = 1024  # paths per digest: a failing check stops at the first changed block


def _signatures_digest(signatures: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(signatures).encode()).hexdigest()


def _blocks(paths: Sequence[str]) -> list[Sequence[str]]:
    return [paths[start:start + _BLOCK] for start in range(0, len(paths), _BLOCK)]


def _context_path(context: str, relpath: str) -> str:
    return f"{context}/{relpath}" if relpath else context


def write_record(root: Path, key: str, record: Mapping[str, Any]) -> None:
    path = _record_path(root, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(record))  # dumps: json.dump would take the pure-Python encoder
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def context_record(context: str, relpaths: Iterable[str],
                   walked: Callable[[str], Sequence[int] | None] | None) -> dict[str, Any]:
    """The record's part for the context: its paths (one NUL-separated string) and their signatures' digests.

    ``walked`` gives the signature a path had when the build's walk saw it (None: not walked,
    stat it now). The context root itself is included: its mtime changes when a top-level entry
    comes or goes.
    """
    paths = sorted({"", *relpaths})

    def recorded(relpath: str) -> str:
        seen = walked(relpath) if walked is not None else None
        return ",".join(map(str, seen)) if seen is not None else signature(_context_path(context, relpath))

    return {"context_paths": "\0".join(paths),
            "context_digests": [_signatures_digest(map(recorded, block)) for block in _blocks(paths)]}


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
    for path, recorded in record["files"].items():
        if signature(path) != recorded:
            return False
    if not context_unchanged(record):
        return False
    blobs = root / "blobs" / "sha256"
    for digest in (record["manifest"], record["image_id"], *record["layers"]):
        if not (blobs / digest.removeprefix("sha256:")).is_file():
            return False
    names = _index_names(root)
    wanted = {**record["bases"], **{name: record["manifest"] for name in record["tag_names"]}}
    return all(names.get(name) == digest for name, digest in wanted.items())


def context_unchanged(record: Mapping[str, Any]) -> bool:
    """Whether every context path of ``record`` (see ``context_record``) has its recorded signature still."""
    context = record["context"]
    blocks = _blocks(record["context_paths"].split("\0"))
    if len(blocks) != len(record["context_digests"]):
        return False
    for block, digest in zip(blocks, record["context_digests"]):
        if _signatures_digest(signature(_context_path(context, relpath)) for relpath in block) != digest:
            return False
    return True


def _index_names(root: Path) -> dict[str, str]:
    index = json.loads((root / "index.json").read_text())
    return {entry["annotations"][REF_NAME]: entry["digest"]
            for entry in index.get("manifests", []) if REF_NAME in entry.get("annotations", {})}
