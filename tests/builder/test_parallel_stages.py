"""Independent stages build at the same time (real containers on the busybox base), with the same
results as a serial build, dependencies respected and the first failure reported as usual."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder.errors import StepError
from builder.events import StepFinished, StepStarted
from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.plan import PlanRequest
from builder.services import open_services
from builder.solve import BuildRequest, BuildResult, build

pytestmark = pytest.mark.privileged

ROOT = Path(__file__).resolve().parents[2]

TWO_SLEEPERS = (
    "FROM busybox:local AS left\n"
    "RUN sleep 1 && echo left > /left\n"
    "FROM busybox:local AS right\n"
    "RUN sleep 1 && echo right > /right\n"
    "FROM busybox:local\n"
    "COPY --from=left /left /left\n"
    "COPY --from=right /right /right\n"
)


class Timeline:
    """An event sink that notes when each step started and finished, and which stage it belongs to."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self.started: dict[int, float] = {}
        self.finished: dict[int, float] = {}
        self.stage_of: dict[int, str] = {}

    def __call__(self, event: object) -> None:
        now = time.monotonic()
        self.events.append(event)
        if isinstance(event, StepStarted):
            self.started[event.step_id] = now
            self.stage_of[event.step_id] = event.title[1:].split(" ", 1)[0]
        elif isinstance(event, StepFinished):
            self.finished[event.step_id] = now

    def steps_of(self, stage: str) -> list[int]:
        return [step for step, name in self.stage_of.items() if name == stage]


def run_build(root: Path, context: Path, dockerfile: str, sink: object = None, **options: object) -> BuildResult:
    services = open_services(root, emit=sink or (lambda event: None))  # type: ignore[arg-type]
    source = DockerfileSource("Dockerfile", None, dockerfile)
    return build(BuildRequest(source=source, context=context, plan=PlanRequest(), **options), services)  # type: ignore[arg-type]


def test_independent_stages_run_at_the_same_time(built_root: Path, tmp_path: Path) -> None:
    timeline = Timeline()
    run_build(built_root, tmp_path, TWO_SLEEPERS, timeline, no_cache=True, max_parallel=2)
    (left,), (right,) = timeline.steps_of("left"), timeline.steps_of("right")
    assert timeline.started[right] < timeline.finished[left] and timeline.started[left] < timeline.finished[right]
    both = max(timeline.finished[left], timeline.finished[right]) - min(timeline.started[left],
                                                                         timeline.started[right])
    assert both < 1.8, f"two 1 s sleeps took {both:.2f} s: they did not overlap"


def test_parallel_and_serial_builds_give_the_same_image(built_root: Path, tmp_path: Path) -> None:
    dockerfile = TWO_SLEEPERS.replace("sleep 1", "sleep 0.2") + "RUN cat /left /right > /both\n"
    results = [run_build(built_root, tmp_path, dockerfile, no_cache=True, source_date_epoch=1700000000,
                         max_parallel=limit) for limit in (2, 1, 3)]
    assert len({result.image.image_id for result in results}) == 1
    assert len({(result.image.manifest.digest, result.image.layers) for result in results}) == 1


def test_a_stage_starts_only_after_the_stages_it_reads(built_root: Path, tmp_path: Path) -> None:
    dockerfile = (
        "FROM busybox:local AS base\n"
        "RUN sleep 0.3 && echo base > /base\n"
        "FROM busybox:local AS other\n"
        "RUN echo other > /other\n"
        "FROM base AS derived\n"
        "RUN cat /base > /derived\n"
        "FROM busybox:local AS mounter\n"
        "RUN --mount=from=other,target=/o cat /o/other > /mounted\n"
        "FROM busybox:local\n"
        "COPY --from=derived /derived /derived\n"
        "COPY --from=mounter /mounted /mounted\n"
    )
    timeline = Timeline()
    run_build(built_root, tmp_path, dockerfile, timeline, no_cache=True, max_parallel=4,
              tags=("parallel:order",))
    reads = {"derived": ["base"], "mounter": ["other"], "stage-4": ["derived", "mounter"]}
    for stage, inputs in reads.items():
        first = min(timeline.started[step] for step in timeline.steps_of(stage))
        for source in inputs:
            assert all(timeline.finished[step] <= first for step in timeline.steps_of(source)), (stage, source)
    (base,), (other,) = timeline.steps_of("base"), timeline.steps_of("other")
    assert timeline.started[other] < timeline.finished[base]  # the independent ones did overlap


