"""End-to-end builds on the offline busybox base: real namespaces, overlay snapshots and the cache."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from builder.errors import StepError
from builder.events import StepCached, StepLog
from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.plan import PlanRequest
from builder.services import open_services
from builder.solve import BuildRequest, BuildResult, build
from tests.support.images import flatten

pytestmark = pytest.mark.privileged


def run_build(root: Path, context: Path, dockerfile: str, events: list | None = None, **options: object) -> BuildResult:
    plan = options.pop("plan", PlanRequest())
    services = open_services(root, emit=(events.append if events is not None else lambda event: None))
    source = DockerfileSource("Dockerfile", None, dockerfile)
    return build(BuildRequest(source=source, context=context, plan=plan, **options), services)  # type: ignore[arg-type]


def test_run_steps_produce_layers_and_config(built_root: Path, tmp_path: Path) -> None:
    dockerfile = (
        "FROM busybox:local\n"
        "ARG WHO=world\n"
        "ENV GREETING=hello\n"
        "WORKDIR /app\n"
        'RUN echo "$GREETING $WHO" > greeting.txt && mkdir -p /data && chmod 0700 /data\n'
        "USER nobody\n"
        'CMD ["cat", "/app/greeting.txt"]\n'
    )
    result = run_build(built_root, tmp_path, dockerfile, tags=("e2e:config",))
    config = result.image.config
    assert config.cmd == ("cat", "/app/greeting.txt")
    assert config.workdir == "/app" and config.user == "nobody"
    assert "GREETING=hello" in config.env and not any(item.startswith("WHO=") for item in config.env)
    tree = flatten(built_root, "e2e:config", tmp_path / "tree")
    assert (tree / "app/greeting.txt").read_text() == "hello world\n"
    assert (tree / "data").stat().st_mode & 0o777 == 0o700
    assert [h.empty_layer for h in config.history][-6:] == [True, True, False, False, True, True]


def test_fully_cached_rebuild_gives_the_same_image(built_root: Path, tmp_path: Path) -> None:
    dockerfile = "FROM busybox:local\nRUN echo one > /one\nRUN echo two > /two\n"
    first = run_build(built_root, tmp_path, dockerfile)
    events: list = []
    second = run_build(built_root, tmp_path, dockerfile, events)
    assert second.image.image_id == first.image.image_id
    assert sum(isinstance(event, StepCached) for event in events) == 2
    events.clear()
    run_build(built_root, tmp_path, dockerfile, events, no_cache=True)
    assert not any(isinstance(event, StepCached) for event in events)


def test_changing_an_env_above_a_run_invalidates_it(built_root: Path, tmp_path: Path) -> None:
    events: list = []
    run_build(built_root, tmp_path, "FROM busybox:local\nENV V=1\nRUN echo $V > /v\n")
    run_build(built_root, tmp_path, "FROM busybox:local\nENV V=2\nRUN echo $V > /v\n", events,
              tags=("e2e:env2",))
    assert not any(isinstance(event, StepCached) for event in events)
    assert (flatten(built_root, "e2e:env2", tmp_path / "t") / "v").read_text() == "2\n"


def test_failing_run_reports_exit_code_and_location(built_root: Path, tmp_path: Path) -> None:
    events: list = []
    with pytest.raises(StepError) as caught:
        run_build(built_root, tmp_path, "FROM busybox:local\nRUN echo about to fail >&2; exit 7\n", events)
    assert caught.value.line == 2
    assert "exit code: 7" in str(caught.value)
    assert any(isinstance(e, StepLog) and b"about to fail" in e.data for e in events)


def test_deleting_a_file_writes_a_whiteout(built_root: Path, tmp_path: Path) -> None:
    run_build(built_root, tmp_path, "FROM busybox:local\nRUN rm /etc/group && rm -r /home\n", tags=("e2e:rm",))
    tree = flatten(built_root, "e2e:rm", tmp_path / "t")
    assert not (tree / "etc/group").exists() and not (tree / "home").exists()
    assert (tree / "etc/passwd").exists()


def test_heredoc_run_with_shebang(built_root: Path, tmp_path: Path) -> None:
    dockerfile = "FROM busybox:local\nRUN <<EOF\n#!/bin/sh\necho from-script > /script-out\nEOF\n"
    run_build(built_root, tmp_path, dockerfile, tags=("e2e:heredoc",))
    tree = flatten(built_root, "e2e:heredoc", tmp_path / "t")
    assert (tree / "script-out").read_text() == "from-script\n"
    assert not (tree / "dev/pipes").exists()


def test_secret_mount_is_readable_but_never_stored(built_root: Path, tmp_path: Path) -> None:
    dockerfile = ("FROM busybox:local\n"
                  "RUN --mount=type=secret,id=token cat /run/secrets/token | wc -c > /token-length\n")
    result = run_build(built_root, tmp_path, dockerfile, secrets={"token": b"s3cr3t-value"}, tags=("e2e:secret",))
    tree = flatten(built_root, "e2e:secret", tmp_path / "t")
    assert (tree / "token-length").read_text().strip() == "12"
    assert not (tree / "run/secrets").exists()
    for blob in (built_root / "blobs" / "sha256").iterdir():
        assert b"s3cr3t-value" not in blob.read_bytes()
    assert "s3cr3t" not in result.image.config.to_bytes().decode()


def test_cache_mount_survives_between_builds(built_root: Path, tmp_path: Path) -> None:
    run_build(built_root, tmp_path, "FROM busybox:local\nRUN --mount=type=cache,target=/cache echo x >> /cache/log\n")
    run_build(built_root, tmp_path, "FROM busybox:local\nRUN --mount=type=cache,target=/cache cp /cache/log /seen\n",
              tags=("e2e:cache",))
    tree = flatten(built_root, "e2e:cache", tmp_path / "t")
    assert (tree / "seen").read_text() == "x\n"
    assert not (tree / "cache").exists()


def test_multi_stage_build_from_an_earlier_stage(built_root: Path, tmp_path: Path) -> None:
    dockerfile = ("FROM busybox:local AS base\nENV FROM_BASE=yes\nRUN echo base > /base\n"
                  "FROM base\nRUN cat /base > /child\n")
    result = run_build(built_root, tmp_path, dockerfile, tags=("e2e:stages",))
    assert "FROM_BASE=yes" in result.image.config.env
    assert (flatten(built_root, "e2e:stages", tmp_path / "t") / "child").read_text() == "base\n"


def test_run_cannot_see_host_files_or_processes(built_root: Path, tmp_path: Path) -> None:
    marker = tmp_path / "host-only-marker"
    marker.write_text("x")
    dockerfile = (f"FROM busybox:local\nRUN test ! -e {marker} && ps -o pid | wc -l > /procs && "
                  "hostname > /host\n")
    run_build(built_root, tmp_path, dockerfile, tags=("e2e:isolated",))
    tree = flatten(built_root, "e2e:isolated", tmp_path / "t")
    host_processes = sum(name.isdigit() for name in os.listdir("/proc"))
    # header, sh (PID 1), ps and wc: nothing of the host's
    assert int((tree / "procs").read_text()) <= 4 < host_processes
    assert (tree / "host").read_text().strip() == "buildkitsandbox"


def test_run_is_pid_1_of_its_container_as_under_buildkit(built_root: Path, tmp_path: Path) -> None:
    """``$$`` is 1, ``ps`` shows no process of ours, SIGTERM without a trap is dropped by PID 1, and a
    background job does not hold the step (the kernel kills it with PID 1)."""
    dockerfile = ("FROM busybox:local\n"
                  "RUN echo $$ > /pid && kill -TERM $$ && ps -o pid,comm > /ps; sleep 60 & echo started\n")
    started = time.monotonic()
    run_build(built_root, tmp_path, dockerfile, tags=("e2e:pid1",))
    assert time.monotonic() - started < 30
    tree = flatten(built_root, "e2e:pid1", tmp_path / "t")
    assert (tree / "pid").read_text() == "1\n"
    assert [line.split() for line in (tree / "ps").read_text().splitlines()[1:]] == [["1", "sh"], ["2", "ps"]]


def test_onbuild_triggers_run_in_the_child_and_are_cleared(built_root: Path, tmp_path: Path) -> None:
    parent = run_build(built_root, tmp_path, 'FROM busybox:local\nONBUILD RUN echo "triggered" > /onbuild-ran\n',
                       tags=("e2e:onbuild-parent",))
    assert parent.image.config.onbuild == ('RUN echo "triggered" > /onbuild-ran',)
    child = run_build(built_root, tmp_path, "FROM e2e:onbuild-parent\nRUN cat /onbuild-ran > /seen\n",
                      tags=("e2e:onbuild-child",))
    assert child.image.config.onbuild is None
    tree = flatten(built_root, "e2e:onbuild-child", tmp_path / "t")
    assert (tree / "seen").read_text() == "triggered\n"


def test_copy_from_context_and_stage_with_dockerignore(built_root: Path, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    (context / "src").mkdir(parents=True)
    (context / "src/app.txt").write_text("app")
    (context / "src/debug.log").write_text("log")
    (context / ".dockerignore").write_text("**/*.log\n")
    dockerfile = ("FROM busybox:local AS build\nCOPY src/ /out/\nRUN echo built >> /out/app.txt\n"
                  "FROM scratch\nCOPY --from=build /out /app\n")
    events: list = []
    run_build(built_root, context, dockerfile, tags=("e2e:copy",))
    tree = flatten(built_root, "e2e:copy", tmp_path / "t")
    assert sorted(p.name for p in (tree / "app").iterdir()) == ["app.txt"]
    assert (tree / "app/app.txt").read_text() == "appbuilt\n"
    (context / "src/debug.log").write_text("changed log")  # ignored: the cache still hits
    run_build(built_root, context, dockerfile, events)
    assert sum(isinstance(event, StepCached) for event in events) == 3
    (context / "src/app.txt").write_text("edited")
    events.clear()
    run_build(built_root, context, dockerfile, events)
    assert not any(isinstance(event, StepCached) for event in events)


def test_snapshots_of_a_killed_build_are_swept(built_root: Path) -> None:
    from builder.cache.leftovers import sweep_dead_snapshots

    services = open_services(built_root)
    dead_pid = 2**22 + 12345  # above pid_max on this kernel: never alive
    key = f"step-{dead_pid}-0123456789ab"
    services.snapshotter.prepare(key, None)
    assert key in sweep_dead_snapshots(services.snapshotter)
    assert key not in [info.name for info in services.snapshotter.list()]


def test_untagged_build_is_listed_as_a_dangling_image(built_root: Path, tmp_path: Path) -> None:
    from builder.imagestore import ImageStore

    result = run_build(built_root, tmp_path, "FROM busybox:local\nRUN echo untagged > /u\n")
    records = ImageStore(built_root).list()
    assert any(r.name is None and str(r.image_id) == result.image.image_id for r in records)


def test_scratch_workdir_without_passwd_and_default_workdir(built_root: Path, tmp_path: Path) -> None:
    result = run_build(built_root, tmp_path, "FROM scratch\nWORKDIR /work/deeper\n", tags=("e2e:scratch-wd",))
    assert result.image.config.workdir == "/work/deeper"
    plain = run_build(built_root, tmp_path, "FROM scratch\nENV A=1\n")
    assert plain.image.config.workdir == "/"


def test_empty_cmd_is_left_out_of_the_config_json(built_root: Path, tmp_path: Path) -> None:
    result = run_build(built_root, tmp_path, "FROM busybox:local\nENTRYPOINT []\nCMD []\n")
    document = result.image.config.to_json()["config"]
    assert "Cmd" not in document and "Entrypoint" not in document


def test_add_tar_keeps_the_owner_of_directories_it_only_implies(built_root: Path, tmp_path: Path) -> None:
    import tarfile

    context = tmp_path / "ctx"
    context.mkdir()
    with tarfile.open(context / "b.tar", "w") as tar:
        info = tarfile.TarInfo("tree/f.txt")
        info.size = 0
        tar.addfile(info)
    dockerfile = "FROM busybox:local\nRUN mkdir -p /both/tree && chown 1000:1000 /both/tree\nADD b.tar /both/\n"
    run_build(built_root, context, dockerfile, tags=("e2e:addtar",))
    tree = flatten(built_root, "e2e:addtar", tmp_path / "t")
    info = (tree / "both/tree").stat()
    assert (info.st_uid, info.st_gid) == (1000, 1000)
    assert (tree / "both/tree/f.txt").exists()


def test_context_bind_mount_sees_only_what_dockerignore_keeps(built_root: Path, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    (context / "src").mkdir(parents=True)
    (context / "src/keep.txt").write_text("keep")
    (context / "src/secret.env").write_text("TOKEN=1")
    (context / ".dockerignore").write_text("**/*.env\n")
    dockerfile = "FROM busybox:local\nRUN --mount=type=bind,source=src,target=/mnt ls /mnt > /listing\n"
    run_build(built_root, context, dockerfile, tags=("e2e:bindignore",))
    tree = flatten(built_root, "e2e:bindignore", tmp_path / "t")
    assert (tree / "listing").read_text().split() == ["keep.txt"]
    assert not (tree / "mnt").exists()


def test_host_network_and_insecure_need_an_entitlement(built_root: Path, tmp_path: Path) -> None:
    with pytest.raises(StepError, match="network.host is not allowed"):
        run_build(built_root, tmp_path, "FROM busybox:local\nRUN --network=host true\n")
    with pytest.raises(StepError, match="security.insecure is not allowed"):
        run_build(built_root, tmp_path, "FROM busybox:local\nRUN --security=insecure true\n")
    dockerfile = "FROM busybox:local\nRUN --security=insecure grep CapEff /proc/self/status > /caps\n"
    run_build(built_root, tmp_path, dockerfile, tags=("e2e:insecure",),
              entitlements=frozenset({"security.insecure"}))
    caps = (flatten(built_root, "e2e:insecure", tmp_path / "t") / "caps").read_text().split()[1]
    assert int(caps, 16) > 0xA80425FB  # more than docker's default set
