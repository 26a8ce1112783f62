"""Fault injection on the blob "CDN" behind the Docker-Hub-like registry.

Each pull either succeeds with every digest verified or fails with a clear error, and the
store never keeps a corrupt or partial blob.
"""
from __future__ import annotations

import hashlib

import pytest

from registry_client import (
    ContentStore, DigestMismatch, Platform, RateLimited, RetryPolicy, TransportError, pull,
)

AMD64 = Platform("linux", "amd64")


def _pull(hub_registry, store, **options):
    return pull(hub_registry.ref("library/hello:latest"), store, client=hub_registry.client(anonymous=True, **options),
                platform=AMD64)


def _assert_store_clean(store: ContentStore) -> None:
    for blob in (store.root / "blobs" / "sha256").glob("*"):
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    ingest = store.root / "ingest"
    assert not ingest.exists() or not list(ingest.iterdir())


def test_blob_cut_halfway_is_resumed_with_range(hub_registry, blob_host, store):
    faults = blob_host.reset(truncate_at=1000)
    pulled = _pull(hub_registry, store)
    ranges = [entry["range"] for entry in faults.log if entry["range"]]
    assert "bytes=1000-" in ranges[0]  # a closed range: bytes=1000-<size-1>
    assert len(ranges) == 3  # each layer resumed once (the config is shorter than the cut)
    assert all(store.has(layer) for layer in pulled.manifest.layers)
    _assert_store_clean(store)


def test_503_then_200_is_retried(hub_registry, blob_host, store):
    faults = blob_host.reset(fail_status=503)
    sleeps: list[float] = []
    _pull(hub_registry, store, sleep=sleeps.append)
    assert len(faults.log) == 8 and sleeps == [1.0] * 4  # Retry-After: 1 honoured
    _assert_store_clean(store)


def test_429_with_retry_after_is_honoured(hub_registry, blob_host, store):
    blob_host.reset(fail_status=429, retry_after="2")
    sleeps: list[float] = []
    pulled = _pull(hub_registry, store, sleep=sleeps.append)
    assert sleeps == [2.0] * 4
    assert all(store.has(layer) for layer in pulled.manifest.layers)


def test_429_with_a_long_retry_after_fails_with_a_clear_message(hub_registry, blob_host, store):
    blob_host.reset(fail_status=429, retry_after="3600", always=True)
    with pytest.raises(RateLimited) as caught:
        _pull(hub_registry, store, sleep=lambda _: None)
    assert "too many requests" in str(caught.value) and "3600 s" in str(caught.value)
    assert caught.value.retry_after == 3600
    _assert_store_clean(store)


def test_persistent_503_gives_up_after_the_retries(hub_registry, blob_host, store):
    faults = blob_host.reset(fail_status=503, always=True)
    sleeps: list[float] = []
    with pytest.raises(TransportError) as caught:
        _pull(hub_registry, store, sleep=sleeps.append, retry=RetryPolicy(attempts=3, base_delay=0.01),
              max_concurrent_downloads=1)
    assert "503" in str(caught.value) and "sha256:" in str(caught.value)
    attempts_per_blob = {entry["path"]: 0 for entry in faults.log}
    for entry in faults.log:
        attempts_per_blob[entry["path"]] += 1
    assert set(attempts_per_blob.values()) == {3}  # three attempts each, then a clear failure
    _assert_store_clean(store)


def test_corrupted_bytes_once_are_downloaded_again(hub_registry, blob_host, store):
    faults = blob_host.reset(corrupt=True)
    pulled = _pull(hub_registry, store)
    assert len(faults.log) == 8
    assert all(store.has(layer) for layer in pulled.manifest.layers)
    _assert_store_clean(store)


def test_always_corrupted_bytes_fail_and_nothing_is_kept(hub_registry, blob_host, store):
    blob_host.reset(corrupt=True, always=True)
    with pytest.raises(DigestMismatch) as caught:
        _pull(hub_registry, store)
    assert "expected" in str(caught.value) and caught.value.digest
    _assert_store_clean(store)
    assert not (store.root / "blobs" / "sha256").exists() or len(list((store.root / "blobs" / "sha256").iterdir())) == 2


def test_connection_always_cut_fails_after_resumes(hub_registry, blob_host, store):
    blob_host.reset(truncate_at=10, always=True)
    with pytest.raises(TransportError) as caught:
        _pull(hub_registry, store, retry=RetryPolicy(resume_attempts=2, base_delay=0.01))
    assert "breaking off" in str(caught.value)
    _assert_store_clean(store)


@pytest.mark.parametrize("bound", [1, 2])
def test_layer_downloads_keep_the_bound_and_the_config_comes_alongside(hub_registry, blob_host, store, bound):
    faults = blob_host.reset(hold=0.2)  # every blob GET waits: downloads that may overlap do
    pulled = _pull(hub_registry, store, max_concurrent_downloads=bound)
    config = pulled.manifest.config.digest.hex
    layers = {layer.digest.hex for layer in pulled.manifest.layers}

    def layers_in(paths: set[str]) -> int:
        return sum(any(hex_ in path for hex_ in layers) for path in paths)

    assert max(layers_in(entry["alongside"]) for entry in faults.log) == bound
    overlapping = [entry for entry in faults.log
                   if len(entry["alongside"]) > 1 and any(config in path for path in entry["alongside"])]
    assert overlapping, "the config comes alongside a layer: it does not take a layer's place in the bound"
    _assert_store_clean(store)
