"""Unit tests: platforms, OCI documents, challenges, Retry-After, layers, content store."""
from __future__ import annotations

import gzip
import multiprocessing
from pathlib import Path

import pytest
import zstandard

from registry_client import (
    ContentStore, Descriptor, Digest, DigestMismatch, ImageConfig, Index, Manifest, MediaType, NotFound,
    Platform, PlatformNotFound, UnsupportedMediaType, canonical_json, open_uncompressed, parse_manifest,
    select_platform,
)
from registry_client.auth import parse_challenges, pick_challenge
from registry_client.options import RegistryOptions
from registry_client.responses import RateLimit, retry_after_seconds


@pytest.mark.parametrize("given, normal", [
    ("linux/x86_64", "linux/amd64"), ("linux/amd64/v1", "linux/amd64"), ("linux/aarch64", "linux/arm64"),
    ("linux/arm64/v8", "linux/arm64"), ("linux/arm64/8", "linux/arm64"), ("linux/arm", "linux/arm/v7"),
    ("linux/armhf", "linux/arm/v7"), ("linux/armel", "linux/arm/v6"), ("linux/i386", "linux/386"),
    ("Linux/ARM64/V8", "linux/arm64"), ("linux/arm64/v9.0", "linux/arm64/v9"),
])
def test_platform_normalisation(given, normal):
    assert str(Platform.parse(given).normalized()) == normal


def _entry(platform: str | None, media_type: str = MediaType.OCI_MANIFEST, seed: bytes = b"") -> Descriptor:
    plat = Platform.parse(platform) if platform else None
    return Descriptor(media_type, Digest.of((platform or "none").encode() + seed), 10, plat)


def test_select_platform_exact_then_fallback_skipping_attestations():
    index = Index((_entry("unknown/unknown"), _entry("linux/arm/v6"), _entry("linux/arm/v7"),
                   _entry("linux/arm64/v8"), _entry("linux/amd64", "application/vnd.example+json")))
    assert select_platform(index, Platform.parse("linux/arm/v7")).platform.variant == "v7"
    assert select_platform(index, Platform.parse("linux/arm64")).platform.variant == "v8"
    only_v6 = Index((_entry("linux/arm/v6"),))
    assert select_platform(only_v6, Platform.parse("linux/arm/v7")).platform.variant == "v6"
    with pytest.raises(PlatformNotFound):
        select_platform(index, Platform.parse("linux/amd64"))  # unknown media type is skipped
    with pytest.raises(PlatformNotFound):
        select_platform(index, Platform.parse("unknown/unknown"))


def test_manifest_round_trip_is_canonical():
    config = Descriptor(MediaType.OCI_CONFIG, Digest.of(b"{}"), 2)
    layer = Descriptor(MediaType.OCI_LAYER_GZIP, Digest.of(b"x"), 1, annotations={"a": "b"})
    manifest = Manifest(config, (layer,))
    data = manifest.to_bytes()
    assert data == canonical_json(manifest.to_json()) and b" " not in data
    assert parse_manifest(data) == manifest


def test_schema1_is_a_clear_error():
    body = b'{"schemaVersion":1,"name":"x","tag":"latest","fsLayers":[]}'
    with pytest.raises(UnsupportedMediaType, match="schema1"):
        parse_manifest(body, MediaType.DOCKER_SCHEMA1_SIGNED, ref="r")
    with pytest.raises(UnsupportedMediaType, match="schema1"):
        parse_manifest(body, None)


def test_manifest_without_media_type_is_sniffed_and_mismatch_rejected():
    index = parse_manifest(b'{"schemaVersion":2,"manifests":[]}')
    assert isinstance(index, Index)
    with pytest.raises(Exception, match="Content-Type"):
        parse_manifest(Index(()).to_bytes(), MediaType.DOCKER_MANIFEST)


def test_image_config_round_trip_keeps_unknown_fields():
    body = {"architecture": "arm64", "variant": "v8", "os": "linux", "config": {"Env": ["A=1"], "Cmd": ["sh"],
            "Labels": {"x": "y"}, "ExposedPorts": {"80/tcp": {}}, "OnBuild": ["RUN x"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "b" * 64]},
            "history": [{"created_by": "x", "empty_layer": True}], "container": "abc"}
    config = ImageConfig.from_json(body)
    assert str(config.platform) == "linux/arm64/v8" and config.history[0].empty_layer
    again = config.to_json()
    assert again["container"] == "abc" and again["config"]["OnBuild"] == ["RUN x"]
    assert ImageConfig.from_json(again) == config


