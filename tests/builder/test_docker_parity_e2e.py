"""Behaviours found different from ``docker build`` by tests/bench/compare_docker.py, pinned as real builds.

Each was checked side by side against docker 26.1 (BuildKit 0.13); the case directory in
tests/bench/compare_cases/ that showed it is named in each test.
"""
from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from builder.errors import BuildError, StepError
from builder.frontend.plan import PlanRequest
from tests.builder.test_build_e2e import run_build
from tests.support.images import flatten

pytestmark = pytest.mark.privileged


def owner(path: Path) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid


def test_onbuild_of_an_earlier_stage_runs_once_in_the_stage_built_from_it(built_root: Path, tmp_path: Path) -> None:
    # compare_cases/onbuild-in-file
    dockerfile = (
        "FROM busybox:local AS base\n"
        "ONBUILD RUN mkdir -p /out && echo -n 11 >> /out/foo\n"
        "ONBUILD ENV TRIGGERED=yes\n"
        "RUN test ! -e /out/foo\n"
        "FROM base AS mid\n"
        "RUN cp /out/foo /out/bar\n"
        "ONBUILD RUN echo mid > /mid-trigger\n"
        "FROM mid AS child\n"
        "RUN echo -n \"$TRIGGERED\" > /child-env\n"
    )
    result = run_build(built_root, tmp_path, dockerfile, tags=("parity:onbuild-stages",))
    tree = flatten(built_root, "parity:onbuild-stages", tmp_path / "t")
    assert (tree / "out/foo").read_text() == "11", "base's trigger ran once (in mid), not again in child"
    assert (tree / "out/bar").read_text() == "11"
    assert (tree / "mid-trigger").read_text() == "mid\n", "mid's own trigger ran in child"
    assert (tree / "child-env").read_text() == "yes"
    assert result.image.config.onbuild is None, "triggers are consumed by the stage that runs them"


def test_workdir_owner_follows_the_file_op_lookup(built_root: Path, tmp_path: Path) -> None:
    # compare_cases/user-group-workdir, scratch-config: llb.Mkdir's WithUser, not RUN's user lookup
    dockerfile = (
        "FROM busybox:local\n"
        "USER 7777\n"
        "WORKDIR /bare-uid\n"
        "USER ghost:daemon\n"
        "WORKDIR /unknown-name\n"
        "USER daemon:nosuchgroup\n"
        "WORKDIR /unknown-group\n"
        "USER 0\n"
        "COPY --chown=:daemon Dockerfile /group-only\n"
    )
    (tmp_path / "Dockerfile").write_text(dockerfile)
    run_build(built_root, tmp_path, dockerfile, tags=("parity:workdir-owner",))
    tree = flatten(built_root, "parity:workdir-owner", tmp_path / "t")
    assert owner(tree / "bare-uid") == (7777, 7777)
    assert owner(tree / "unknown-name") == (0, 1)
    assert owner(tree / "unknown-group") == (1, 1)
    assert owner(tree / "group-only") == (0, 1)


def test_proxy_build_args_reach_run_in_both_spellings(built_root: Path, tmp_path: Path) -> None:
    # compare_cases/proxy-args: BuildKit's executor sets HTTP_PROXY and http_proxy from either one
    dockerfile = "FROM busybox:local\nRUN env | grep -i _proxy= | sort > /proxies\n"
    plan = PlanRequest(build_args={"http_proxy": "http://p:3128", "NO_PROXY": "localhost"})
    first = run_build(built_root, tmp_path, dockerfile, plan=plan, tags=("parity:proxy",))
    tree = flatten(built_root, "parity:proxy", tmp_path / "t")
    assert (tree / "proxies").read_text().splitlines() == [
        "HTTP_PROXY=http://p:3128", "NO_PROXY=localhost", "http_proxy=http://p:3128", "no_proxy=localhost"]
    assert not any("proxy" in item.lower() for item in first.image.config.env)
    other = PlanRequest(build_args={"http_proxy": "http://elsewhere:3128"})
    again = run_build(built_root, tmp_path, dockerfile, plan=other)
    assert again.image.image_id == first.image.image_id, "proxies stay out of the cache key"


def test_workdir_under_a_user_name_on_bare_scratch_fails_with_the_line(built_root: Path, tmp_path: Path) -> None:
    # docker 26: "invalid user index: -1"; with a numeric USER the same WORKDIR builds
    with pytest.raises(BuildError, match="empty scratch filesystem") as raised:
        run_build(built_root, tmp_path, "FROM scratch\nUSER app\nWORKDIR /x\n")
    assert isinstance(raised.value, StepError) and raised.value.line == 3
    result = run_build(built_root, tmp_path, "FROM scratch\nUSER 5:6\nWORKDIR /x\n", tags=("parity:scratch-wd",))
    assert owner(flatten(built_root, "parity:scratch-wd", tmp_path / "t") / "x") == (5, 6)
    assert result.image.config.user == "5:6"


