"""The state root as an OCI image layout: ``oci-layout``, ``index.json`` and ``blobs/``.

``index.json`` is an OCI index whose entries are the local images. Naming convention
(decided here, documented in ``builder.imagestore``): the annotation
``org.opencontainers.image.ref.name`` holds the *full normalised reference*
(``docker.io/library/busybox:latest``), not the bare tag the image-spec suggests, because one
layout holds many repositories. skopeo and umoci accept any string there
(``oci:ROOT:docker.io/library/busybox:latest``). An entry without that annotation is a
dangling image (``<none>:<none>``), kept until ``prune``.

Every write goes to a temp file in the same directory, is fsynced and renamed over the old
file, so a reader sees the old index or the new one, never half of one.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from registry_client import Descriptor, MediaType, RegistryError

from .errors import StoreCorrupt
from .locks import locked

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}


def write_file_atomically(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """temp + fsync + rename, then fsync the directory so the new name survives a crash."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def ensure_layout(root: Path) -> None:
    """Create ``oci-layout`` and an empty ``index.json`` if this root is new."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / LAYOUT_FILE).exists():
        write_file_atomically(root / LAYOUT_FILE, json.dumps(LAYOUT_VERSION).encode())
    if not (root / INDEX_FILE).exists():
        with locked(root / "index.lock"):  # a concurrent first writer may have tagged an image meanwhile
            if not (root / INDEX_FILE).exists():
                write_index(root, [])


def read_index(root: Path) -> list[Descriptor]:
    """The entries of ``index.json``, in file order; an absent file is an empty store."""
    try:
        document: Any = json.loads((root / INDEX_FILE).read_bytes())
    except FileNotFoundError:
        return []
    except ValueError as exc:
        raise StoreCorrupt(f"{root / INDEX_FILE} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("manifests", []), list):
        raise StoreCorrupt(f"{root / INDEX_FILE} is not an OCI index")
    try:
        return [Descriptor.from_json(entry) for entry in document.get("manifests") or ()]
    except RegistryError as exc:
        raise StoreCorrupt(f"{root / INDEX_FILE}: {exc}") from exc


def write_index(root: Path, entries: list[Descriptor]) -> None:
    document = {
        "schemaVersion": 2,
        "mediaType": MediaType.OCI_INDEX,
        "manifests": [entry.to_json() for entry in entries],
    }
    write_file_atomically(root / INDEX_FILE, json.dumps(document, indent=2).encode() + b"\n")
