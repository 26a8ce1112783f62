"""``COPY --from`` keys on the content of the files it reads (BuildKit's contenthash), not on the source stage.

A source stage that runs again and yields the same files (a RUN that missed, ``--no-cache-filter``)
leaves the copy and everything after it cached, with the same image ID; different bytes or a
different mode make it run again.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.cachetransfer import CacheSpec, export_cache, import_cache
from builder.copy.source_digest import FileDigests, Selection, selection_digest
from builder.copy.sources import SourceRoot
from builder.events import StepCached, StepStarted
from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.plan import PlanRequest
from builder.services import Services, open_services
from builder.solve import BuildRequest, BuildResult, build
from cache_transfer_support import base_root, fresh_root  # noqa: F401 (base_root is a fixture)
from tests.support.images import flatten

privileged = pytest.mark.privileged

DOCKERFILE = """\
FROM busybox:local AS build
ARG NONCE
RUN mkdir -p /tree/logs && echo "{text}" > /tree/out && chmod {mode} /tree/out \\
 && echo "$NONCE" > /tree/logs/run.log && ln -s out /tree/link

FROM busybox:local
COPY --from=build --exclude=logs /tree/ /dst/
RUN --mount=type=bind,from=build,source=/tree/out,target=/mnt/out cat /mnt/out > /copied
RUN ls -l /dst > /listing
"""


def _build(root: Path, context: Path, events: list, *, text: str = "hello", mode: str = "644", nonce: str = "1",
           no_cache_filter: tuple[str, ...] = ()) -> BuildResult:
    services = open_services(root, emit=events.append)
    source = DockerfileSource("Dockerfile", None, DOCKERFILE.format(text=f"{text} {context.name}", mode=mode))
    plan = PlanRequest(build_args={"NONCE": nonce})
    return build(BuildRequest(source=source, context=context, plan=plan, no_cache_filter=no_cache_filter), services)


def _ran(events: list) -> list[str]:
    titles = {event.step_id: event.title for event in events if isinstance(event, StepStarted)}
    cached = {event.step_id for event in events if isinstance(event, StepCached)}
    return [title.split("] ", 1)[1] for step_id, title in titles.items() if step_id not in cached]


_SOURCE_RUN = "RUN mkdir -p /tree/logs && echo"
_FINAL_STEPS = ["COPY --from=build --exclude=logs /tree/ /dst/", "RUN --mount=type=bind,from=build,",
                "RUN ls -l /dst > /listing"]


def _ran_prefixes(events: list) -> list[str]:
    wanted = [_SOURCE_RUN, *_FINAL_STEPS]
    return [next(prefix for prefix in wanted if title.startswith(prefix)) for title in _ran(events)
            if any(title.startswith(prefix) for prefix in wanted)]


@privileged
def test_a_source_stage_rerun_with_identical_files_keeps_the_copy_cached(built_root: Path, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    first = _build(built_root, context, [])

    events: list = []  # the NONCE busts the source RUN; what it writes below /tree/out is the same
    second = _build(built_root, context, events, nonce="2")
    assert _ran_prefixes(events) == [_SOURCE_RUN]
    assert second.image.image_id == first.image.image_id

    events.clear()  # --no-cache-filter on the source stage: it runs again, the rest still hits
    third = _build(built_root, context, events, nonce="2", no_cache_filter=("build",))
    assert _ran_prefixes(events) == [_SOURCE_RUN]
    assert third.image.image_id == first.image.image_id


@privileged
def test_changed_content_or_mode_runs_the_copy_again(built_root: Path, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    first = _build(built_root, context, [])

    events: list = []
    changed = _build(built_root, context, events, text="bye")
    assert _ran_prefixes(events) == [_SOURCE_RUN, *_FINAL_STEPS]
    tree = flatten(built_root, changed.image.image_id, tmp_path / "changed")
    assert (tree / "dst/out").read_text() == f"bye {context.name}\n" == (tree / "copied").read_text()
    assert not (tree / "dst/logs").exists() and os.readlink(tree / "dst/link") == "out"

    events.clear()  # same bytes, another mode: the copy and what follows run again; the mount only reads bytes
    moded = _build(built_root, context, events, mode="600")
    assert _ran_prefixes(events) == [_SOURCE_RUN, "COPY --from=build --exclude=logs /tree/ /dst/",
                                     "RUN --mount=type=bind,from=build,", "RUN ls -l /dst > /listing"]
    tree = flatten(built_root, moded.image.image_id, tmp_path / "moded")
    assert (tree / "dst/out").stat().st_mode & 0o777 == 0o600
    assert moded.image.image_id != first.image.image_id


# -- the checksum itself, on a plain directory ---------------------------------------------------

def _digest(directory: Path, *words: str, exclude: tuple[str, ...] = ()) -> str:
    return selection_digest(SourceRoot(str(directory), name="test"), Selection(words, exclude), FileDigests(None))


def test_the_checksum_covers_content_mode_owner_and_links_but_not_times(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub/file").write_text("data")
    (tree / "other.log").write_text("log")
    os.symlink("sub/file", tree / "link")
    base = _digest(tmp_path, "/tree")

    os.utime(tree / "sub/file", (1, 1))
    assert _digest(tmp_path, "/tree") == base  # mtime never counts
    os.chmod(tree / "sub/file", 0o600)
    moded = _digest(tmp_path, "/tree")
    assert moded != base
    os.chown(tree / "sub/file", 1234, 1234)
    owned = _digest(tmp_path, "/tree")
    assert owned != moded
    os.unlink(tree / "link")
    os.symlink("sub", tree / "link")
    assert _digest(tmp_path, "/tree") != owned

    excluded = _digest(tmp_path, "/tree", exclude=("*.log",))
    (tree / "other.log").write_text("another log")
    assert _digest(tmp_path, "/tree", exclude=("*.log",)) == excluded  # an excluded file does not count
    assert _digest(tmp_path, "/tree") != _digest(tmp_path, "/tree", exclude=("*.log",))


def test_wildcards_count_the_names_they_match(tmp_path: Path) -> None:
    (tmp_path / "file1").write_text("same")
    (tmp_path / "unrelated").write_text("x")
    before = _digest(tmp_path, "/file*")
    (tmp_path / "unrelated").write_text("y")
    assert _digest(tmp_path, "/file*") == before  # a file the pattern does not match
    os.rename(tmp_path / "file1", tmp_path / "file2")
    assert _digest(tmp_path, "/file*") != before  # same bytes under another name (testWildcardRenameCache)


RERUN = """\
FROM busybox:local AS build
RUN echo {token} && cat /proc/sys/kernel/random/uuid > /stamp
{extra}
FROM busybox:local
COPY --from=build /stamp* /from-build/
RUN cp /from-build/stamp /copy
"""


def _rerun_build(root: Path, context: Path, extra: str = "", **options: object) -> tuple[BuildResult, Path]:
    text = RERUN.format(token=context.name, extra=extra)
    result = build(BuildRequest(source=DockerfileSource("Dockerfile", None, text), context=context,
                                plan=PlanRequest(), **options), open_services(root))  # type: ignore[arg-type]
    return result, flatten(root, result.image.image_id, context.parent / f"tree-{result.image.image_id[7:19]}")


@privileged
def test_a_source_rerun_with_new_output_is_what_later_steps_and_builds_read(built_root: Path, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    _, first = _rerun_build(built_root, context)

    # The source RUN runs again and writes another uuid: the copy and the RUN after it see the new one.
    rerun, second = _rerun_build(built_root, context, no_cache_filter=("build",))
    stamp = (second / "from-build/stamp").read_text()
    assert stamp != (first / "from-build/stamp").read_text() and (second / "copy").read_text() == stamp

    cached, _ = _rerun_build(built_root, context)  # a plain rebuild hits the re-run's records
    assert cached.image.image_id == rerun.image.image_id
    # A new step on the cached source RUN runs on the re-run's files, not the first run's.
    _, third = _rerun_build(built_root, context, extra="RUN cp /stamp /stamp.again")
    assert (third / "from-build/stamp.again").read_text() == stamp == (third / "from-build/stamp").read_text()

    _, fourth = _rerun_build(built_root, context, no_cache=True)  # --no-cache: one consistent new run
    assert (fourth / "copy").read_text() == (fourth / "from-build/stamp").read_text() != stamp


# ---------------------------------------------------------------- the fast key (BuildKit's solver/edge.go)

IMPORTED = """\
FROM busybox:local AS tools
RUN mkdir /tools && echo "tool {token}" > /tools/tool.bin && echo "lib {token}" > /tools/lib.so