def test_from_an_arg_naming_an_earlier_stage_builds_that_stage(built_root: Path, tmp_path: Path) -> None:
    # compare_cases/rw-jupyter-foundation: ARG ROOT_IMAGE=<stage> ... FROM $ROOT_IMAGE, with a stage between
    dockerfile = (
        "ARG ROOT_IMAGE=default_root_image\n"
        "FROM busybox:local AS default_root_image\n"
        "RUN echo root > /root-stage\n"
        "FROM busybox:local AS unrelated\n"
        "RUN echo unrelated > /unrelated\n"
        "FROM $ROOT_IMAGE\n"
        "RUN cat /root-stage > /seen\n"
    )
    run_build(built_root, tmp_path, dockerfile, tags=("parity:from-arg-stage",))
    tree = flatten(built_root, "parity:from-arg-stage", tmp_path / "t")
    assert (tree / "seen").read_text() == "root\n"
    assert not (tree / "unrelated").exists()


def test_relative_mount_targets_join_the_workdir(built_root: Path, tmp_path: Path) -> None:
    # compare_cases/rw-distribution-authors: RUN --mount=type=bind,target=. under WORKDIR /src
    dockerfile = (
        "FROM busybox:local\n"
        "WORKDIR /src\n"
        "RUN --mount=type=bind,target=. cat commits.log > /from-context && pwd > /cwd\n"
        "RUN --mount=type=bind,target=.,rw echo scribble > commits.log && echo done > /rw-done\n"
        "WORKDIR /a\n"
        "RUN --mount=type=cache,target=c echo shared > c/entry\n"
        "WORKDIR /b\n"
        "RUN --mount=type=cache,target=./c/ cat c/entry > /cache-seen\n"
    )
    (tmp_path / "commits.log").write_text("a1|Alice\n")
    run_build(built_root, tmp_path, dockerfile, tags=("parity:relative-mounts",))
    tree = flatten(built_root, "parity:relative-mounts", tmp_path / "t")
    assert (tree / "from-context").read_text() == "a1|Alice\n"
    assert (tree / "cwd").read_text() == "/src\n"
    assert not (tree / "src/commits.log").exists(), "the rw bind mount's writes stay out of the image"
    assert (tmp_path / "commits.log").read_text() == "a1|Alice\n", "and out of the context"
    assert (tree / "cache-seen").read_text() == "shared\n", "no id=: the id is the target as written (c)"


def test_a_relative_mount_target_naming_the_root_is_refused(built_root: Path, tmp_path: Path) -> None:
    dockerfile = "FROM busybox:local\nRUN --mount=type=bind,target=. true\n"
    with pytest.raises(BuildError, match='invalid mount target "/"'):
        run_build(built_root, tmp_path, dockerfile)


def test_directories_made_under_a_setgid_parent_keep_its_setgid_bit(built_root: Path, tmp_path: Path) -> None:
    # compare_cases/setgid-parent-dirs (found by rw-jupyter-binder): fsutil's MkdirAll never chmods,
    # and WORKDIR without USER does not chown, so the group of a setgid parent stays
    dockerfile = (
        "FROM busybox:local\n"
        "RUN mkdir -p /p && chmod 2750 /p && chown 5:7 /p\n"
        "COPY d /p/new/\n"
        "COPY d /p/a/b/\n"
        "COPY --chown=9:9 d /p/own/\n"
        "WORKDIR /p/wd\n"
        "USER 3:4\n"
        "WORKDIR /p/as-user\n"
        "USER 0\n"
        "ADD implied.tar /p/tar/\n"
    )
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("f\n")
    with tarfile.open(tmp_path / "implied.tar", "w") as archive:  # a/b/file alone: a/ and a/b/ implied
        member = tarfile.TarInfo("a/b/file")
        member.size = 2
        archive.addfile(member, io.BytesIO(b"x\n"))
    run_build(built_root, tmp_path, dockerfile, tags=("parity:setgid-parents",))
    tree = flatten(built_root, "parity:setgid-parents", tmp_path / "t")

    def mode_and_owner(path: str) -> tuple[str, tuple[int, int]]:
        return oct(os.lstat(tree / path).st_mode & 0o7777), owner(tree / path)

    assert mode_and_owner("p/new") == ("0o2755", (0, 7)), "COPY without --chown does not chown what it mkdirs"
    assert mode_and_owner("p/a") == ("0o2755", (0, 7)), "parents made on the way too"
    assert mode_and_owner("p/a/b") == ("0o2755", (0, 7))
    assert mode_and_owner("p/own") == ("0o2755", (9, 9))
    assert mode_and_owner("p/wd") == ("0o2755", (0, 7)), "no USER: no chown, the parent's group"
    assert mode_and_owner("p/as-user") == ("0o2755", (3, 4))
    assert mode_and_owner("p/new/f") == ("0o644", (0, 0)), "copied files: their own mode, chowned 0:0"
    assert mode_and_owner("p/tar/a") == ("0o2755", (0, 0)), "a tar's implied dirs (moby Untar's MkdirAll)"
    assert mode_and_owner("p/tar/a/b") == ("0o2755", (0, 0))
