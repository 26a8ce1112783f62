"""A cached build and a --no-cache re-run of the same step, interleaved at the one bad moment.

The re-run removes the re-run snapshot its key's old record named (``builder.stagestate``).
A build that read that old record just before, and is about to prepare its next step on that
snapshot, must still build what the old record describes. The interleaving is made certain by
the cached build's own events: it stops right after its cached step, before the next one
prepares, while the re-runs complete.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from builder.cache.stepnames import parse_step_name
from builder.events import StepStarted
from builder.frontend.dockerfile import DockerfileSource
from builder.services import Services, open_services
from builder.solve import BuildRequest, BuildResult, build
from tests.support.images import flatten

pytestmark = pytest.mark.privileged

EPOCH = 1_000_000  # every layer's mtimes clamped: the same files make the same layer in every run


def build_with_secret(root: Path, context: Path, text: str, secret: bytes, *, no_cache: bool,
                      emit: Callable[[object], None] = lambda event: None) -> tuple[Services, BuildResult]:
    """A real build; the secret (which no cache key sees) decides what the step writes."""
    services = open_services(root, emit=emit)
    result = build(BuildRequest(source=DockerfileSource("Dockerfile", None, text), context=context,
                                no_cache=no_cache, secrets={"s": secret}, source_date_epoch=EPOCH), services)
    return services, result


class PausedBuild:
    """A cached build run in a thread, held just before the step whose title contains ``pause_at``."""

    def __init__(self, root: Path, context: Path, text: str, pause_at: str) -> None:
        self.reached = threading.Event()
        self.resume = threading.Event()
        self.result: BuildResult | None = None
        self.error: BaseException | None = None

        def emit(event: object) -> None:
            if isinstance(event, StepStarted) and pause_at in event.title:
                self.reached.set()
                assert self.resume.wait(120)

        def run() -> None:
            try:
                _, self.result = build_with_secret(root, context, text, b"unused", no_cache=False, emit=emit)
            except BaseException as exc:  # reported by ``finish``
                self.error = exc
                self.reached.set()

        self._thread = threading.Thread(target=run, name="cached-build")
        self._thread.start()
        assert self.reached.wait(120) and self.error is None

    def finish(self) -> BuildResult:
        self.resume.set()
        self._thread.join(120)
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def step_names(services: Services, key_hex: str) -> set[str]:
    return {info.name for info in services.snapshotter.list()
            if (step := parse_step_name(info.name)) is not None and step.key_hex == key_hex}


def rerun_setup(root: Path, tmp_path: Path) -> tuple[Path, str, str, str]:
    """A step re-run once (its record names ``step-<key>-r1``, holding "one"); and a Dockerfile reading it."""
    context = tmp_path / "context"
    context.mkdir()
    writer = (f"FROM busybox:local\nRUN --mount=type=secret,id=s cp /run/secrets/s /a && echo {tmp_path.name}\n")
    build_with_secret(root, context, writer, b"first", no_cache=False)
    services, _ = build_with_secret(root, context, writer, b"one", no_cache=True)
    (key_hex, record), = services.cache.used.items()
    assert record.snapshot == f"step-{key_hex}-r1"
    return context, writer, writer + "RUN cat /a > /b\n", key_hex


def test_a_cached_build_rebuilds_the_snapshot_a_rerun_removed_from_the_record_it_read(
        built_root: Path, tmp_path: Path) -> None:
    context, writer, reader, key_hex = rerun_setup(built_root, tmp_path)
    paused = PausedBuild(built_root, context, reader, pause_at="RUN cat /a")  # it read the record naming -r1
    services, rerun = build_with_secret(built_root, context, writer, b"two", no_cache=True)
    assert step_names(services, key_hex) == {f"step-{key_hex}", f"step-{key_hex}-r2"}  # -r1 is gone

    result = paused.finish()
    tree = flatten(built_root, result.image.image_id, tmp_path / "tree")
    assert (tree / "a").read_bytes() == (tree / "b").read_bytes() == b"one"  # the record it read, whole
    assert result.image.config.diff_ids[-2] != rerun.image.config.diff_ids[-1]
    assert f"step-{key_hex}-r1" in step_names(services, key_hex)  # made again from its layer


def test_a_copy_from_a_stage_whose_rerun_snapshot_a_rerun_removed_reads_the_files_it_read(
        built_root: Path, tmp_path: Path) -> None:
    context, writer, _, key_hex = rerun_setup(built_root, tmp_path)
    reader = writer + "FROM busybox:local\nCOPY --from=0 /a /copied\n"
    paused = PausedBuild(built_root, context, reader, pause_at="COPY --from=0")
    services, _ = build_with_secret(built_root, context, writer, b"two", no_cache=True)
    assert f"step-{key_hex}-r1" not in step_names(services, key_hex)

    result = paused.finish()
    assert (flatten(built_root, result.image.image_id, tmp_path / "tree") / "copied").read_bytes() == b"one"


def test_a_cached_build_takes_the_snapshot_the_record_names_now_when_it_holds_the_same_files(
        built_root: Path, tmp_path: Path) -> None:
    context, writer, reader, key_hex = rerun_setup(built_root, tmp_path)
    paused = PausedBuild(built_root, context, reader, pause_at="RUN cat /a")
    build_with_secret(built_root, context, writer, b"two", no_cache=True)  # -r2; -r1 removed
    services, again = build_with_secret(built_root, context, writer, b"one", no_cache=True)  # -r3; -r2 removed
    assert step_names(services, key_hex) == {f"step-{key_hex}", f"step-{key_hex}-r3"}

    result = paused.finish()
    assert result.image.config.diff_ids[-2] == again.image.config.diff_ids[-1]  # the same layer as -r1's
    assert step_names(services, key_hex) == {f"step-{key_hex}", f"step-{key_hex}-r3"}  # -r1 not made again
    tree = flatten(built_root, result.image.image_id, tmp_path / "tree")
    assert (tree / "a").read_bytes() == (tree / "b").read_bytes() == b"one"


def test_a_cached_build_rebuilds_every_snapshot_below_that_a_rerun_removed(built_root: Path, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    writer = (f"FROM busybox:local\nRUN --mount=type=secret,id=s cp /run/secrets/s /a && echo {tmp_path.name}\n"
              "RUN --mount=type=secret,id=s cp /run/secrets/s /a2\n")
    build_with_secret(built_root, context, writer, b"first", no_cache=False)
    services, _ = build_with_secret(built_root, context, writer, b"one", no_cache=True)
    first_runs = {record.snapshot for record in services.cache.used.values()}  # both steps' -r1
    paused = PausedBuild(built_root, context, writer + "RUN cat /a /a2 > /b\n", pause_at="RUN cat /a")
    # The re-run of the second step removes its -r1 and then the first step's, superseded below it.
    services, _ = build_with_secret(built_root, context, writer, b"two", no_cache=True)
    assert not first_runs & {info.name for info in services.snapshotter.list()}

    tree = flatten(built_root, paused.finish().image.image_id, tmp_path / "tree")
    assert (tree / "b").read_bytes() == b"oneone"
