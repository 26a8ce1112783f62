"""Foreign layers (Docker's ``rootfs.foreign.diff.tar.gzip`` with ``urls``; OCI's deprecated
non-distributable layers): never pushed, pulled from their URLs without registry
credentials, verified like any blob, and looked for in the registry when no URL has them."""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from registry_client import (
    ContentStore, Descriptor, Digest, DigestMismatch, Manifest, MediaType, NotFound, Platform, canonical_json, pull,
    push,
)
from registry_images import make_tar
from registry_servers import BlobHost

AMD64 = Platform("linux", "amd64")
FOREIGN_TAR = make_tar({"Files/base.dll": b"a Windows base layer, say\n" * 50})
ORDINARY_TAR = make_tar({"etc/ordinary": b"ordinary layer\n"})


@dataclass(frozen=True)
class ForeignImage:
    store: ContentStore  # what pushes it: it never holds the foreign layer's bytes
    manifest: Descriptor
    foreign: Descriptor


@pytest.fixture()
def foreign_host(tmp_path: Path) -> Iterator[BlobHost]:
    host = BlobHost(tmp_path / "foreign")
    (host.root / "layers").mkdir(parents=True)
    yield host
    host.stop()


def make_foreign_image(tmp_path: Path, host: BlobHost, urls: Callable[[str], list[str]], *,
                       media_type: str = MediaType.DOCKER_FOREIGN_LAYER_GZIP, served: bytes | None = None) -> ForeignImage:
    """One foreign layer (bytes only on ``host``, as ``layers/<hex>``) and one ordinary layer."""
    docker = media_type == MediaType.DOCKER_FOREIGN_LAYER_GZIP
    store = ContentStore(tmp_path / "source")
    foreign_bytes = gzip.compress(FOREIGN_TAR, mtime=0)
    digest = Digest.of(foreign_bytes)
    (host.root / "layers" / digest.hex).write_bytes(foreign_bytes if served is None else served)
    foreign = Descriptor(media_type, digest, len(foreign_bytes), urls=tuple(urls(digest.hex)))
    ordinary = store.put_bytes(gzip.compress(ORDINARY_TAR, mtime=0),
                               MediaType.DOCKER_LAYER_GZIP if docker else MediaType.OCI_LAYER_GZIP)
    config = {"architecture": "amd64", "os": "linux", "config": {},
              "rootfs": {"type": "layers", "diff_ids": [str(Digest.of(FOREIGN_TAR)), str(Digest.of(ORDINARY_TAR))]}}
    config_descriptor = store.put_bytes(canonical_json(config),
                                        MediaType.DOCKER_CONFIG if docker else MediaType.OCI_CONFIG)
    manifest_type = MediaType.DOCKER_MANIFEST if docker else MediaType.OCI_MANIFEST
    manifest = Manifest(config_descriptor, (foreign, ordinary), manifest_type)
    return ForeignImage(store, store.put_bytes(manifest.to_bytes(), manifest_type), foreign)


def _at(host: BlobHost) -> Callable[[str], list[str]]:
    return lambda hex_digest: [f"{host.base_url}/layers/{hex_digest}"]


@pytest.mark.parametrize("media_type", [MediaType.DOCKER_FOREIGN_LAYER_GZIP,
                                        MediaType.OCI_NONDISTRIBUTABLE_PREFIX + "+gzip"])
def test_foreign_layer_is_not_pushed_and_is_pulled_from_its_url(hub_registry, blob_host, foreign_host, tmp_path,
                                                                media_type):
    blob_host.reset()  # the registry's own CDN behaves
    image = make_foreign_image(tmp_path, foreign_host, _at(foreign_host), media_type=media_type)
    ref = hub_registry.ref("test/foreign:latest")
    client = hub_registry.client()  # with credentials: a token exists that must not leak
    assert push(ref, image.store, image.manifest, client=client) == image.manifest.digest
    assert not client.blob_exists(ref, image.foreign.digest)  # docker does not push foreign layers
    store = ContentStore(tmp_path / "pulled")
    pulled = pull(ref, store, client=hub_registry.client(), platform=AMD64)
    assert store.has(image.foreign) and store.read_bytes(image.foreign.digest) == gzip.compress(FOREIGN_TAR, mtime=0)
    assert [str(d) for d in pulled.config.diff_ids][0] == str(Digest.of(FOREIGN_TAR))
    fetched = [entry for entry in foreign_host.faults.log if image.foreign.digest.hex in entry["path"]]
    assert len(fetched) == 1 and not fetched[0]["authorization"]


def test_next_url_is_tried_when_one_lacks_the_layer(hub_registry, blob_host, foreign_host, tmp_path):
    blob_host.reset()  # the registry's own CDN behaves
    def urls(hex_digest: str) -> list[str]:
        return [f"{foreign_host.base_url}/missing/{hex_digest}", f"{foreign_host.base_url}/layers/{hex_digest}"]

    image = make_foreign_image(tmp_path, foreign_host, urls)
    ref = hub_registry.ref("test/foreign:two-urls")
    push(ref, image.store, image.manifest, client=hub_registry.client())
    store = ContentStore(tmp_path / "pulled")
    pull(ref, store, client=hub_registry.client(), platform=AMD64)
    assert store.has(image.foreign)
    assert [entry["path"].split("/")[1] for entry in foreign_host.faults.log] == ["missing", "layers"]


def test_registry_is_used_when_no_url_has_the_layer(noauth_registry, foreign_host, tmp_path):
    image = make_foreign_image(tmp_path, foreign_host, lambda h: [f"{foreign_host.base_url}/gone/{h}"])
    ref = noauth_registry.ref("test/foreign-in-registry:latest")
    client = noauth_registry.client()
    push(ref, image.store, image.manifest, client=client)
    # Someone did push the foreign layer into the registry (e.g. with --allow-nondistributable-artifacts):
    keeper = ContentStore(tmp_path / "keeper")
    keeper.put_bytes(gzip.compress(FOREIGN_TAR, mtime=0), image.foreign.media_type)
    from registry_client import push_blob
    push_blob(client, ref, keeper, image.foreign)
    store = ContentStore(tmp_path / "pulled")
    pull(ref, store, client=client, platform=AMD64)
    assert store.has(image.foreign)


def test_corrupt_foreign_layer_is_refused_and_not_kept(noauth_registry, foreign_host, tmp_path):
    image = make_foreign_image(tmp_path, foreign_host, _at(foreign_host), served=b"\x1f\x8b" + b"x" * 100)
    ref = noauth_registry.ref("test/foreign-corrupt:latest")
    push(ref, image.store, image.manifest, client=noauth_registry.client())
    store = ContentStore(tmp_path / "pulled")
    with pytest.raises((DigestMismatch, NotFound)) as caught:
        pull(ref, store, client=noauth_registry.client(), platform=AMD64)
    assert str(image.foreign.digest) in str(caught.value) and foreign_host.base_url in str(caught.value)
    assert not store.has(image.foreign)
