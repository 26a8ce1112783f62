"""Test images for the output, save/load and history tests, written straight into a store.

``store_image`` stores layers the way a build does (plain tars, digest == diff_id) or, with
``gzip_layers``, the way a pull does; ``tricky_layers`` exercises owners, modes, symlinks,
hard links and a whiteout.
"""
from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from registry_client import Descriptor, Digest, History, ImageConfig, Manifest, MediaType, host_platform

from builder.imagestore import ImageStore


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str = "file"  # file | dir | symlink | hardlink
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    target: str = ""


def layer_tar(entries: list[Entry]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.mode, info.uid, info.gid, info.mtime = entry.mode, entry.uid, entry.gid, 1_700_000_000
            kinds = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                     "hardlink": tarfile.LNKTYPE}
            info.type = kinds[entry.kind]
            info.linkname = entry.target
            info.size = len(entry.data) if entry.kind == "file" else 0
            tar.addfile(info, io.BytesIO(entry.data) if entry.kind == "file" else None)
    return out.getvalue()


def tricky_layers() -> list[bytes]:
    base = layer_tar([
        Entry("etc", "dir", mode=0o755),
        Entry("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n"),
        Entry("app", "dir", mode=0o750, uid=1000, gid=1000),
        Entry("app/run.sh", data=b"#!/bin/sh\necho hi\n", mode=0o4755, uid=1000, gid=1000),
        Entry("app/data.bin", data=bytes(range(256)) * 64, mode=0o600, uid=123, gid=456),
        Entry("app/link", "symlink", mode=0o777, target="run.sh"),
        Entry("app/hard", "hardlink", target="app/data.bin"),
        Entry("gone.txt", data=b"removed by the next layer"),
    ])
    top = layer_tar([
        Entry(".wh.gone.txt"),
        Entry("app/added.txt", data=b"second layer\n", mode=0o640, uid=7, gid=8),
    ])
    return [base, top]


def store_image(root: Path, layers: list[bytes], reference: str | None, *, gzip_layers: bool = False,
                created_by: tuple[str, ...] = ()) -> Descriptor:
    """An image made of ``layers`` (plain tar bytes), tagged ``reference``; its manifest descriptor."""
    store = ImageStore(root)
    descriptors, diff_ids = [], []
    for data in layers:
        diff_ids.append(Digest.of(data))
        if gzip_layers:
            descriptors.append(store.content.put_bytes(gzip.compress(data, mtime=0), MediaType.OCI_LAYER_GZIP))
        else:
            descriptors.append(store.content.put_bytes(data, MediaType.OCI_LAYER))
    steps = created_by or tuple(f"RUN step {i} # buildkit" for i in range(len(layers)))
    history = tuple(History(created="2024-01-01T00:00:00Z", created_by=step, comment="buildkit.dockerfile.v0")
                    for step in steps)
    config = ImageConfig(platform=host_platform(), diff_ids=tuple(diff_ids), history=history,
                         created="2024-01-01T00:00:00Z", cmd=("sh",))
    config_descriptor = store.content.put_bytes(config.to_bytes(), MediaType.OCI_CONFIG)
    manifest = Manifest(config_descriptor, tuple(descriptors), MediaType.OCI_MANIFEST)
    descriptor = store.content.put_bytes(manifest.to_bytes(), MediaType.OCI_MANIFEST)
    if reference:
        store.tag(reference, descriptor)
    return descriptor
