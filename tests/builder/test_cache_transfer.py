"""Cache export and import: the CI simulation of issue 6 (build, export, fresh root, import, rebuild)."""
from __future__ import annotations

import gzip
import os
import io
import tarfile
import time
from pathlib import Path

import pytest

from builder.cachetransfer import CacheSpec, export_cache, import_cache
from builder.events import BuildWarning, StepCached
from builder.frontend.dockerfile import DockerfileSource
from builder.services import open_services
from builder.solve import BuildRequest, build
from cache_transfer_support import (  # noqa: F401 (base_root is a fixture)
    SINGLE_STAGE,
    base_root,
    cached_build,
    fresh_root,
    make_context,
    ran,
    titles_of,
)
from tests.support.images import flatten

pytestmark = pytest.mark.privileged

def test_ci_simulation_fresh_runner_rebuilds_only_what_changed(tmp_path: Path, base_root: Path) -> None:
    context = make_context(tmp_path / "context")
    cache_dir = tmp_path / "ci-cache"
    root = fresh_root(tmp_path / "runner", base_root)
    started = time.monotonic()
    first = cached_build(root, context, [], cache_to=(CacheSpec("local", cache_dir),))
    cold = time.monotonic() - started
    assert (cache_dir / "index.json").is_file()

    root = fresh_root(tmp_path / "runner", base_root)  # the whole root is gone
    events: list = []
    started = time.monotonic()
    second = cached_build(root, context, events, cache_to=(CacheSpec("local", cache_dir),),
                          cache_from=(CacheSpec("local", cache_dir),))
    warm = time.monotonic() - started
    assert second.image.image_id == first.image.image_id
    assert ran(events) == [] and len(titles_of(events, StepCached)) == 8
    assert not [e for e in events if isinstance(e, BuildWarning)]
    tree = flatten(root, second.image.image_id, tmp_path / "tree")
    assert (tree / "app/out").read_text() == "main v1\ndebug=0\n"
    assert (tree / "opt/installed").read_text() == "libfoo\n"
    print(f"\nCI simulation: cold build {cold:.2f}s, fresh runner with imported cache {warm:.2f}s")

    (context / "main.txt").write_text("main v2\n")
    root = fresh_root(tmp_path / "runner", base_root)
    events.clear()
    third = cached_build(root, context, events, cache_from=(CacheSpec("local", cache_dir),))
    assert [t.split("] ", 1)[1] for t in ran(events)] == ["COPY main.txt ./", "RUN cat main.txt settings > out"]
    tree = flatten(root, third.image.image_id, tmp_path / "tree2")
    assert (tree / "app/out").read_text() == "main v2\ndebug=0\n"


def test_a_fully_cached_build_unpacks_nothing(tmp_path: Path, base_root: Path) -> None:
    context = make_context(tmp_path / "context")
    cache_dir = tmp_path / "ci-cache"
    root = fresh_root(tmp_path / "runner", base_root)
    services = open_services(root)
    request = BuildRequest(source=DockerfileSource("Dockerfile", None, SINGLE_STAGE), context=context)
    first = build(request, services)
    export_cache(services, (CacheSpec("local", cache_dir),), first.image.config.diff_ids)

    root = fresh_root(tmp_path / "runner", base_root)
    services = open_services(root)
    import_cache(services, (CacheSpec("local", cache_dir),))
    second = build(request, services)
    assert second.image.image_id == first.image.image_id
    # The base image is unpacked when its stage starts (builder.baseimage); no cached step is.
    assert not [info.name for info in services.snapshotter.list() if info.name.startswith("step-")]


def test_a_corrupt_cache_blob_is_rejected_and_its_step_runs(tmp_path: Path, base_root: Path) -> None:
    from builder.cachetransfer.ocidir import read_cache

    context = make_context(tmp_path / "context")
    cache_dir = tmp_path / "ci-cache"
    first = cached_build(fresh_root(tmp_path / "runner", base_root), context, [],
                         cache_to=(CacheSpec("local", cache_dir),))
    document = read_cache(cache_dir)

    def names(layer: object) -> list[str]:
        data = gzip.decompress((cache_dir / "blobs" / "sha256" / layer.blob.digest.hex).read_bytes())
        return tarfile.open(fileobj=io.BytesIO(data)).getnames()

    layer = next(layer for layer in document.layers if names(layer) == ["deps", "deps/deps.txt"])  # COPY deps.txt
    blob = cache_dir / "blobs" / "sha256" / layer.blob.digest.hex
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit in the middle of the compressed stream
    blob.write_bytes(bytes(data))

    events: list = []
    second = cached_build(fresh_root(tmp_path / "runner", base_root), context, events,
                          cache_from=(CacheSpec("local", cache_dir),))
    warnings = [e.message for e in events if isinstance(e, BuildWarning)]
    assert len(warnings) == 1 and str(layer.blob.digest) in warnings[0] and "rejected" in warnings[0]
    assert ran(events) == ["[deps 2/3] COPY deps.txt /deps/"]  # the rest hit on top of the re-run step
    assert second.image.config.diff_ids == first.image.config.diff_ids


