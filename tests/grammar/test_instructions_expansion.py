"""Which fields the planner expands (BuildKit's Expand methods), with a fake expander."""
from __future__ import annotations

import re

import pytest
from test_instructions_support import convert, node

from grammar.ast import Add, Copy, Expose, From, Run
from grammar.errors import DockerfileSyntaxError
from grammar.expansion import Scope, expand_instruction, expansion_scope
from grammar.nodes import Heredoc

ENV = {"A": "alpha", "PORTS": "80 443/udp", "T": "cache", "MODE": "755", "BAD": "64a"}


class FakeExpander:
    """Replaces $NAME from ENV; enough to see which fields are touched."""

    def word(self, text: str) -> str:
        return re.sub(r"\$(\w+)", lambda m: ENV.get(m.group(1), ""), text)

    def words(self, text: str) -> list[str]:
        return self.word(text).split()

    def heredoc(self, text: str) -> str:
        return "expanded:" + self.word(text)


def expand(one):
    return expand_instruction(convert(one), FakeExpander())


def test_scopes() -> None:
    assert expansion_scope(convert(node("from", "$A"))) is Scope.META
    assert expansion_scope(convert(node("env", "K", "$A", "="))) is Scope.STAGE
    assert expansion_scope(convert(node("cmd", "echo $A"))) is None


def test_from_expands_image_and_platform() -> None:
    result = expand(node("from", "img:$A", flags=("--platform=$A",)))
    assert isinstance(result, From) and (result.image, result.platform) == ("img:alpha", "alpha")


def test_copy_expands_paths_chown_chmod_but_not_from_or_exclude() -> None:
    result = expand(node("copy", "$A", "/d/$A", flags=("--from=stage", "--chown=$A", "--chmod=$MODE", "--exclude=$A")))
    assert isinstance(result, Copy)
    assert (result.sources, result.dest, result.chown, result.chmod) == (("alpha",), "/d/alpha", "alpha", "755")
    assert (result.from_, result.exclude) == ("stage", ("$A",))


def test_copy_heredoc_bodies_expand_only_when_unquoted() -> None:
    docs = (Heredoc("X", "$A\n", True, False), Heredoc("Y", "$A\n", False, False))
    result = expand(node("copy", "<<X", "<<'Y'", "/d/", heredocs=docs))
    assert [f.content for f in result.heredoc_sources] == ["expanded:alpha\n", "$A\n"]


def test_add_checksum_expands() -> None:
    result = expand(node("add", "u", "/", flags=("--checksum=$A",)))
    assert isinstance(result, Add) and result.checksum == "alpha"


def test_expanded_chmod_is_checked() -> None:
    with pytest.raises(DockerfileSyntaxError, match="invalid chmod parameter: '64a'"):
        expand(node("copy", "a", "b", flags=("--chmod=$BAD",)))


def test_expose_splits_words_after_expansion() -> None:
    result = expand(node("expose", "$PORTS", "8080"))
    assert isinstance(result, Expose) and result.ports == ("80", "443/udp", "8080")


def test_run_expands_mounts_only() -> None:
    result = expand(node("run", "echo $A", flags=("--mount=type=$T,target=/$A",)))
    assert isinstance(result, Run)
    assert result.cmd.text == "echo $A"  # type: ignore[union-attr]
    assert (result.mounts[0].type, result.mounts[0].target, result.mounts[0].readonly) == ("cache", "/alpha", False)


def test_env_arg_label_workdir_user_volume_stopsignal() -> None:
    assert expand(node("env", "K$A", "$A", "=")).pairs[0].key == "Kalpha"
    assert expand(node("arg", "X=$A", "Y")).pairs == (("X", "alpha"), ("Y", None))
    assert expand(node("label", "k", "$A", "=")).pairs[0].value == "alpha"
    assert expand(node("workdir", "/$A")).path == "/alpha"
    assert expand(node("user", "$A")).user == "alpha"
    assert expand(node("volume", "/$A")).paths == ("/alpha",)
    assert expand(node("stopsignal", "$A")).signal == "alpha"


@pytest.mark.parametrize("keyword", ["cmd", "entrypoint", "maintainer"])
def test_never_expanded(keyword: str) -> None:
    one = node(keyword, "$A")
    assert expand(one) == convert(one)
