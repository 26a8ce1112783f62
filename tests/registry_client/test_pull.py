"""Pulls from the real no-auth registry: platforms, media types, digests, caching."""
from __future__ import annotations

import hashlib

import pytest

from registry_client import (
    BlobProgress, ContentStore, Digest, MediaType, NotFound, Platform, PlatformNotFound, open_uncompressed, pull,
    resolve,
)

AMD64, ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64")


@pytest.mark.parametrize("platform, expected", [
    (AMD64, "linux/amd64"),
    (ARM64, "linux/arm64/v8"),  # arm64 == arm64/v8
    (Platform("linux", "aarch64"), "linux/arm64/v8"),
    (Platform("linux", "arm64", "v8"), "linux/arm64/v8"),
])
def test_pull_multi_arch_index_selects_platform(noauth_registry, images, store, platform, expected):
    pulled = pull(noauth_registry.ref("library/hello:latest"), store, client=noauth_registry.client(),
                  platform=platform)
    assert pulled.digest == images.multi.top.digest
    assert pulled.manifest_descriptor.digest == images.multi.children[expected].digest
    assert str(pulled.config.platform) == expected
    assert [str(d) for d in pulled.config.diff_ids] == images.multi.diff_ids[expected]
    for blob in (pulled.manifest.config, *pulled.manifest.layers):
        assert hashlib.sha256(store.read_bytes(blob.digest)).hexdigest() == blob.digest.hex


def test_attestation_entries_are_never_selected(noauth_registry, store):
    with pytest.raises(PlatformNotFound) as caught:
        pull(noauth_registry.ref("library/hello:latest"), store, client=noauth_registry.client(),
             platform=Platform("unknown", "unknown"))
    assert "available: linux/amd64, linux/arm64/v8" in str(caught.value)
    assert "library/hello" in str(caught.value)


def test_pull_docker_media_types(noauth_registry, images, store):
    pulled = pull(noauth_registry.ref("library/hello:docker"), store, client=noauth_registry.client(),
                  platform=ARM64)
    assert pulled.media_type == MediaType.DOCKER_MANIFEST_LIST
    assert pulled.manifest.media_type == MediaType.DOCKER_MANIFEST
    assert pulled.manifest.layers[0].media_type == MediaType.DOCKER_LAYER_GZIP
    assert pulled.manifest_descriptor.digest == images.docker.children["linux/arm64/v8"].digest


def test_pull_zstd_layers_and_diff_ids_match(noauth_registry, images, store):
    pulled = pull(noauth_registry.ref("test/zstd:latest"), store, client=noauth_registry.client(), platform=AMD64)
    assert pulled.digest == images.zstd.top.digest
    for layer, diff_id in zip(pulled.manifest.layers, pulled.config.diff_ids):
        assert layer.media_type == MediaType.OCI_LAYER_ZSTD
        with store.open(layer.digest) as blob, open_uncompressed(blob, layer.media_type) as tar:
            assert Digest.of(tar.read()) == diff_id


def test_pull_by_digest_and_by_tag_plus_digest(noauth_registry, images, store):
    digest = images.multi.children["linux/amd64"].digest
    client = noauth_registry.client()
    by_digest = pull(f"{noauth_registry.host}/library/hello@{digest}", store, client=client, platform=ARM64)
    assert by_digest.manifest_descriptor.digest == digest  # a manifest digest pins the platform
    both = pull(f"{noauth_registry.host}/library/hello:nonexistent-tag@{images.multi.top.digest}", store,
                client=client, platform=AMD64)
    assert both.digest == images.multi.top.digest  # the digest wins over the tag


def test_second_pull_downloads_nothing(noauth_registry, store):
    client = noauth_registry.client()
    first: list[BlobProgress] = []
    pull(noauth_registry.ref("library/hello:latest"), store, client=client, platform=AMD64, on_progress=first.append)
    assert any(not p.cached and p.finished for p in first)
    second: list[BlobProgress] = []
    pull(noauth_registry.ref("library/hello:latest"), store, client=client, platform=AMD64,
         on_progress=second.append)
    finished = [p for p in second if p.finished]
    assert len(finished) == 4 and all(p.cached for p in finished)
    assert all(p.cached for p in second)


def test_progress_reports_bytes_up_to_total(noauth_registry, store):
    events: list[BlobProgress] = []
    pulled = pull(noauth_registry.ref("library/hello:latest"), store, client=noauth_registry.client(),
                  platform=AMD64, on_progress=events.append)
    largest = max(pulled.manifest.layers, key=lambda d: d.size)
    mine = [e for e in events if e.digest == largest.digest]
    assert mine[-1].finished and mine[-1].done == mine[-1].total == largest.size
    assert [e.done for e in mine] == sorted(e.done for e in mine)


def test_resolve_uses_head_then_get_by_digest(noauth_registry, images, tmp_path):
    resolved = resolve(noauth_registry.client(), noauth_registry.ref("library/hello:latest"), AMD64)
    assert resolved.reference.digest == str(images.multi.top.digest)
    log = noauth_registry.process.log()
    assert 'http.request.method=HEAD' in log and "manifests/latest" in log
    gets_by_tag = [line for line in log.splitlines()
                   if "http.request.method=GET" in line and "manifests/latest" in line]
    assert gets_by_tag == []


def test_missing_tag_and_repository_are_not_found(noauth_registry, store):
    client = noauth_registry.client()
    with pytest.raises(NotFound) as caught:
        pull(noauth_registry.ref("library/hello:nope"), store, client=client)
    assert "library/hello:nope" in str(caught.value)
    with pytest.raises(NotFound):
        pull(noauth_registry.ref("no/such:latest"), store, client=client)


def test_store_is_shared_across_images(noauth_registry, tmp_path):
    store = ContentStore(tmp_path / "shared")
    client = noauth_registry.client()
    pull(noauth_registry.ref("library/hello:latest"), store, client=client, platform=AMD64)
    pull(noauth_registry.ref("library/hello:latest"), store, client=client, platform=ARM64)
    assert not list((tmp_path / "shared" / "ingest").iterdir())
