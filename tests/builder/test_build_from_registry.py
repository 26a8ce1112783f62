"""End to end: ``FROM`` a base image that lives in a real registry set up like Docker Hub.

The busybox base is pushed with ``pybuild push`` to Debian's docker-registry behind a
token server (anonymous pull tokens, push for a user) whose blob GETs are redirected to a
separate "CDN" host. A multi-arch OCI index (amd64 = busybox, arm64 = a synthetic image, an
attestation entry) is tagged ``latest``. Builds on brand-new roots then pull it the way
``docker build`` does: anonymously, choosing the platform, blobs fetched from the CDN
without the registry's Authorization header, and never twice.
"""
from __future__ import annotations

import base64
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from registry_commands_support import PASSWORD, USER, Pybuild, make_client
from registry_images import make_attestation, make_image
from registry_servers import BlobHost, RegistryProcess, TokenServer

from registry_client import ContentStore, Credentials, Descriptor, Index, MediaType, Platform, Reference, push, push_manifest, resolve
from tests.support.images import import_busybox

pytestmark = [pytest.mark.privileged,
              pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry not installed")]

AMD64, ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64", "v8")


@dataclass(frozen=True)
class Hub:
    host: str
    tokens: TokenServer
    cdn: BlobHost
    anonymous: Path  # a DOCKER_CONFIG directory without credentials

    @property
    def base(self) -> str:
        return f"{self.host}/library/busybox"


def _docker_config(directory: Path, auths: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps({"auths": {host: {"auth": value} for host, value in auths.items()}}))
    return directory


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Iterator[Hub]:
    work = tmp_path_factory.mktemp("hub")
    tokens = TokenServer(tmp_path_factory.mktemp("tokens"), {USER: PASSWORD})
    cdn = BlobHost(work / "data")
    process = RegistryProcess(work, tokens.registry_config() + (
        f"middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: {cdn.base_url}\n"))
    try:
        _publish_multi_arch_busybox(work, process.host, busybox_tar)
        yield Hub(process.host, tokens, cdn, _docker_config(work / "anonymous", {}))
    finally:
        process.stop()
        cdn.stop()
        tokens.stop()


def _publish_multi_arch_busybox(work: Path, host: str, busybox_tar: Path) -> None:
    """``latest`` = an OCI index of the pushed busybox (amd64), a synthetic arm64 image and an attestation."""
    publisher_root = work / "publisher"
    import_busybox(publisher_root, busybox_tar)
    pusher = Pybuild(publisher_root, _docker_config(
        work / "pusher", {host: base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}))
    for args in (("tag", "busybox:local", f"{host}/library/busybox:amd64"), ("push", f"{host}/library/busybox:amd64")):
        done = pusher(*args)
        assert done.returncode == 0, done.stderr
    client = make_client({host: _credentials()})
    amd64 = resolve(client, Reference(host, "library/busybox", "amd64"), AMD64).manifest.descriptor
    extra = ContentStore(work / "extra")
    arm64_manifest, _ = make_image(extra, ARM64, seed="hub-arm64")
    push(Reference(host, "library/busybox", "arm64"), extra, arm64_manifest, client=client)
    amd64_entry = Descriptor(amd64.media_type, amd64.digest, amd64.size, AMD64)
    attestation = make_attestation(extra, amd64_entry)
    push(Reference(host, "library/busybox", "attestation"), extra, attestation, client=client)
    entries = (amd64_entry, Descriptor(arm64_manifest.media_type, arm64_manifest.digest, arm64_manifest.size, ARM64),
               attestation)
    push_manifest(client, Reference(host, "library/busybox", "latest"), Index(entries, MediaType.OCI_INDEX).to_bytes(),
                  MediaType.OCI_INDEX, "latest")


def _credentials() -> Credentials:
    return Credentials(USER, PASSWORD)


def _context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "context"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(dockerfile)
    (context / "note.txt").write_text("from the context\n")
    return context


def _blob_gets(hub: Hub) -> list[dict]:
    return [entry for entry in hub.cdn.faults.log if "/blobs/" in entry["path"]]


def test_build_pulls_the_host_platform_anonymously_through_the_cdn(hub: Hub, tmp_path: Path) -> None:
    hub.cdn.reset()
    token_requests = len(hub.tokens.log.requests)
    pybuild = Pybuild(tmp_path / "root", hub.anonymous)
    context = _context(tmp_path, f"FROM {hub.base}\nCOPY note.txt /note.txt\nRUN cat /note.txt > /copied && uname -m > /arch\n")
    built = pybuild("build", "-t", "from-hub:1", "--progress", "plain", str(context))
    assert built.returncode == 0, built.stderr
    assert "Traceback" not in built.stderr
    # anonymous pull tokens only, scoped to the base repository
    requests = hub.tokens.log.requests[token_requests:]
    assert requests and all(request["user"] is None for request in requests)
    assert any("repository:library/busybox:pull" in " ".join(request["scopes"]) for request in requests)
    # layer and config blobs came from the CDN, without the registry's bearer token
    gets = _blob_gets(hub)
    assert gets and not any(entry["authorization"] for entry in gets)
    ran = pybuild("run", "from-hub:1", "cat", "/copied")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "from the context\n"


def test_a_second_build_never_downloads_the_base_again(hub: Hub, tmp_path: Path) -> None:
    pybuild = Pybuild(tmp_path / "root", hub.anonymous)
    first = pybuild("build", "-t", "again:1", str(_context(tmp_path, f"FROM {hub.base}\nRUN echo one > /one\n")))
    assert first.returncode == 0, first.stderr
    hub.cdn.reset()
    (tmp_path / "context" / "Dockerfile").write_text(f"FROM {hub.base}\nRUN echo two > /two\n")
    second = pybuild("build", "-t", "again:2", str(tmp_path / "context"))
    assert second.returncode == 0, second.stderr
    assert _blob_gets(hub) == []
    # --pull re-resolves the tag (a manifest request) but the blobs are still all present
    pulled = pybuild("build", "--pull", "-t", "again:3", str(tmp_path / "context"))
    assert pulled.returncode == 0, pulled.stderr
    assert _blob_gets(hub) == []


def test_platform_flag_selects_the_matching_index_entry(hub: Hub, tmp_path: Path) -> None:
    pybuild = Pybuild(tmp_path / "root", hub.anonymous)
    context = _context(tmp_path, f"FROM --platform=linux/arm64 {hub.base}\nCOPY note.txt /note.txt\n")
    built = pybuild("build", "-t", "arm:1", "--output", f"type=local,dest={tmp_path / 'out'}", str(context))
    assert built.returncode == 0, built.stderr
    out = tmp_path / "out"
    assert (out / "layer0/hello.txt").read_text() == "hello from linux/arm64/v8 layer 0\n"
    assert (out / "note.txt").read_text() == "from the context\n"
    assert not (out / "bin/busybox").exists()


def test_a_missing_base_tag_is_a_clear_error(hub: Hub, tmp_path: Path) -> None:
    pybuild = Pybuild(tmp_path / "root", hub.anonymous)
    failed = pybuild("build", str(_context(tmp_path, f"FROM {hub.base}:nope\nRUN true\n")))
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr
    assert "nope" in failed.stderr and "Dockerfile:1" in failed.stderr
