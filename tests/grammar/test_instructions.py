"""Node -> typed instruction, one behaviour per test (nodes built by hand)."""
from __future__ import annotations

import pytest
from test_instructions_support import convert, node, parsed_file

from grammar.ast import (
    Add, Arg, ArgDecl, Cmd, Copy, Entrypoint, Env, ExecForm, Expose, From, KeyValue, Label, Maintainer,
    Onbuild, Run, Shell, ShellForm, Span, StopSignal, User, Volume, Workdir,
)  # fmt: skip
from grammar.errors import DockerfileSyntaxError
from grammar.instructions import instruction_names, parse_instruction
from grammar.nodes import Heredoc


def error_of(one) -> DockerfileSyntaxError:
    with pytest.raises(DockerfileSyntaxError) as caught:
        convert(one)
    return caught.value


def test_there_are_eighteen_instructions() -> None:
    assert len(instruction_names()) == 18


def test_from_with_stage_name_and_platform() -> None:
    result = convert(node("from", "alpine:3", "AS", "Build", flags=("--platform=$BUILDPLATFORM",)))
    assert isinstance(result, From)
    assert (result.image, result.stage_name, result.platform) == ("alpine:3", "build", "$BUILDPLATFORM")
    assert result.span == Span(1, 1, 1, len(result.source) + 1)
    assert [flag.name for flag in result.flags] == ["platform"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("a", "b"), "FROM requires either one or three arguments"),
        (("a", "to", "b"), "FROM requires either one or three arguments"),
        (("a", "as", "1st"), 'invalid name for build stage: "1st", name can\'t start with a number or contain symbols'),
        (("a", "as", "a:b"), 'invalid name for build stage: "a:b", name can\'t start with a number or contain symbols'),
    ],
)
def test_from_errors(args: tuple[str, ...], message: str) -> None:
    assert error_of(node("from", *args)).message == message


def test_errors_carry_path_lines_and_source() -> None:
    error = error_of(node("workdir"))
    assert (error.path, error.line, error.end_line, error.source_lines) == ("Dockerfile", 1, 1, ("WORKDIR",))


def test_run_shell_and_exec_forms() -> None:
    assert convert(node("run", "echo $HOME")).cmd == ShellForm("echo $HOME")
    assert convert(node("run", "ls", "/", json=True)).cmd == ExecForm(("ls", "/"))


def test_run_flags() -> None:
    result = convert(
        node("run", "make", flags=("--mount=type=cache,target=/c", "--mount=target=/src", "--network=none", "--security=insecure"))
    )
    assert isinstance(result, Run)
    assert [(m.type, m.target) for m in result.mounts] == [("cache", "/c"), ("bind", "/src")]
    assert (result.network, result.security) == ("none", "insecure")


@pytest.mark.parametrize(
    ("flag", "message"),
    [("--network=bridge", 'unsupported network mode "bridge"'), ("--security=root", 'unsupported security mode "root"')],
)
def test_run_network_and_security_values(flag: str, message: str) -> None:
    assert error_of(node("run", "x", flags=(flag,))).message == message


def test_run_device_is_labs_only() -> None:
    assert "unknown flag: --device" in error_of(node("run", "x", flags=("--device=gpu",))).message


def test_run_device_in_the_labs_channel() -> None:
    one = node("run", "x", flags=("--device=nvidia.com/gpu=all,required", "--device=other"))
    result = parse_instruction(one, parsed_file(one), labs=True)
    assert isinstance(result, Run) and result.devices == ("nvidia.com/gpu=all,required", "other")


def test_run_mount_errors_are_located() -> None:
    error = error_of(node("run", "x", flags=("--mount=type=tmp",)))
    assert error.message == 'unsupported mount type "tmp" (did you mean tmpfs?)'
    assert error.line == 1


def test_run_heredocs_are_kept_raw() -> None:
    doc = Heredoc("EOF", "\techo hi\n", expand=True, chomp=True)
    result = convert(node("run", "<<-EOF", heredocs=(doc,)))
    assert result.cmd == ShellForm("<<-EOF")
    assert [(f.name, f.content, f.chomp) for f in result.heredocs] == [("EOF", "\techo hi\n", True)]


def test_cmd_and_entrypoint() -> None:
    assert convert(node("cmd", "a", "b", json=True)) == Cmd(convert(node("cmd", "a", "b", json=True)).span, 'CMD a b', ExecForm(("a", "b")))
    assert convert(node("cmd", json=True)).cmd == ExecForm(())
    assert convert(node("entrypoint", json=True)).cmd is None
    entry = convert(node("entrypoint", "[]random string"))
    assert isinstance(entry, Entrypoint) and entry.cmd == ShellForm("[]random string")


def test_cmd_rejects_flags() -> None:
    assert error_of(node("cmd", "x", flags=("--foo",))).message == "unknown flag: --foo"


def test_shell_needs_json() -> None:
    assert convert(node("shell", "/bin/bash", "-c", json=True)) == Shell(
        convert(node("shell", "/bin/bash", "-c", json=True)).span, "SHELL /bin/bash -c", ("/bin/bash", "-c")
    )
    assert error_of(node("shell", "bash -c")).message == "SHELL requires the arguments to be in JSON form"
    assert error_of(node("shell", json=True)).message == "SHELL requires at least one argument"