@pytest.mark.parametrize("header, scheme, params", [
    ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"',
     "bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                "scope": "repository:library/ubuntu:pull"}),
    ('Basic realm="basic-realm"', "basic", {"realm": "basic-realm"}),
    ('Bearer realm="r",scope="repository:a:pull,push repository:b:pull",error="insufficient_scope"',
     "bearer", {"realm": "r", "scope": "repository:a:pull,push repository:b:pull", "error": "insufficient_scope"}),
    ('Basic realm="x", Bearer realm="y",service="s"', "bearer", {"realm": "y", "service": "s"}),
])
def test_challenge_parsing(header, scheme, params):
    challenge = pick_challenge(parse_challenges(header))
    assert challenge is not None and challenge.scheme == scheme and dict(challenge.params) == params


def test_retry_after_and_rate_limit_headers():
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert retry_after_seconds({}) is None
    limit = RateLimit.from_headers({"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "76;w=21600"})
    assert limit == RateLimit(100, 76, 21600, None)


def test_insecure_hosts():
    options = RegistryOptions(insecure_registries=("localhost", "127.0.0.0/8", "myreg:5000"))
    assert options.is_insecure("127.0.0.1:5000") and options.is_insecure("localhost:1")
    assert options.is_insecure("myreg:5000") and not options.is_insecure("myreg:443")
    assert not options.is_insecure("registry-1.docker.io")


@pytest.mark.parametrize("compress, media_type", [
    (lambda b: gzip.compress(b), MediaType.OCI_LAYER_GZIP),
    (lambda b: gzip.compress(b[:100]) + gzip.compress(b[100:]), MediaType.DOCKER_LAYER_GZIP),  # multi-member
    (lambda b: zstandard.ZstdCompressor().compress(b), MediaType.OCI_LAYER_ZSTD),
    (lambda b: b, MediaType.OCI_LAYER),
    (lambda b: gzip.compress(b), MediaType.OCI_LAYER),  # the media type lies; magic bytes decide
])
def test_open_uncompressed(tmp_path, compress, media_type):
    raw = bytes(range(256)) * 50
    path = tmp_path / "blob"
    path.write_bytes(compress(raw))
    with open(path, "rb") as blob, open_uncompressed(blob, media_type) as tar:
        assert tar.read() == raw


def test_store_verifies_before_publishing(tmp_path):
    store = ContentStore(tmp_path)
    good = Descriptor("x", Digest.of(b"hello"), 5)
    with pytest.raises(DigestMismatch):
        with store.writer(good) as writer:
            writer.write(b"hellO")
            writer.commit()
    assert not store.exists(good.digest) and not list((tmp_path / "ingest").iterdir())
    with pytest.raises(DigestMismatch):
        with store.writer(good) as writer:
            writer.write(b"hello!")
    assert store.put_bytes(b"hello", "x").digest == good.digest and store.read_bytes(good.digest) == b"hello"
    with pytest.raises(NotFound):
        store.open(Digest.of(b"absent"))


def test_store_takes_the_digest_of_a_producer_that_hashed_itself(tmp_path):
    """The layer differ hashes its tar while writing it; the store publishes under that digest."""
    store = ContentStore(tmp_path)
    data = b"layer bytes" * 1000
    with store.writer(hashing=False) as writer:
        writer.write(data)
        with pytest.raises(ValueError):
            writer.commit("x")  # a writer that does not hash needs the producer's digest
        descriptor = writer.commit("x", Digest.of(data))
    assert descriptor == Descriptor("x", Digest.of(data), len(data))
    assert store.read_bytes(descriptor.digest) == data and not list((tmp_path / "ingest").iterdir())
    with store.writer() as writer:
        writer.write(data)
        with pytest.raises(ValueError):
            writer.commit("x", Digest.of(data))  # a hashing writer trusts only its own hash


def _write_same_blob(root: str) -> None:
    store = ContentStore(root)
    for _ in range(20):
        data = b"shared" * 100_000
        descriptor = Descriptor("x", Digest.of(data), len(data))
        with store.writer(descriptor) as writer:
            writer.write(data)
            writer.commit()


def test_store_is_safe_for_several_processes(tmp_path: Path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_same_blob, args=(str(tmp_path),)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    data = b"shared" * 100_000
    assert ContentStore(tmp_path).read_bytes(Digest.of(data)) == data
    assert not list((tmp_path / "ingest").iterdir())
