"""Shared by the cache transfer tests: a two-stage Dockerfile, fresh CI runners, cached builds.

A "runner" is a pybuild root that holds only ``busybox:local`` (what a CI machine has after
pulling the base image); ``cached_build`` does what ``pybuild build --cache-from ...
--cache-to ...`` does around the core build.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from builder.cachetransfer import CacheSpec, export_cache, import_cache
from builder.events import StepCached, StepStarted
from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.plan import PlanRequest
from builder.services import open_services
from builder.solve import BuildRequest, BuildResult, build
from registry_client import RegistryClient
from tests.support.images import import_busybox

DOCKERFILE = """\
FROM busybox:local AS deps
COPY deps.txt /deps/
RUN cp /deps/deps.txt /deps/installed && echo built > /deps/marker

FROM busybox:local
COPY --from=deps /deps/installed /opt/
WORKDIR /app
COPY config.txt ./
RUN cat config.txt > settings
COPY main.txt ./
RUN cat main.txt settings > out
"""
SINGLE_STAGE = DOCKERFILE.split("\n\n", 1)[1].replace("COPY --from=deps /deps/installed /opt/\n", "")


def make_context(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in {"deps.txt": "libfoo\n", "config.txt": "debug=0\n", "main.txt": "main v1\n"}.items():
        (directory / name).write_text(text)
    return directory


@pytest.fixture(scope="module")
def base_root(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Path:
    """A root holding only busybox:local: what a runner has after pulling the (same) base image."""
    root = tmp_path_factory.mktemp("base-root")
    import_busybox(root, busybox_tar)
    return root


def fresh_root(directory: Path, base_root: Path) -> Path:
    """A runner that has never built anything: the whole pybuild root is new, the base image pulled."""
    shutil.rmtree(directory, ignore_errors=True)
    shutil.copytree(base_root, directory)
    return directory


def cached_build(root: Path, context: Path, events: list, cache_to: tuple[CacheSpec, ...] = (),
                 cache_from: tuple[CacheSpec, ...] = (), *, dockerfile: str = DOCKERFILE,
                 tags: tuple[str, ...] = (), registry: Callable[[], RegistryClient] | None = None) -> BuildResult:
    """What ``pybuild build --cache-from ... --cache-to ...`` does around the core build."""
    services = open_services(root, emit=events.append)
    import_cache(services, cache_from, registry)
    result = None
    try:
        result = build(BuildRequest(source=DockerfileSource("Dockerfile", None, dockerfile), context=context,
                                    plan=PlanRequest(), tags=tags, registry=registry or RegistryClient,
                                    inline_cache=any(spec.kind == "inline" for spec in cache_to)), services)
    finally:
        export_cache(services, cache_to, result.image.config.diff_ids if result else None, registry)
    return result


def titles_of(events: list, kind: type) -> list[str]:
    titles = {event.step_id: event.title for event in events if isinstance(event, StepStarted)}
    return [titles[event.step_id] for event in events if isinstance(event, kind)]


def ran(events: list) -> list[str]:
    """Titles of the layer steps that ran (were not answered from the cache)."""
    cached = set(titles_of(events, StepCached))
    return [t for t in titles_of(events, StepStarted) if t not in cached and any(
        op in t for op in ("] RUN", "] COPY", "] WORKDIR"))]


def instructions(titles: list[str]) -> list[str]:
    """``[stage n/m] COPY x y`` -> ``COPY x y``."""
    return [title.split("] ", 1)[1] for title in titles]
