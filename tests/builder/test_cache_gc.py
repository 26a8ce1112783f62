"""The after-build cache GC (config.json ``gc``) and mode normalisation of COPY keys (``cache.normalize-modes``)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from builder.cache.gc import collect_if_needed
from builder.cache.settings import DEFAULT_KEEP_CAP, DEFAULT_KEEP_DURATION, GcPolicy, load_cache_settings
from builder.errors import UsageError
from builder.events import StepCached
from builder.frontend.dockerfile import DockerfileSource
from builder.imagestore.locks import locked
from builder.services import open_services
from builder.solve import BuildRequest, BuildResult, build
from tests.support.images import flatten, import_busybox


@pytest.fixture
def root(tmp_path: Path, busybox_tar: Path) -> Path:
    root = tmp_path / "root"
    import_busybox(root, busybox_tar)
    return root


def configure(root: Path, document: dict[str, Any]) -> None:
    (root / "config.json").write_text(json.dumps(document))


def build_in(root: Path, context: Path, dockerfile: str, events: list[Any] | None = None) -> BuildResult:
    services = open_services(root, emit=events.append if events is not None else lambda event: None)
    return build(BuildRequest(source=DockerfileSource("Dockerfile", None, dockerfile), context=context), services)


def noise_step(name: str) -> str:
    return f"FROM busybox:local\nRUN head -c 100000 /dev/urandom > /{name}\n"


def test_defaults_follow_buildkit_and_bad_settings_name_the_file(tmp_path: Path) -> None:
    settings = load_cache_settings(tmp_path)
    assert settings.gc.enabled and not settings.normalize_modes
    assert 0 < settings.gc.keep_storage <= DEFAULT_KEEP_CAP
    assert settings.gc.keep_duration == DEFAULT_KEEP_DURATION
    configure(tmp_path, {"gc": {"keep-storage": "20GB", "keep-duration": "48h"}, "cache": {"normalize-modes": True}})
    settings = load_cache_settings(tmp_path)
    assert (settings.gc.keep_storage, settings.gc.keep_duration, settings.normalize_modes) == (20 << 30, 172800, True)
    configure(tmp_path, {"gc": {"keep-storage": "lots"}})
    with pytest.raises(UsageError, match=r"config\.json: gc: invalid size 'lots'"):
        load_cache_settings(tmp_path)
    configure(tmp_path, {"cache": {"normalize-modes": "yes"}})
    with pytest.raises(UsageError, match="normalize-modes must be true or false"):
        load_cache_settings(tmp_path)


@pytest.mark.privileged
def test_a_build_over_the_limit_prunes_least_recently_used_entries(root: Path, tmp_path: Path) -> None:
    configure(root, {"gc": {"keep-storage": "150KB"}})
    build_in(root, tmp_path, noise_step("first"))
    services = open_services(root)
    [first] = list(services.cache.entries())
    usage = services.cache.usage.read()
    assert usage is not None and usage.bytes == first.record.size > 100000  # the estimate, kept without a walk
    build_in(root, tmp_path, noise_step("second"))  # 2 x 100 KB > 150 KB: the older entry goes
    [second] = list(open_services(root).cache.entries())
    assert second.key != first.key
    usage = open_services(root).cache.usage.read()
    assert usage is not None and usage.bytes == second.record.size


@pytest.mark.privileged
def test_gc_is_skipped_under_the_limit_when_disabled_and_while_the_store_is_busy(root: Path, tmp_path: Path) -> None:
    configure(root, {"gc": {"enabled": False, "keep-storage": "1KB"}})
    build_in(root, tmp_path, noise_step("first"))
    build_in(root, tmp_path, noise_step("second"))
    services = open_services(root)
    assert len(list(services.cache.entries())) == 2
    assert services.cache.usage.read() is None  # never walked: unknown, even if records were added
    with locked(root / "gc.lock", shared=True):  # another build is running: GC does not wait for it
        assert collect_if_needed(services, GcPolicy(True, 1024, None)) is None
    assert len(list(services.cache.entries())) == 2
    under = GcPolicy(True, 10 << 20, None)
    walked = collect_if_needed(services, under)  # the unknown figure needs one walk; nothing goes
    assert walked is not None and walked.pruned is None and walked.before == walked.after > 200000
    assert collect_if_needed(services, under) is None  # now cheap: the estimate is under the limit
    collection = collect_if_needed(services, GcPolicy(True, 0, None))
    assert collection is not None and collection.pruned is not None and collection.pruned.records == 2
    assert collection.after == 0 and list(services.cache.entries()) == []


def make_context(directory: Path, mode: int) -> Path:
    directory.mkdir()
    app = directory / "app.txt"
    app.write_text("same bytes\n")
    os.chmod(app, mode)
    return directory


@pytest.mark.privileged
@pytest.mark.parametrize("normalize", [False, True])
def test_normalized_modes_let_contexts_that_differ_by_umask_share_copy_cache(root: Path, tmp_path: Path,
                                                                              normalize: bool) -> None:
    if normalize:
        configure(root, {"cache": {"normalize-modes": True}})
    laptop = make_context(tmp_path / "laptop", 0o664)  # umask 002
    ci = make_context(tmp_path / "ci", 0o644)  # umask 022
    dockerfile = "FROM busybox:local\nCOPY app.txt /app.txt\n"
    first = build_in(root, laptop, dockerfile)
    tree = flatten(root, first.image.image_id, tmp_path / "tree")
    assert (tree / "app.txt").stat().st_mode & 0o777 == 0o664  # the image keeps the real mode
    events: list[Any] = []
    build_in(root, ci, dockerfile, events)
    hits = [event for event in events if isinstance(event, StepCached)]
    assert len(hits) == (1 if normalize else 0)