def test_copy_fields() -> None:
    result = convert(
        node(
            "copy", "a", "b*", "/dest/",
            flags=("--from=build", "--chown=1:2", "--chmod=u+x", "--link", "--parents", "--exclude=*.md", "--exclude=x"),
        )  # fmt: skip
    )
    assert isinstance(result, Copy)
    assert (result.sources, result.dest, result.from_, result.chown, result.chmod) == (("a", "b*"), "/dest/", "build", "1:2", "u+x")
    assert (result.link, result.parents, result.exclude) == (True, True, ("*.md", "x"))


def test_add_fields() -> None:
    result = convert(
        node("add", "https://x/y.tgz", "/", flags=("--checksum=sha256:abc", "--keep-git-dir", "--unpack=false", "--link=false"))
    )
    assert isinstance(result, Add)
    assert (result.checksum, result.keep_git_dir, result.unpack, result.link) == ("sha256:abc", True, False, False)
    assert convert(node("add", "a", "b")).unpack is None


def test_copy_rejects_add_only_flags_and_add_rejects_from() -> None:
    assert error_of(node("copy", "a", "b", flags=("--checksum=x",))).message.startswith("unknown flag: --checksum")
    assert error_of(node("add", "a", "b", flags=("--from=x",))).message.startswith("unknown flag: --from")


@pytest.mark.parametrize(
    ("chmod", "message"),
    [
        ("64a", "invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777"),
        ("10000", "invalid chmod parameter: '10000'. it should be octal string and between 0 and 07777"),
        ("u+q", "invalid syntax"),
    ],
)
def test_literal_chmod_is_validated(chmod: str, message: str) -> None:
    assert error_of(node("copy", "a", "b", flags=(f"--chmod={chmod}",))).message == message


def test_chmod_with_a_variable_waits_for_expansion() -> None:
    assert convert(node("add", "a", "b", flags=("--chmod=${mode}",))).chmod == "${mode}"


def test_copy_heredoc_sources_are_chomped() -> None:
    docs = (Heredoc("A", "\tone\n", True, True), Heredoc("B", "two\n", False, False))
    result = convert(node("copy", "<<-A", "<<'B'", "x", "/d/", heredocs=docs))
    assert result.sources == ("x",)
    assert [(f.name, f.content, f.expand) for f in result.heredoc_sources] == [("A", "one\n", True), ("B", "two\n", False)]


def test_env_and_label_pairs() -> None:
    env = convert(node("env", "A", "1", "=", "B", "two words", ""))
    assert isinstance(env, Env)
    assert env.pairs == (KeyValue("A", "1"), KeyValue("B", "two words", legacy=True))
    label = convert(node("label", "k", '"v"', "="))
    assert isinstance(label, Label) and label.pairs == (KeyValue("k", '"v"'),)
    assert error_of(node("env", "", "x", "=")).message == "ENV names can not be blank"


def test_arg_declarations() -> None:
    result = convert(node("arg", "A", "B=", "C=x=y", flags=("--ignored",)))
    assert isinstance(result, Arg)
    assert result.args == (ArgDecl("A", None), ArgDecl("B", ""), ArgDecl("C", "x=y"))
    assert result.pairs == (("A", None), ("B", ""), ("C", "x=y"))
    assert error_of(node("arg", "=x")).message == "ARG names can not be blank"
    assert error_of(node("arg")).message == "ARG requires at least one argument"


def test_expose_volume_workdir_user_stopsignal_maintainer() -> None:
    assert convert(node("expose", "8080", "443/tcp")) == Expose(Span(1, 1, 1, 20), "EXPOSE 8080 443/tcp", ("443/tcp", "8080"))
    volume = convert(node("volume", " /a ", "/b", json=True))
    assert isinstance(volume, Volume) and volume.paths == ("/a", "/b")
    assert error_of(node("volume", " ", json=True)).message == "VOLUME specified can not be an empty string"
    assert isinstance(convert(node("workdir", "/app")), Workdir)
    assert convert(node("user", "app:app")) == User(Span(1, 1, 1, 13), "USER app:app", "app:app")
    assert convert(node("stopsignal", "SIGTERM", flags=("--ignored",))) == StopSignal(
        Span(1, 1, 1, 29), "STOPSIGNAL --ignored SIGTERM", "SIGTERM"
    )
    assert isinstance(convert(node("maintainer", "me")), Maintainer)


def test_onbuild_keeps_trigger_text_and_parses_it() -> None:
    inner = node("run", "echo hi")
    result = convert(node("onbuild", inner=inner, original="ONBUILD RUN echo hi"))
    assert isinstance(result, Onbuild)
    assert (result.trigger, result.keyword) == ("RUN echo hi", "RUN")
    assert isinstance(result.instruction, Run)


def test_onbuild_trigger_with_heredoc() -> None:
    doc = Heredoc("EOF", "echo hi\n", True, False)
    inner = node("run", "<<EOF", heredocs=(doc,))
    result = convert(node("onbuild", inner=inner, heredocs=(doc,), original="ONBUILD RUN <<EOF\necho hi\nEOF\n"))
    assert result.trigger == "RUN <<EOF\necho hi\nEOF"


def test_onbuild_trigger_that_does_not_parse_is_kept_as_text() -> None:
    result = convert(node("onbuild", inner=node("copy", "onlyone"), original="ONBUILD COPY onlyone"))
    assert (result.trigger, result.instruction) == ("COPY onlyone", None)


@pytest.mark.parametrize(
    ("word", "message"),
    [("bogus", "unknown instruction: bogus"), ("RUNN", "unknown instruction: RUNN (did you mean RUN?)"), ("evn", "unknown instruction: evn (did you mean env?)")],
)
def test_unknown_instruction_suggests(word: str, message: str) -> None:
    assert error_of(node(word.lower(), original=f"{word} x")).message == message
