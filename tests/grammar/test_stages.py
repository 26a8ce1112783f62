"""Stages: grouping, stage references (BuildKit's ordering rules), cycles, --target."""
from __future__ import annotations

import pytest
from test_instructions_support import dockerfile_of, node

from grammar.ast import Copy, Run
from grammar.errors import DockerfileSyntaxError
from grammar.stages import (
    Dockerfile, base_stage, check_cycles, copy_source, dependencies, find_target, mount_source, reachable,
)  # fmt: skip


def stage_from(image: str, name: str | None = None):
    return node("from", image, "AS", name) if name else node("from", image)


def copy_from(ref: str):
    return node("copy", "/a", "/b", flags=(f"--from={ref}",))


def mount_from(ref: str):
    return node("run", "true", flags=(f"--mount=type=bind,from={ref},target=/m",))


def test_meta_args_and_stages() -> None:
    df = dockerfile_of(node("arg", "V=1"), stage_from("alpine:$V", "Base"), node("run", "x"), stage_from("base"))
    assert [arg.args[0].name for arg in df.meta_args] == ["V"]
    assert [(s.index, s.name, s.display_name, len(s.body)) for s in df.stages] == [
        (0, "base", "base", 1), (1, None, "stage-1", 0),
    ]  # fmt: skip


def test_instruction_before_from_is_an_error() -> None:
    with pytest.raises(DockerfileSyntaxError, match="no build stage in current context"):
        dockerfile_of(node("run", "x"), stage_from("a"))


def test_from_resolves_only_earlier_stages_with_exact_case() -> None:
    df = dockerfile_of(stage_from("a", "build"), stage_from("build"), stage_from("BUILD"), stage_from("later"), stage_from("x", "later"))
    assert base_stage(df, df.stages[1]) is df.stages[0]
    assert base_stage(df, df.stages[2]) is None  # "BUILD" is an image name
    assert base_stage(df, df.stages[3]) is None  # a later stage is an image name too
    assert base_stage(df, df.stages[1], image="nothing") is None


def test_from_itself_is_an_image() -> None:
    df = dockerfile_of(stage_from("me", "me"))
    assert base_stage(df, df.stages[0]) is None


def test_copy_from_name_index_or_image() -> None:
    df = dockerfile_of(stage_from("a", "Build"), stage_from("b"), copy_from("BUILD"), copy_from("0"), copy_from("busybox"))
    stage = df.stages[1]
    copies = [i for i in stage.body if isinstance(i, Copy)]
    assert [copy_source(df, stage, c) for c in copies] == [df.stages[0], df.stages[0], None]


def test_copy_from_a_later_stage_fails_when_it_runs() -> None:
    df = dockerfile_of(stage_from("busybox", "target"), copy_from("build"), stage_from("alpine", "build"))
    copy = df.stages[0].body[0]
    assert isinstance(copy, Copy)
    with pytest.raises(DockerfileSyntaxError) as caught:
        copy_source(df, df.stages[0], copy)
    assert caught.value.message == 'cannot copy from stage "build", it needs to be defined before current stage "target"'
    assert caught.value.line == 2


def test_copy_from_a_bad_index() -> None:
    with pytest.raises(DockerfileSyntaxError, match="invalid stage index 5"):
        dockerfile_of(stage_from("a"), copy_from("5"))


def test_copy_from_with_a_variable() -> None:
    with pytest.raises(DockerfileSyntaxError, match="variable expansion is not supported for --from, define a new stage"):
        dockerfile_of(stage_from("a"), copy_from("$SRC"))


def test_copy_from_itself_is_circular() -> None:
    with pytest.raises(DockerfileSyntaxError, match="circular dependency detected on stage: me"):
        dockerfile_of(stage_from("a", "me"), copy_from("me"))


def test_cycle_through_two_stages() -> None:
    with pytest.raises(DockerfileSyntaxError, match="circular dependency detected on stage: one"):
        dockerfile_of(stage_from("a", "one"), copy_from("two"), stage_from("b", "two"), copy_from("one"))


def test_mount_from_stage_and_errors() -> None:
    df = dockerfile_of(stage_from("a", "deps"), stage_from("b"), mount_from("deps"), mount_from("0"))
    stage = df.stages[1]
    runs = [i for i in stage.body if isinstance(i, Run)]
    assert mount_source(df, stage, runs[0], runs[0].mounts[0].from_, "/m") is df.stages[0]
    assert mount_source(df, stage, runs[1], "0", "/m") is None  # a mount's from=0 is the image "0"
    late = dockerfile_of(stage_from("a"), mount_from("later"), stage_from("b", "later"))
    run = late.stages[0].body[0]
    assert isinstance(run, Run)
    with pytest.raises(DockerfileSyntaxError) as caught:
        mount_source(late, late.stages[0], run, "later", "/m")
    assert caught.value.message == 'cannot mount from stage "later" to "/m", stage needs to be defined before current command'


def test_dependencies_and_reachable_stages() -> None:
    df = dockerfile_of(
        stage_from("a", "base"),
        stage_from("b", "tools"),
        stage_from("c", "unused"),
        stage_from("base", "final"),
        copy_from("tools"),
    )
    final = df.stages[3]
    assert [(d.kind, d.stage.name) for d in dependencies(df, final)] == [("from", "base"), ("copy", "tools")]
    assert [s.name for s in reachable(df, final)] == ["base", "tools", "final"]
    assert [s.name for s in reachable(df, df.stages[2])] == ["unused"]


def test_reachable_uses_the_expanded_from_word() -> None:
    df = dockerfile_of(stage_from("a", "dev"), stage_from("a", "prod"), stage_from("$MODE"))
    assert [s.name for s in reachable(df, df.stages[2], {2: "prod"})] == ["prod", None]


def test_find_target() -> None:
    df = dockerfile_of(stage_from("a", "build"), stage_from("b", "Test"))
    assert find_target(df, None) is df.stages[1]
    assert find_target(df, "BUILD") is df.stages[0]
    with pytest.raises(DockerfileSyntaxError) as caught:
        find_target(df, "bulid")
    assert caught.value.message == 'target stage "bulid" could not be found (did you mean build?)'


def test_no_stages_to_build() -> None:
    df = dockerfile_of(node("arg", "foo=bar"))
    with pytest.raises(DockerfileSyntaxError, match="dockerfile contains no stages to build"):
        find_target(df, None)


def test_stage_by_ref() -> None:
    df = dockerfile_of(stage_from("a", "x"), stage_from("b", "x"), stage_from("c"))
    assert df.stage_by_ref("X") is df.stages[1]  # the last definition of a name wins
    assert df.stage_by_ref("2") is df.stages[2]
    assert df.stage_by_ref("3") is None
    assert df.stage_by_ref("nope") is None


def test_duplicate_and_reserved_names_warn_like_the_linter() -> None:
    df = dockerfile_of(stage_from("a", "x"), stage_from("b", "X"), stage_from("c", "scratch"))
    assert [w.message for w in df.warnings] == [
        "Duplicate stage name 'x', stage names should be unique",
        "'scratch' is reserved and should not be used as a stage name",
    ]


def test_check_cycles_accepts_acyclic_graphs() -> None:
    df = dockerfile_of(stage_from("a", "one"), stage_from("b"), copy_from("one"))
    check_cycles(df)
    assert isinstance(df, Dockerfile)
