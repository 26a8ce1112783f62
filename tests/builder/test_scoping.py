"""ARG/ENV scoping and expansion, checked through the plan that ``--check`` builds."""
from __future__ import annotations

from typing import Any

import pytest

from builder.errors import PlanError, UsageError
from builder.frontend.buildargs import host_platform_string, normalize_platform, parse_build_args, platform_args
from builder.frontend.check import check_dockerfile
from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.plan import PlanRequest


def check(text: str, **request: Any) -> dict[str, Any]:
    source = DockerfileSource("Dockerfile", None, text)
    return check_dockerfile(source, PlanRequest(**request)).plan_document()


def steps(document: dict[str, Any], stage: int = -1) -> list[dict[str, Any]]:
    return document["stages"][stage]["steps"]


def env_pairs(step: dict[str, Any]) -> list[tuple[str, str]]:
    return [(pair["key"], pair["value"]) for pair in step["pairs"]]


def test_from_sees_only_global_args() -> None:
    doc = check("ARG TAG=1.36\nFROM busybox:${TAG}\nARG TAG\nENV T=$TAG\n")
    assert doc["stages"][0]["base"] == {"kind": "image", "image": "busybox:1.36"}
    assert env_pairs(steps(doc)[1]) == [("T", "1.36")]  # value-less ARG inherits the global value


def test_global_arg_is_invisible_in_a_stage_until_redeclared() -> None:
    doc = check("ARG V=global\nFROM scratch\nENV A=[$V]\nARG V\nENV B=[$V]\n")
    assert env_pairs(steps(doc)[0]) == [("A", "[]")]
    assert env_pairs(steps(doc)[2]) == [("B", "[global]")]


def test_arg_without_value_is_unset_but_empty_default_is_set() -> None:
    doc = check("FROM scratch\nARG UNSET\nARG EMPTY=\nENV A=${UNSET-unset} B=${EMPTY-unset}\n")
    assert env_pairs(steps(doc)[2]) == [("A", "unset"), ("B", "")]


def test_build_arg_overrides_a_global_default_without_evaluating_it() -> None:
    doc = check('ARG X="${NOPE:?must be set}"\nFROM scratch\nARG X\nENV Y=$X\n', build_args={"X": "$HOME"})
    assert env_pairs(steps(doc)[1]) == [("Y", "$HOME")]


def test_build_arg_value_is_not_expanded_inside_a_stage() -> None:
    doc = check("FROM scratch\nARG X=default\nENV Y=$X\n", build_args={"X": "${A:-b}"})
    assert env_pairs(steps(doc)[1]) == [("Y", "${A:-b}")]


def test_env_values_see_the_env_before_the_instruction() -> None:
    doc = check("FROM scratch\nENV a=old\nENV a=x b=$a\n")
    assert env_pairs(steps(doc)[1]) == [("a", "x"), ("b", "old")]


def test_expose_splits_words_after_expansion() -> None:
    doc = check('FROM scratch\nENV PORTS="80/tcp 443/tcp"\nEXPOSE $PORTS 8080\n')
    assert sorted(steps(doc)[1]["ports"]) == ["443/tcp", "80/tcp", "8080"]


def test_copy_from_is_never_expanded() -> None:
    with pytest.raises(Exception, match="variable expansion is not supported for --from"):
        check("FROM scratch AS a\nFROM scratch\nARG S=a\nCOPY --from=$S /x /y\n")


def test_platform_args_are_global_and_must_be_redeclared() -> None:
    doc = check("FROM scratch\nENV BEFORE=[$TARGETARCH]\nARG TARGETARCH\nENV AFTER=$TARGETARCH\n",
                platform="linux/arm64/v8")
    assert env_pairs(steps(doc)[0]) == [("BEFORE", "[]")]
    assert env_pairs(steps(doc)[2]) == [("AFTER", "arm64")]


@pytest.mark.parametrize("given, normalised", [
    ("arm64", "linux/arm64"), ("x86_64", "linux/amd64"), ("linux/aarch64", "linux/arm64"),
    ("linux/arm64/v8", "linux/arm64"), ("linux/arm", "linux/arm/v7"), ("Linux/AMD64", "linux/amd64"),
    ("windows/amd64", "windows/amd64"), ("linux/anything", "linux/anything"),  # containerd accepts any os/arch pair
])
def test_platforms_are_normalised_like_containerd(given: str, normalised: str) -> None:
    assert normalize_platform(given) == normalised


def test_a_one_word_platform_must_be_a_known_os_or_architecture() -> None:
    assert normalize_platform("linux") == host_platform_string()
    for bad, message in (("foo", "unknown operating system or architecture"), ("a//b", "expected os/arch"),
                         ("linux/amd64/v2/x", "expected os/arch"), ("", "expected os/arch")):
        with pytest.raises(UsageError, match=message):
            normalize_platform(bad)


def test_platform_arg_in_from() -> None:
    doc = check("FROM --platform=$BUILDPLATFORM busybox AS b\nFROM b\n")
    assert doc["stages"][0]["base"]["platform"] == platform_args(None, "default")["BUILDPLATFORM"]


def test_mandatory_variable_error_is_located() -> None:
    with pytest.raises(PlanError) as caught:
        check("FROM scratch\nWORKDIR ${DIR:?DIR is required}\n")
    assert caught.value.line == 2
    assert "DIR is required" in str(caught.value)


def test_from_with_missing_value_is_a_warning_when_checking() -> None:
    doc = check("ARG BASE\nFROM $BASE\n")
    assert any("should not be blank" in w["message"] for w in doc["warnings"])


def test_undeclared_from_argument_warns() -> None:
    doc = check("FROM busybox:$TAG\n")
    assert any("FROM argument 'TAG' is not declared" in w["message"] for w in doc["warnings"])


def test_target_prunes_unreachable_stages() -> None:
    text = "FROM busybox AS a\nFROM busybox AS b\nFROM busybox AS c\nCOPY --from=a /x /x\n"
    doc = check(text, target="c")
    assert [stage["name"] for stage in doc["stages"]] == ["a", "c"]
    assert doc["stages"][1]["needs"] == [0]


def test_stage_inherits_env_and_args_from_parent_stage() -> None:
    doc = check("FROM scratch AS base\nARG V=1\nENV E=2\nFROM base\nENV X=$V-$E\n")
    assert env_pairs(steps(doc)[0]) == [("X", "1-2")]


def test_copy_from_a_later_stage_is_an_error() -> None:
    with pytest.raises(Exception, match="needs to be defined before current stage"):
        check("FROM scratch AS a\nCOPY --from=b /x /y\nFROM scratch AS b\n", target="a")


def test_bare_build_arg_reads_the_environment() -> None:
    assert parse_build_args(["A=1", "B", "C"], {"B": "from-env"}) == {"A": "1", "B": "from-env"}


def test_value_less_global_arg_hides_the_automatic_platform_value() -> None:
    doc = check("ARG TARGETOS\nFROM scratch\nARG TARGETOS\nARG TARGETARCH\nENV OS=${TARGETOS:-none} ARCH=$TARGETARCH\n")
    assert env_pairs(steps(doc)[2])[0] == ("OS", "none")
    assert env_pairs(steps(doc)[2])[1][1] != ""
