"""Push (chunked, mount, skip existing), skopeo interop and docker.io mirrors."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from registry_client import Platform, PushSettings, pull, push, tag

AMD64 = Platform("linux", "amd64")
needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")


def test_chunked_push_round_trips(noauth_registry, images, store):
    ref = noauth_registry.ref("test/chunked:v1")
    settings = PushSettings(chunked_threshold=1000, chunk_size=4096)
    digest = push(ref, images.store, images.zstd.top, client=noauth_registry.client(), settings=settings)
    assert digest == images.zstd.top.digest
    pulled = pull(ref, store, client=noauth_registry.client(), platform=AMD64)
    assert pulled.digest == digest


def test_push_skips_existing_blobs_and_mounts_across_repositories(hub_registry, token_server, images):
    client = hub_registry.client()
    before = len(token_server.log.requests)
    push(hub_registry.ref("other/copy:latest"), images.store, images.zstd.top, client=client,
         mount_from="test/zstd")
    scopes = [r["scopes"] for r in token_server.log.requests[before:]]
    assert ["repository:other/copy:pull,push", "repository:test/zstd:pull"] in scopes
    mounts = [line for line in hub_registry.process.log().splitlines() if "mount=" in line and "other/copy" in line and "http.response.status" in line]
    assert mounts and all("http.response.status=201" in line for line in mounts)


def test_tag_points_a_new_tag_at_a_pushed_manifest(noauth_registry, images, store):
    client = noauth_registry.client()
    tag(noauth_registry.ref("library/hello:latest"), images.store, images.multi.top, "again", client=client)
    pulled = pull(noauth_registry.ref("library/hello:again"), store, client=client, platform=AMD64)
    assert pulled.digest == images.multi.top.digest


@needs_skopeo
def test_skopeo_inspects_and_copies_our_push(noauth_registry, images, tmp_path):
    source = f"docker://{noauth_registry.host}/library/hello:latest"
    raw = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--raw", source],
                         capture_output=True, check=True).stdout
    assert json.loads(raw)["mediaType"] == "application/vnd.oci.image.index.v1+json"
    info = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--override-arch", "arm64", source],
                          capture_output=True, check=True, text=True).stdout
    assert json.loads(info)["Architecture"] == "arm64"
    subprocess.run(["skopeo", "copy", "-q", "--all", "--src-tls-verify=false", source,
                    f"oci:{tmp_path / 'layout'}:copy"], check=True, capture_output=True)
    index = json.loads((tmp_path / "layout" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == str(images.multi.top.digest)


@needs_skopeo
def test_we_pull_what_skopeo_pushed(noauth_registry, images, tmp_path, store):
    layout = tmp_path / "layout"
    subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", "--override-arch", "arm64",
                    f"docker://{noauth_registry.host}/library/hello:latest", f"oci:{layout}:x"],
                   check=True, capture_output=True)
    subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", "--format", "v2s2", f"oci:{layout}:x",
                    f"docker://{noauth_registry.host}/skopeo/pushed:v2s2"], check=True, capture_output=True)
    pulled = pull(noauth_registry.ref("skopeo/pushed:v2s2"), store, client=noauth_registry.client(),
                  platform=Platform("linux", "arm64"))
    assert pulled.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert [str(d) for d in pulled.config.diff_ids] == images.multi.diff_ids["linux/arm64/v8"]


def test_docker_io_goes_to_mirrors_in_order(noauth_registry, basic_registry, images, store):
    from registry_clients import make_client
    mirrors = (f"http://{basic_registry.host}", f"http://{noauth_registry.host}")  # first wants a login
    client = make_client(mirrors=mirrors)
    pulled = pull("hello", store, client=client, platform=AMD64)  # docker.io/library/hello:latest
    assert pulled.digest == images.multi.top.digest
    assert str(pulled.reference).startswith("docker.io/library/hello:latest@sha256:")
