"""Cache export/import through a real registry (type=registry) and inside the image (type=inline).

The CI simulation of issue 6 again, with the registry as the store that outlives runners,
and many runners pushing and pulling one cache ref at once.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from builder.cachetransfer import CacheSpec
from builder.cachetransfer.document import CONFIG_TYPE
from builder.cachetransfer.inline import INLINE_KEY
from builder.events import BuildWarning, StepCached
from builder.image.distribution import push_image
from builder.imagestore import ImageStore
from cache_transfer_support import (  # noqa: F401 (base_root is a fixture)
    DOCKERFILE,
    SINGLE_STAGE,
    base_root,
    cached_build,
    fresh_root,
    instructions,
    make_context,
    ran,
    titles_of,
)
from registry_commands_support import ROOT, make_client, seeded_registry
from registry_clients import PASSWORD, USER
from registry_client import ContentStore, Credentials, ImageConfig, parse_reference, resolve
from registry_servers import TokenServer
from tests.support.images import flatten

pytestmark = [pytest.mark.privileged,
              pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry not installed")]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with seeded_registry(tmp_path_factory.mktemp("registry")) as seeded:
        yield seeded.host


def warnings_in(events: list) -> list[str]:
    return [event.message for event in events if isinstance(event, BuildWarning)]


def test_ci_simulation_through_a_registry(registry: str, tmp_path: Path, base_root: Path) -> None:
    context = make_context(tmp_path / "context")
    cache = (CacheSpec("registry", ref=f"{registry}/ci/app:buildcache"),)
    runner = tmp_path / "runner"
    events: list = []
    first = cached_build(fresh_root(runner, base_root), context, events, cache_to=cache, cache_from=cache,
                         registry=make_client)
    assert [w for w in warnings_in(events) if "no cache at" not in w] == []  # the very first run has none

    manifest = resolve(make_client(), cache[0].ref).manifest.parsed
    assert manifest.config.media_type == CONFIG_TYPE  # an OCI artifact, gzip layers
    assert {layer.media_type for layer in manifest.layers} == {"application/vnd.oci.image.layer.v1.tar+gzip"}
    exported = resolve(make_client(), cache[0].ref).manifest.descriptor.digest

    events.clear()  # a new runner: the whole root is gone
    second = cached_build(fresh_root(runner, base_root), context, events, cache_to=cache, cache_from=cache,
                          registry=make_client)
    assert second.image.image_id == first.image.image_id
    assert ran(events) == [] and len(titles_of(events, StepCached)) == 8
    assert warnings_in(events) == []
    tree = flatten(runner, second.image.image_id, tmp_path / "tree")
    assert (tree / "app/out").read_text() == "main v1\ndebug=0\n"
    assert (tree / "opt/installed").read_text() == "libfoo\n"
    # the re-export sends the same records with the layers already there: the same manifest
    assert resolve(make_client(), cache[0].ref).manifest.descriptor.digest == exported

    (context / "main.txt").write_text("main v2\n")
    events.clear()
    third = cached_build(fresh_root(runner, base_root), context, events, cache_from=cache, registry=make_client)
    assert instructions(ran(events)) == ["COPY main.txt ./", "RUN cat main.txt settings > out"]
    assert (flatten(runner, third.image.image_id, tmp_path / "tree2") / "app/out").read_text() == \
        "main v2\ndebug=0\n"


def test_ci_simulation_through_an_inline_cache(registry: str, tmp_path: Path, base_root: Path) -> None:
    context = make_context(tmp_path / "context")
    image = f"{registry}/ci/inline:latest"
    inline = (CacheSpec("inline"),)
    from_image = (CacheSpec("registry", ref=image),)
    runner = tmp_path / "runner"

    def build_and_push(dockerfile: str, cache_from: tuple[CacheSpec, ...] = ()) -> tuple[str, list]:
        events: list = []
        result = cached_build(fresh_root(runner, base_root), context, events, cache_to=inline,
                              cache_from=cache_from, dockerfile=dockerfile, tags=(image,), registry=make_client)
        push_image(ImageStore(runner), image, client=make_client())
        return result.image.image_id, events

    first, _ = build_and_push(SINGLE_STAGE)
    pulled = resolve(make_client(), image).manifest.parsed
    config = ImageConfig.from_bytes(_blob(registry, "ci/inline", pulled.config, tmp_path))
    assert len(config.extra[INLINE_KEY]["records"]) == 5  # WORKDIR, COPY, RUN, COPY, RUN

    second, events = build_and_push(SINGLE_STAGE, from_image)  # a fresh runner, --cache-from the image
    assert second == first  # the same records (and times) go inline again: the same image ID
    assert ran(events) == [] and len(titles_of(events, StepCached)) == 5 and warnings_in(events) == []

    (context / "main.txt").write_text("main v2\n")
    _, events = build_and_push(SINGLE_STAGE, from_image)
    assert instructions(ran(events)) == ["COPY main.txt ./", "RUN cat main.txt settings > out"]

    # An image carries only its own layers (mode=min): another stage's steps run again, the rest hit.
    (context / "main.txt").write_text("main v1\n")
    build_and_push(DOCKERFILE)
    _, events = build_and_push(DOCKERFILE, from_image)
    assert instructions(ran(events)) == ["COPY deps.txt /deps/",
                                         "RUN cp /deps/deps.txt /deps/installed && echo built > /deps/marker"]


def _blob(registry: str, repository: str, descriptor: object, tmp_path: Path) -> bytes:
    store = ContentStore(tmp_path / "pulled")
    make_client().fetch_blob(parse_reference(f"{registry}/{repository}"), descriptor, store)  # type: ignore[arg-type]
    return store.read_bytes(descriptor.digest)  # type: ignore[attr-defined]


def test_a_missing_or_foreign_ref_only_warns(registry: str, tmp_path: Path, base_root: Path) -> None:
    context = make_context(tmp_path / "context")
    plain = f"{registry}/ci/plain:1"  # an image built without an inline cache
    cached_build(fresh_root(tmp_path / "runner", base_root), context, [], dockerfile=SINGLE_STAGE, tags=(plain,))
    push_image(ImageStore(tmp_path / "runner"), plain, client=make_client())
    events: list = []
    result = cached_build(fresh_root(tmp_path / "runner", base_root), context, events, dockerfile=SINGLE_STAGE,
                          cache_from=(CacheSpec("registry", ref=f"{registry}/ci/nothing:here"),
                                      CacheSpec("registry", ref=plain),
                                      CacheSpec("registry", ref="127.0.0.1:9/ci/down:1")),
                          registry=make_client)
    assert result.image.image_id
    warnings = warnings_in(events)
    assert len(warnings) == 3, warnings
    assert "no cache at" in warnings[0] and "no inline cache" in warnings[1] and "unusable" in warnings[2]


def test_concurrent_runners_share_one_cache_ref(registry: str, tmp_path: Path, base_root: Path) -> None:
    """Three runners push and pull the same ref at once, twice; the ref stays a valid cache."""
    ref = f"{registry}/ci/shared:cache"
    context = make_context(tmp_path / "context")
    variants = [SINGLE_STAGE + f"RUN echo variant {n} > /variant\n" for n in range(3)]
    for n, text in enumerate(variants):
        (context / f"Dockerfile.{n}").write_text(text)
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    environment = {k: v for k, v in os.environ.items() if k not in ("PYBUILD_CONFIG", "PYBUILD_ROOT")}
    environment["DOCKER_CONFIG"] = str(docker_config)
    for round_ in range(2):
        runs = [subprocess.Popen(
            [sys.executable, "-m", "builder.cli", "--root", str(fresh_root(tmp_path / f"runner{n}", base_root)),
             "build", "--progress", "plain", "-f", str(context / f"Dockerfile.{n}"),
             "--cache-from", ref, "--cache-to", f"type=registry,ref={ref}", str(context)],
            cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for n in range(3)]
        outputs = [run.communicate(timeout=180)[0] for run in runs]
        for run, output in zip(runs, outputs):
            assert run.returncode == 0, output
            assert "exported cache to" in output, output
            assert "WARNING" not in output or (round_ == 0 and "no cache at" in output), output

    all_cached = []
    for n, text in enumerate(variants):
        events: list = []
        cached_build(fresh_root(tmp_path / "check", base_root), context, events, dockerfile=text,
                     cache_from=(CacheSpec("registry", ref=ref),), registry=make_client)
        assert warnings_in(events) == []  # readable, every blob present and verified
        assert ran(events) == [] or instructions(ran(events)) == [f"RUN echo variant {n} > /variant"]
        all_cached.append(ran(events) == [])
    assert all_cached.count(True) == 1  # the last manifest pushed wins, whole


def test_token_auth_registry(tmp_path: Path, base_root: Path) -> None:
    (tmp_path / "tokens").mkdir()
    tokens = TokenServer(tmp_path / "tokens", {USER: PASSWORD})
    try:
        with seeded_registry(tmp_path, tokens.registry_config(), Credentials(USER, PASSWORD)) as seeded:
            _token_round_trip(f"{seeded.host}/ci/private:cache", seeded.host, tmp_path, base_root)
    finally:
        tokens.stop()


def _token_round_trip(ref: str, host: str, tmp_path: Path, base_root: Path) -> None:
    context = make_context(tmp_path / "context")

    def as_user() -> object:
        return make_client({host: Credentials(USER, PASSWORD)})

    events: list = []
    cached_build(fresh_root(tmp_path / "runner", base_root), context, events, dockerfile=SINGLE_STAGE,
                 cache_to=(CacheSpec("registry", ref=ref, timeout=20),), registry=make_client)
    (warning,) = warnings_in(events)  # anonymous users may only pull: a warning, no retries, no failure
    assert "cache export to" in warning and "failed" in warning

    first = cached_build(fresh_root(tmp_path / "runner", base_root), context, [], dockerfile=SINGLE_STAGE,
                         cache_to=(CacheSpec("registry", ref=ref),), registry=as_user)
    events.clear()
    second = cached_build(fresh_root(tmp_path / "runner", base_root), context, events, dockerfile=SINGLE_STAGE,
                          cache_from=(CacheSpec("registry", ref=ref),), registry=as_user)
    assert second.image.image_id == first.image.image_id and ran(events) == [] and warnings_in(events) == []