FROM busybox:local
COPY --from=tools /tools/tool.bin /opt/
RUN --mount=type=bind,from=tools,source=/tools,target=/mnt cat /mnt/lib.so > /lib.copy
RUN cat /opt/tool.bin /lib.copy > /out
"""


def _two_stage(services: Services, context: Path, **options: object) -> BuildResult:
    source = DockerfileSource("Dockerfile", None, IMPORTED.format(token=context.name))
    return build(BuildRequest(source=source, context=context, plan=PlanRequest(), **options),  # type: ignore[arg-type]
                 services)


@privileged
def test_an_imported_cache_hits_the_copy_from_without_unpacking_its_source(base_root: Path, tmp_path: Path) -> None:
    """A fresh runner with the cache imported: every step CACHED through the fast keys, and the source
    stage's layers never unpacked (its step snapshots never made) nor its files checksummed."""
    context = tmp_path / "context"
    context.mkdir()
    services = open_services(fresh_root(tmp_path / "first", base_root))
    first = _two_stage(services, context)
    export_cache(services, (CacheSpec("local", tmp_path / "cache"),), first.image.config.diff_ids)

    runner = fresh_root(tmp_path / "runner", base_root)
    events: list = []
    services = open_services(runner, emit=events.append)
    import_cache(services, (CacheSpec("local", tmp_path / "cache"),))
    second = _two_stage(services, context)
    assert _ran(events) == [] and len([e for e in events if isinstance(e, StepCached)]) == 4
    assert second.image.image_id == first.image.image_id
    assert not [info.name for info in open_services(runner).snapshotter.list() if info.name.startswith("step-")]
    assert not [p.name for p in (runner / "cache" / "selections").glob("*") if len(p.name) == 64]
    tree = flatten(runner, second.image.image_id, tmp_path / "tree")
    assert (tree / "out").read_text() == f"tool {context.name}\nlib {context.name}\n"
