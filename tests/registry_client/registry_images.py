"""Test images shaped like Docker Hub's official ones, built in a ContentStore.

- ``multi``: an OCI index with linux/amd64 and linux/arm64/v8 images (three gzip layers each)
  plus buildx-style attestation manifests (platform unknown/unknown);
- ``docker``: the same shape with Docker media types (manifest list + schema2);
- ``zstd``: one OCI image whose layers are zstd-compressed.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import random
import tarfile
from dataclasses import dataclass

import zstandard

from registry_client import (
    ContentStore, Descriptor, Digest, Index, Manifest, MediaType, Platform, canonical_json,
)

ATTESTATION_TYPE = "application/vnd.in-toto+json"


@dataclass(frozen=True)
class TestImage:
    top: Descriptor  # index or manifest
    children: dict[str, Descriptor]  # platform -> manifest descriptor
    diff_ids: dict[str, list[str]]  # platform -> uncompressed layer digests


def make_tar(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def random_bytes(seed: str, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _layer(store: ContentStore, tar: bytes, compression: str, media_type: str) -> tuple[Descriptor, str]:
    if compression == "gzip":
        blob = gzip.compress(tar, mtime=0)
    elif compression == "zstd":
        blob = zstandard.ZstdCompressor().compress(tar)
    else:
        blob = tar
    return store.put_bytes(blob, media_type), "sha256:" + hashlib.sha256(tar).hexdigest()


def make_image(store: ContentStore, platform: Platform, *, docker: bool = False, compression: str = "gzip",
               layer_sizes: tuple[int, ...] = (3000, 20000, 70000), seed: str = "") -> tuple[Descriptor, list[str]]:
    layer_type = {"gzip": MediaType.DOCKER_LAYER_GZIP if docker else MediaType.OCI_LAYER_GZIP,
                  "zstd": MediaType.OCI_LAYER_ZSTD, "none": MediaType.OCI_LAYER}[compression]
    layers, diff_ids = [], []
    for number, size in enumerate(layer_sizes):
        name = f"{seed}{platform}-{number}"
        tar = make_tar({f"layer{number}/hello.txt": f"hello from {platform} layer {number}\n".encode(),
                        f"layer{number}/data.bin": random_bytes(name, size)})
        descriptor, diff_id = _layer(store, tar, compression, layer_type)
        layers.append(descriptor)
        diff_ids.append(diff_id)
    config = {
        **platform.to_json(),
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin:/bin"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": f"layer {n}"} for n in range(len(layers))],
        "created": "1970-01-01T00:00:00Z",
    }
    config_type = MediaType.DOCKER_CONFIG if docker else MediaType.OCI_CONFIG
    config_descriptor = store.put_bytes(canonical_json(config), config_type)
    manifest_type = MediaType.DOCKER_MANIFEST if docker else MediaType.OCI_MANIFEST
    manifest = Manifest(config_descriptor, tuple(layers), manifest_type)
    return store.put_bytes(manifest.to_bytes(), manifest_type), diff_ids


def make_attestation(store: ContentStore, subject: Descriptor) -> Descriptor:
    statement = store.put_bytes(b'{"_type":"https://in-toto.io/Statement/v0.1"}', ATTESTATION_TYPE)
    config = store.put_bytes(b"{}", MediaType.OCI_CONFIG)
    manifest = Manifest(config, (statement,), MediaType.OCI_MANIFEST)
    stored = store.put_bytes(manifest.to_bytes(), MediaType.OCI_MANIFEST)
    return Descriptor(stored.media_type, stored.digest, stored.size, Platform("unknown", "unknown"), {
        "vnd.docker.reference.digest": str(subject.digest),
        "vnd.docker.reference.type": "attestation-manifest",
    })


def make_multi_arch(store: ContentStore, *, docker: bool = False) -> TestImage:
    entries, children, diff_ids = [], {}, {}
    platforms = [Platform("linux", "amd64"), Platform("linux", "arm64", "v8")]
    for platform in platforms:
        manifest, ids = make_image(store, platform, docker=docker, seed="docker" if docker else "")
        entry = Descriptor(manifest.media_type, manifest.digest, manifest.size, platform)
        entries.append(entry)
        children[str(platform)], diff_ids[str(platform)] = entry, ids
    if not docker:  # buildx puts attestations into OCI indexes
        entries += [make_attestation(store, entry) for entry in list(entries)]
    index_type = MediaType.DOCKER_MANIFEST_LIST if docker else MediaType.OCI_INDEX
    index = Index(tuple(entries), index_type)
    return TestImage(store.put_bytes(index.to_bytes(), index_type), children, diff_ids)


def make_zstd(store: ContentStore) -> TestImage:
    platform = Platform("linux", "amd64")
    manifest, ids = make_image(store, platform, compression="zstd", seed="zstd")
    return TestImage(manifest, {str(platform): manifest}, {str(platform): ids})


def digest_of(data: bytes) -> Digest:
    return Digest.of(data)