def test_a_failing_stage_is_reported_and_cancels_the_others(built_root: Path, tmp_path: Path) -> None:
    dockerfile = (
        "FROM busybox:local AS slow\n"
        "RUN sleep 5\n"
        "RUN echo never > /never\n"
        "FROM busybox:local AS broken\n"
        "RUN sleep 0.3; echo going down >&2; exit 3\n"
        "FROM busybox:local\n"
        "COPY --from=slow /never /never\n"
        "COPY --from=broken / /b\n"
    )
    timeline = Timeline()
    started = time.monotonic()
    with pytest.raises(StepError) as caught:
        run_build(built_root, tmp_path, dockerfile, timeline, no_cache=True, max_parallel=2)
    assert time.monotonic() - started < 4, "the slow stage's container was not cancelled"
    assert caught.value.line == 5 and "exit code: 3" in str(caught.value)
    finished = {event.step_id: event for event in timeline.events if isinstance(event, StepFinished)}
    (sleeper, *never) = sorted(timeline.steps_of("slow"))
    assert finished[sleeper].cancelled and not never  # killed, and its next step never started
    assert not any(name == "stage-2" for name in timeline.stage_of.values())


def pybuild(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env=env)


def test_cli_failure_shows_the_snippet_without_a_traceback(built_root: Path, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:local AS slow\nRUN sleep 3\n"
        "FROM busybox:local AS broken\nRUN echo going down; exit 4\n"
        "FROM busybox:local\nCOPY --from=slow / /s\nCOPY --from=broken / /b\n")
    result = pybuild("--root", str(built_root), "--no-cache", "--progress", "plain", str(tmp_path))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "exit code: 4" in result.stderr and "RUN echo going down; exit 4" in result.stderr
    assert re.search(r"^#\d+ CANCELED$", result.stderr, re.MULTILINE), result.stderr


def test_serial_build_numbers_steps_in_dockerfile_order(built_root: Path, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(TWO_SLEEPERS.replace("sleep 1", "true"))
    result = pybuild("--root", str(built_root), "--no-cache", "--progress", "plain", str(tmp_path),
                     env={**os.environ, "PYBUILD_MAX_PARALLEL": "1"})
    assert result.returncode == 0, result.stderr
    titles = re.findall(r"^#(\d+) (\[.*)$", result.stderr, re.MULTILINE)
    assert [(int(number), title.split(" ", 1)[0]) for number, title in titles] == [
        (1, "[left"), (2, "[right"), (3, "[stage-2"), (4, "[stage-2")]
    bad = pybuild("--root", str(built_root), "--max-parallel", "0", str(tmp_path))
    assert bad.returncode == 2 and "at least 1" in bad.stderr and "Traceback" not in bad.stderr


def test_ctrl_c_cancels_every_running_stage(built_root: Path, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:local AS a\nRUN sleep 30\nFROM busybox:local AS b\nRUN sleep 30\n"
        "FROM busybox:local\nCOPY --from=a / /a\nCOPY --from=b / /b\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "builder.cli", "--root", str(built_root), "--no-cache", "--progress", "plain",
         "--max-parallel", "2", str(tmp_path)],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a background runner may ignore it
    log = ""
    assert process.stderr is not None
    while log.count("RUN sleep 30") < 2:  # both containers are starting
        line = process.stderr.readline()
        assert line, log
        log += line
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    log += process.communicate(timeout=20)[1]
    assert process.returncode == 130 and time.monotonic() - interrupted < 10, log
    assert len(re.findall(r"^#\d+ CANCELED$", log, re.MULTILINE)) == 2, log
    assert "Traceback" not in log