def test_a_failed_export_is_a_warning_and_a_failed_build_still_exports(tmp_path: Path, base_root: Path) -> None:
    context = make_context(tmp_path / "context")
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory should be")
    events: list = []
    result = cached_build(fresh_root(tmp_path / "runner", base_root), context, events,
                          cache_to=(CacheSpec("local", blocked / "cache", timeout=5),))
    warnings = [e.message for e in events if isinstance(e, BuildWarning)]
    assert result.image.image_id and len(warnings) == 1 and "cache export" in warnings[0]

    cache_dir = tmp_path / "ci-cache"
    (context / "main.txt").unlink()  # COPY main.txt fails: the steps before it are exported anyway
    with pytest.raises(Exception):
        cached_build(fresh_root(tmp_path / "runner", base_root), context, [],
                     cache_to=(CacheSpec("local", cache_dir),))
    from builder.cachetransfer.ocidir import read_cache

    assert len(read_cache(cache_dir).records) == 7  # with the COPY --from's fast key


def test_mode_min_exports_only_the_final_images_steps(tmp_path: Path, base_root: Path) -> None:
    from builder.cachetransfer.ocidir import read_cache

    context = make_context(tmp_path / "context")
    cached_build(fresh_root(tmp_path / "runner", base_root), context, [],
                 cache_to=(CacheSpec("local", tmp_path / "min", mode="min"), CacheSpec("local", tmp_path / "max")))
    assert len(read_cache(tmp_path / "max").records) == 9  # 8 steps and the COPY --from's fast key
    assert len(read_cache(tmp_path / "min").records) == 7  # not the deps stage


def test_cache_flags_parse_like_buildx() -> None:
    from builder.cachetransfer import parse_cache_specs
    from builder.errors import UsageError

    (spec,) = parse_cache_specs(["type=local,dest=/tmp/c,mode=min,ignore-error=true"], export=True)
    assert spec == CacheSpec("local", Path("/tmp/c"), "min")
    assert parse_cache_specs(["type=local,src=/tmp/c"], export=False)[0].path == Path("/tmp/c")
    (bare,) = parse_cache_specs(["localhost:5000/app:cache"], export=False)  # buildx: a bare value is a ref
    assert (bare.kind, bare.ref) == ("registry", "localhost:5000/app:cache")
    assert parse_cache_specs(["type=inline"], export=True)[0].kind == "inline"
    for bad in ("type=gha", "type=local", "type=local,dest=/x,mode=all", "type=local,dest=/x,colour=red", "x,y",
                "type=registry", "type=registry,ref=app/UPPER", "type=inline,colour=red"):
        with pytest.raises(UsageError):
            parse_cache_specs([bad], export=True)
    with pytest.raises(UsageError):
        parse_cache_specs(["type=inline"], export=False)


def test_gzip_layers_are_read_member_by_member_and_verified(tmp_path: Path) -> None:
    from builder.cachetransfer.document import CachedLayer
    from builder.cachetransfer.importing import fetch_layer
    from registry_client import ContentStore, Digest, MediaType

    cache, local = ContentStore(tmp_path / "cache"), ContentStore(tmp_path / "local")
    plain = os.urandom(3 << 20) + b"x" * (2 << 20)

    def layer(blob: bytes, plain_bytes: bytes = plain) -> CachedLayer:
        descriptor = cache.put_bytes(blob, MediaType.OCI_LAYER_GZIP)
        return CachedLayer(descriptor, Digest.of(plain_bytes), len(plain_bytes))

    # two members (as pigz writes them) with zero padding between and after, as gzip allows
    members = gzip.compress(plain[:1 << 20]) + b"\0" * 10 + gzip.compress(plain[1 << 20:]) + b"\0" * 512
    fetch_layer(cache, layer(members), local)
    assert local.read_bytes(Digest.of(plain)) == plain

    refused = {"truncated": layer(members[:-600]),
               "bomb": layer(gzip.compress(b"\0" * (256 << 20)), b"\0" * 1000),  # claims 1000 bytes
               "trailing garbage": layer(members + b"garbage")}
    for name, bad in refused.items():
        with pytest.raises(Exception):
            fetch_layer(cache, bad, ContentStore(tmp_path / name))
        assert not ContentStore(tmp_path / name).exists(bad.diff_id), name
