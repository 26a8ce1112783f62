"""Explaining cache misses (issue 6 §3): each missed step says which input changed since the last build."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from builder.cache.explain import ExplainSummary
from builder.console import BuildView, Console
from builder.events import StepCached, StepCacheMiss, StepStarted
from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.plan import PlanRequest
from builder.services import open_services
from builder.solve import BuildRequest, BuildResult, build
from tests.support.images import import_busybox

ROOT = Path(__file__).resolve().parents[2]


def run_build(root: Path, context: Path, dockerfile: str, events: list | None = None,
              **options: object) -> BuildResult:
    plan = options.pop("plan", PlanRequest())
    services = open_services(root, emit=(events.append if events is not None else lambda event: None))
    source = DockerfileSource("Dockerfile", None, dockerfile)
    return build(BuildRequest(source=source, context=context, plan=plan, **options), services)  # type: ignore[arg-type]


def misses(events: list) -> dict[str, str]:
    """Reason of each missed step, by the instruction part of its title."""
    titles = {e.step_id: e.title.split("] ", 1)[1] for e in events if isinstance(e, StepStarted)}
    return {titles[e.step_id]: e.reason for e in events if isinstance(e, StepCacheMiss)}


def step_ids(events: list) -> dict[str, int]:
    return {e.title.split("] ", 1)[1]: e.step_id for e in events if isinstance(e, StepStarted)}


@pytest.fixture
def context(tmp_path: Path) -> Path:
    directory = tmp_path / "ctx"
    directory.mkdir()
    (directory / "a.txt").write_text("a1\n")
    (directory / "b.txt").write_text("b1\n")
    return directory


@pytest.mark.privileged
def test_first_build_has_no_previous_build(built_root: Path, context: Path) -> None:
    events: list = []
    run_build(built_root, context, "FROM busybox:local\nRUN echo first-ever > /f\nWORKDIR /w\n", events)
    assert misses(events) == {"RUN echo first-ever > /f": "no previous build", "WORKDIR /w": "no previous build"}


@pytest.mark.privileged
def test_edited_context_file_is_named_and_the_miss_cascades(built_root: Path, context: Path) -> None:
    dockerfile = ("FROM busybox:local\nRUN echo explain-ctx > /pre\nCOPY . /app\n"
                  "RUN cat /app/a.txt > /out\nRUN echo after > /after\n")
    run_build(built_root, context, dockerfile)
    events: list = []
    run_build(built_root, context, dockerfile, events)
    assert misses(events) == {}  # unchanged: every step cached, nothing to explain
    (context / "a.txt").write_text("a2\n")
    events.clear()
    run_build(built_root, context, dockerfile, events)
    reasons, ids = misses(events), step_ids(events)
    assert "RUN echo explain-ctx > /pre" not in reasons
    assert any(isinstance(e, StepCached) and e.step_id == ids["RUN echo explain-ctx > /pre"] for e in events)
    assert reasons["COPY . /app"] == "context file changed: a.txt"
    assert reasons["RUN cat /app/a.txt > /out"] == f"because step #{ids['COPY . /app']} missed"
    assert reasons["RUN echo after > /after"] == f"because step #{ids['COPY . /app']} missed"  # the root, once

    (context / "c.txt").write_text("new\n")
    (context / "b.txt").unlink()
    events.clear()
    run_build(built_root, context, dockerfile, events)
    assert misses(events)["COPY . /app"] == "context file added: c.txt; context file removed: b.txt"

    out = io.StringIO()
    view = BuildView(Console(err=out, color=False))
    for event in events:
        view(event)
    assert f"#{ids['COPY . /app']} cache miss: context file added: c.txt" in out.getvalue()


@pytest.mark.privileged
def test_changed_build_arg_is_named(built_root: Path, context: Path) -> None:
    dockerfile = "FROM busybox:local\nARG VERSION=0\nRUN echo explain-arg $VERSION > /v\n"
    run_build(built_root, context, dockerfile, plan=PlanRequest(build_args={"VERSION": "1"}))
    events: list = []
    run_build(built_root, context, dockerfile, events, plan=PlanRequest(build_args={"VERSION": "2"}))
    assert misses(events) == {"RUN echo explain-arg $VERSION > /v": "build arg / env changed: VERSION=1 -> 2"}


@pytest.mark.privileged
def test_changed_instruction_text(built_root: Path, context: Path) -> None:
    run_build(built_root, context, "FROM busybox:local\nRUN echo explain-one > /x\nRUN echo tail > /t\n")
    events: list = []
    run_build(built_root, context, "FROM busybox:local\nRUN echo explain-two > /x\nRUN echo tail > /t\n", events)
    reasons, ids = misses(events), step_ids(events)
    assert reasons["RUN echo explain-two > /x"] == "instruction changed (command)"
    assert reasons["RUN echo tail > /t"] == f"because step #{ids['RUN echo explain-two > /x']} missed"


@pytest.mark.privileged
def test_changed_workdir_and_env_are_named(built_root: Path, context: Path) -> None:
    run_build(built_root, context, "FROM busybox:local\nENV MODE=a\nRUN echo explain-env > /e\n")
    events: list = []
    run_build(built_root, context, "FROM busybox:local\nENV MODE=b\nWORKDIR /tmp\nRUN echo explain-env > /e\n",
              events)
    reasons, ids = misses(events), step_ids(events)
    assert reasons["WORKDIR /tmp"] == "instruction changed"
    assert reasons["RUN echo explain-env > /e"] == (f"because step #{ids['WORKDIR /tmp']} missed; "
                                                    "workdir changed: / -> /tmp; build arg / env changed: MODE=a -> b")


@pytest.mark.privileged
def test_no_cache_says_so(built_root: Path, context: Path) -> None:
    run_build(built_root, context, "FROM busybox:local\nRUN echo explain-nocache > /n\n")
    events: list = []
    run_build(built_root, context, "FROM busybox:local\nRUN echo explain-nocache > /n\n", events, no_cache=True)
    assert misses(events) == {"RUN echo explain-nocache > /n": "cache disabled (--no-cache)"}


@pytest.mark.privileged
def test_secrets_never_appear(built_root: Path, context: Path) -> None:
    secret = "s3cr3t-explain-value"
    run_build(built_root, context, "FROM busybox:local\nRUN --mount=type=secret,id=one,target=/s cat /s > /dev/null\n",
              secrets={"one": secret.encode()})
    events: list = []
    run_build(built_root, context, "FROM busybox:local\nRUN --mount=type=secret,id=two,target=/s cat /s > /dev/null\n",
              events, secrets={"two": secret.encode()})
    (reason,) = misses(events).values()
    assert reason == "instruction changed (mounts)"
    for record in (built_root / "cache" / "explain").iterdir():
        assert secret not in record.read_text()


@pytest.mark.privileged
def test_changed_base_image_digest(tmp_path: Path, busybox_tar: Path, context: Path) -> None:
    root = tmp_path / "root"
    import_busybox(root, busybox_tar, "exbase:local")
    dockerfile = "FROM exbase:local\nRUN echo on-base > /b\n"
    run_build(root, context, dockerfile)
    changed = tmp_path / "changed.tar"
    shutil.copy(busybox_tar, changed)
    with tarfile.open(changed, "a") as tar:
        info = tarfile.TarInfo("etc/explain-marker")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"new"))
    import_busybox(root, changed, "exbase:local")
    events: list = []
    run_build(root, context, dockerfile, events)
    reason = misses(events)["RUN echo on-base > /b"]
    assert reason.startswith("base image changed: exbase:local sha256:"), reason
    old, new = reason.split(" -> ")
    assert old.rsplit(" ", 1)[1] != new


@pytest.mark.privileged
def test_changed_target_platform_of_a_scratch_stage(tmp_path: Path, context: Path) -> None:
    dockerfile = "FROM scratch\nCOPY a.txt /a\n"
    run_build(tmp_path / "root", context, dockerfile, plan=PlanRequest(platform="linux/arm64"))
    events: list = []
    run_build(tmp_path / "root", context, dockerfile, events, plan=PlanRequest(platform="linux/amd64"))
    assert misses(events) == {"COPY a.txt /a": "platform changed: linux/arm64 -> linux/amd64"}


@pytest.mark.privileged
def test_explain_flag_prints_a_summary_in_quiet_mode(tmp_path: Path, busybox_tar: Path, context: Path) -> None:
    root = tmp_path / "root"
    import_busybox(root, busybox_tar)
    (context / "Dockerfile").write_text("FROM busybox:local\nCOPY a.txt /a\nRUN cat /a\n")

    def pybuild(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "builder.cli", "--root", str(root), *args, str(context)],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)

    first = pybuild("--progress", "plain")
    assert first.returncode == 0, first.stderr
    assert "cache miss: no previous build" in first.stderr
    (context / "a.txt").write_text("a2\n")
    second = pybuild("-q", "--explain")
    assert second.returncode == 0, second.stderr
    lines = second.stderr.splitlines()
    assert "cache misses (2):" in lines, second.stderr
    assert any(line.endswith("COPY a.txt /a: context file changed: a.txt") for line in lines)
    assert any(line.endswith("RUN cat /a: because step #1 missed") for line in lines)
    assert second.stdout.startswith("sha256:")


def test_summary_lines_and_plain_view() -> None:
    out = io.StringIO()
    view = BuildView(Console(err=out, color=False))
    summary = ExplainSummary(Console(err=out, color=False), enabled=True)
    for event in (StepStarted(3, "[stage-0 2/3] COPY . /app"), StepCacheMiss(3, "context file changed: x"),
                  StepStarted(4, "[stage-0 3/3] RUN make"), StepCached(4)):
        view(event)
        summary(event)
    assert "#3 cache miss: context file changed: x" in out.getvalue()
    assert summary.lines() == ["cache misses (1):", "#3 [stage-0 2/3] COPY . /app: context file changed: x"]
    assert ExplainSummary(None, enabled=False).lines() == ["cache misses: none"]


def test_record_is_keyed_by_dockerfile_and_target(tmp_path: Path) -> None:
    from builder.cache.explain import record_path

    assert record_path(tmp_path, "/a/Dockerfile", "") != record_path(tmp_path, "/a/Dockerfile", "build")
    assert record_path(tmp_path, "/a/Dockerfile", "").parent == tmp_path / "cache" / "explain"
    json.dumps({})  # the record is JSON
