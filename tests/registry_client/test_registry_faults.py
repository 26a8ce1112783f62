"""Faults between us and the registry, injected by a FaultProxy (tests/support/http_proxy.py)
in front of the real no-auth registry: rate-limit headers and 429s, dropped upload chunks,
failed uploads, and Docker-Content-Digest headers that disagree with the bytes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from registry_client import (
    ContentStore, Digest, DigestMismatch, Platform, PushSettings, RateLimit, RateLimited, RetryPolicy,
    TransportError, pull, push,
)
from tests.support.http_proxy import Rule, method_and_path

AMD64 = Platform("linux", "amd64")
ROOT = Path(__file__).resolve().parents[2]
HUB_HEADERS = {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "76;w=21600",
               "docker-ratelimit-source": "192.0.2.1"}
EXHAUSTED = {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600", "Content-Type": "application/json"}
TOO_MANY = json.dumps({"errors": [{"code": "TOOMANYREQUESTS", "message": "You have reached your pull rate limit."}]}).encode()


def _manifests(request) -> bool:
    return "/manifests/" in request.path


def _pybuild(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_CONFIG": str(home / "docker"), "HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "builder.cli", "--root", str(home / "root"), *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


# -- rate limits -------------------------------------------------------------------------------

def test_rate_limit_headers_are_read(fault_proxy, store):
    fault_proxy.proxy.add(Rule(_manifests, set_headers=HUB_HEADERS, times=None))
    client = fault_proxy.client()
    pull(fault_proxy.ref("library/hello:latest"), store, client=client, platform=AMD64)
    assert client.last_rate_limit == RateLimit(100, 76, 21600, "192.0.2.1")


def test_pybuild_pull_shows_the_pulls_left(fault_proxy, tmp_path):
    fault_proxy.proxy.add(Rule(_manifests, set_headers=HUB_HEADERS, times=None))
    result = _pybuild("pull", "--platform", "linux/amd64", f"{fault_proxy.host}/library/hello:latest", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Pull limit: 76 of 100 pulls left per 21600 s" in result.stdout + result.stderr


def test_exhausted_pull_limit_fails_at_once_saying_when_it_resets(fault_proxy, store):
    fault_proxy.proxy.add(Rule(_manifests, respond=(429, EXHAUSTED, TOO_MANY), times=None))
    with pytest.raises(RateLimited) as caught:
        pull(fault_proxy.ref("library/hello:latest"), store, client=fault_proxy.client(sleep=pytest.fail))
    message = str(caught.value)
    assert "pull limit 100 per 21600 s, 0 left" in message
    assert "resets within 21600 s (by " in message and "UTC)" in message and "pybuild login" in message
    assert len([e for e in fault_proxy.proxy.log if "/manifests/" in e.target]) == 1  # no retries of the HEAD


def test_toomanyrequests_with_retry_after_says_when(fault_proxy, store):
    fault_proxy.proxy.add(Rule(method_and_path("HEAD", "/manifests/"),
                               respond=(429, {"Retry-After": "600"}, b""), times=None))
    with pytest.raises(RateLimited) as caught:
        pull(fault_proxy.ref("library/hello:latest"), store, client=fault_proxy.client(sleep=pytest.fail))
    assert "resets in about 600 s (at " in str(caught.value) and caught.value.retry_after == 600


def test_pybuild_pull_reports_the_limit_without_a_traceback(fault_proxy, tmp_path):
    fault_proxy.proxy.add(Rule(_manifests, respond=(429, EXHAUSTED, TOO_MANY), times=None))
    result = _pybuild("pull", f"{fault_proxy.host}/library/hello:latest", home=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "TOOMANYREQUESTS" in result.stderr or "too many requests" in result.stderr
    assert "resets within 21600 s" in result.stderr


# -- push: chunks, resume, clean-up ----------------------------------------------------------------

CHUNKED = PushSettings(chunked_threshold=1000, chunk_size=8192)


def _pull_back(registry, repository: str, tmp_path: Path) -> None:
    """The pushed image, pulled straight from the registry (not through the proxy), verifies."""
    from registry_client import Reference

    store = ContentStore(tmp_path / "pulled-back")
    pulled = pull(Reference(registry.host, repository, "v1"), store, client=registry.client(), platform=AMD64)
    assert all(store.has(layer) for layer in pulled.manifest.layers)


def _not_first_chunk(request) -> bool:
    return request.method == "PATCH" and (request.header("Content-Range") or "0-").startswith("8192-")


def test_dropped_chunk_resumes_where_the_session_stands(fault_proxy, noauth_registry, images, tmp_path):
    fault_proxy.proxy.add(Rule(_not_first_chunk, drop_after=3000))  # the registry never sees it
    digest = push(fault_proxy.ref("test/resume-a:v1"), images.store, images.zstd.top,
                  client=fault_proxy.client(), settings=CHUNKED)
    assert digest == images.zstd.top.digest
    log = fault_proxy.proxy.log
    dropped = next(i for i, entry in enumerate(log) if entry.method == "PATCH" and entry.body_bytes == 3000)
    status, again = log[dropped + 1], log[dropped + 2]
    assert status.method == "GET" and "/blobs/uploads/" in status.target  # where does the session stand?
    assert again.method == "PATCH" and dict(again.headers)["Content-Range"].startswith("8192-")
    assert not any(entry.method == "DELETE" for entry in log)
    _pull_back(noauth_registry, "test/resume-a", tmp_path)


def test_session_the_registry_lost_is_deleted_and_started_again(fault_proxy, noauth_registry, images, tmp_path):
    # Half the chunk reaches the registry before the connection drops: distribution 2.8 then
    # refuses the session (its offset no longer matches), so it is deleted and started over.
    fault_proxy.proxy.add(Rule(_not_first_chunk, drop_after=3000, forward_partial=True))
    push(fault_proxy.ref("test/resume-b:v1"), images.store, images.zstd.top, client=fault_proxy.client(),
         settings=CHUNKED)
    log = fault_proxy.proxy.log
    dropped = next(i for i, entry in enumerate(log) if entry.method == "PATCH" and entry.body_bytes == 3000)
    after = [entry.method for entry in log[dropped + 1:dropped + 5]]
    assert after[:3] == ["GET", "DELETE", "POST"], after
    _pull_back(noauth_registry, "test/resume-b", tmp_path)


def test_chunks_honour_oci_chunk_min_length(fault_proxy, noauth_registry, images, tmp_path):
    fault_proxy.proxy.add(Rule(method_and_path("POST", "/blobs/uploads/"),
                               set_headers={"OCI-Chunk-Min-Length": "30000"}, times=None))
    push(fault_proxy.ref("test/min-chunk:v1"), images.store, images.zstd.top, client=fault_proxy.client(),
         settings=CHUNKED)
    sizes = [entry.body_bytes for entry in fault_proxy.proxy.log if entry.method == "PATCH"]
    assert max(sizes) == 30000 and 8192 not in sizes
    _pull_back(noauth_registry, "test/min-chunk", tmp_path)


def test_failed_upload_session_is_deleted(fault_proxy, noauth_registry, images):
    failure = json.dumps({"errors": [{"code": "UNKNOWN", "message": "disk full"}]}).encode()
    fault_proxy.proxy.add(Rule(method_and_path("PUT", "/blobs/uploads/"), respond=(500, {}, failure), times=None))
    with pytest.raises(TransportError) as caught:
        push(fault_proxy.ref("test/failed:v1"), images.store, images.zstd.top,
             client=fault_proxy.client(retry=RetryPolicy(attempts=2, base_delay=0.01)))
    assert "disk full" in str(caught.value)
    deletes = [entry for entry in fault_proxy.proxy.log if entry.method == "DELETE"]
    assert len(deletes) == 1 and "/blobs/uploads/" in deletes[0].target
    gone = requests.get(f"http://{noauth_registry.host}{deletes[0].target}", timeout=10)
    assert gone.status_code == 404 and "BLOB_UPLOAD_UNKNOWN" in gone.text


# -- Docker-Content-Digest ---------------------------------------------------------------------

BOGUS = "sha256:" + "0" * 64


def test_tag_whose_announced_digest_does_not_exist_fails_clearly(fault_proxy, store):
    fault_proxy.proxy.add(Rule(method_and_path("HEAD", "/manifests/latest"),
                               set_headers={"Docker-Content-Digest": BOGUS}))
    with pytest.raises(DigestMismatch) as caught:
        pull(fault_proxy.ref("library/hello:latest"), store, client=fault_proxy.client(), platform=AMD64)
    assert "Docker-Content-Digest" in str(caught.value) and BOGUS in str(caught.value)


def test_by_tag_without_a_head_digest_the_bytes_decide(fault_proxy, images, store):
    """containerd (and docker) hash a manifest fetched by tag themselves; the header is not trusted."""
    fault_proxy.proxy.add(Rule(method_and_path("HEAD", "/manifests/latest"), remove_headers=("Docker-Content-Digest",)))
    fault_proxy.proxy.add(Rule(method_and_path("GET", "/manifests/latest"), set_headers={"Docker-Content-Digest": BOGUS}))
    pulled = pull(fault_proxy.ref("library/hello:latest"), store, client=fault_proxy.client(), platform=AMD64)
    assert pulled.digest == images.multi.top.digest
    assert [e.method for e in fault_proxy.proxy.log if e.target.endswith("/manifests/latest")] == ["HEAD", "GET"]


def test_by_digest_the_header_is_ignored_and_the_bytes_must_match(fault_proxy, images, store):
    digest = images.multi.children["linux/amd64"].digest
    ref = f"{fault_proxy.host}/library/hello@{digest}"
    fault_proxy.proxy.add(Rule(method_and_path("GET", f"/manifests/{digest}"), set_headers={"Docker-Content-Digest": BOGUS}))
    assert pull(ref, store, client=fault_proxy.client()).manifest_descriptor.digest == digest
    fresh = ContentStore(store.root.parent / "fresh")
    fault_proxy.proxy.add(Rule(method_and_path("GET", f"/manifests/{digest}"), rewrite_body=lambda body: body + b" "))
    with pytest.raises(DigestMismatch) as caught:
        pull(ref, fresh, client=fault_proxy.client())
    assert str(digest) in str(caught.value) and "expected" in str(caught.value)
    assert not fresh.exists(Digest.parse(str(digest)))
