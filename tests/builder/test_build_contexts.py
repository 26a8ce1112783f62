"""Build-context sources: ``--build-context`` named contexts, a tar on stdin, a git URL."""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.cli import main
from builder.commands.replaying import replayable
from builder.context.fetch import checkout_git_context, is_materialized_context, read_stdin_context
from builder.errors import StepError, UsageError
from builder.imagestore import ImageStore
from registry_client import host_platform
from builder.context.named import IMAGE, LOCAL, OCI_LAYOUT, context_name, parse_build_contexts, stages_to_build
from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.plan import PlanRequest
from builder.services import open_services
from builder.solve import BuildRequest, BuildResult, build
from grammar import GitRef
from tests.support.gitdaemon import git_daemon_serving
from tests.support.images import flatten

privileged = pytest.mark.privileged


def run_build(root: Path, context: Path, dockerfile: str, contexts: list[str], **options: object) -> BuildResult:
    services = open_services(root)
    source = DockerfileSource("Dockerfile", None, dockerfile)
    return build(BuildRequest(source=source, context=context, plan=PlanRequest(),
                              named_contexts=parse_build_contexts(contexts), **options), services)  # type: ignore[arg-type]


def cli_build(root: Path, *args: str, stdin: bytes | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    return main(["--root", str(root), "build", "--progress", "plain", *args])


def make_dir(base: Path, files: dict[str, str]) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    for relpath, text in files.items():
        (base / relpath).parent.mkdir(parents=True, exist_ok=True)
        (base / relpath).write_text(text)
    return base


# -- parsing (no privileges) -------------------------------------------------------------------

def test_parse_build_contexts_kinds_and_names(tmp_path: Path) -> None:
    (tmp_path / "layout").mkdir()
    (tmp_path / "layout" / "index.json").write_text('{"manifests": []}')
    contexts = parse_build_contexts([
        f"assets={tmp_path}", "docker.io/library/alpine:latest=docker-image://busybox:local",
        f"lay=oci-layout://{tmp_path / 'layout'}:v2", f"dig=oci-layout://{tmp_path / 'layout'}@sha256:{'a' * 64}",
    ])
    assert contexts["assets"].kind == LOCAL and contexts["assets"].value == os.path.realpath(tmp_path)
    assert contexts["alpine"].kind == IMAGE and contexts["alpine"].value == "busybox:local"
    assert (contexts["lay"].kind, contexts["lay"].selector) == (OCI_LAYOUT, "v2")
    assert contexts["dig"].selector == f"sha256:{'a' * 64}"
    # BuildKit's NamedContext: FROM docker.io/library/alpine matches a context named alpine.
    assert context_name("docker.io/library/alpine:latest") == context_name("alpine") == "alpine"


def test_platform_specific_context_names_are_normalised(tmp_path: Path) -> None:
    contexts = parse_build_contexts([f"alpine::linux/aarch64={tmp_path}", f"alpine::linux/arm64/v8={tmp_path}",
                                     f"docker.io/library/alpine::linux/amd64={tmp_path}"])
    assert set(contexts) == {"alpine::linux/arm64", "alpine::linux/amd64"}


@privileged
def test_a_platform_specific_context_wins_for_its_platform(built_root: Path, tmp_path: Path) -> None:
    host = make_dir(tmp_path / "host", {"which.txt": "host platform"})
    other = make_dir(tmp_path / "other", {"which.txt": "any platform"})
    arm = make_dir(tmp_path / "arm", {"which.txt": "arm64 only"})
    dockerfile = "FROM busybox:local\nCOPY --from=files /which.txt /which.txt\n"
    contexts = [f"files={other}", f"files::{host_platform()}={host}", f"files::linux/arm64={arm}"]
    run_build(built_root, tmp_path / "empty-context", dockerfile, contexts, tags=("ctx:platform",))
    assert (flatten(built_root, "ctx:platform", tmp_path / "tree") / "which.txt").read_text() == "host platform"
    run_build(built_root, tmp_path / "empty-context", dockerfile, contexts[:1] + contexts[2:], tags=("ctx:plain",))
    assert (flatten(built_root, "ctx:plain", tmp_path / "tree2") / "which.txt").read_text() == "any platform"


@pytest.mark.parametrize("value, message", [
    ("noequals", "expected NAME=VALUE"),
    ("Bad=.", "invalid --build-context name"),
    ("x::linux=.", "invalid --build-context name"),
    ("x=/no/such/dir", "is not a directory"),
    ("x=oci-layout:///no/such/layout", "not an OCI layout"),
    ("x=input:foo", "unsupported source"),
    ("x=s3://bucket/key", "unsupported source"),
])
def test_parse_build_contexts_rejects(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_build_contexts([value])


def test_replaced_stages_do_not_pull_in_their_own_needs() -> None:
    needs = {0: (), 1: (0,), 2: (1,)}
    assert stages_to_build(2, needs, set()) == {0, 1, 2}
    assert stages_to_build(2, needs, {1}) == {1, 2}


def test_replay_is_off_for_named_and_materialized_contexts() -> None:
    base = dict(no_cache=False, pull=False, outputs=None, push=False, metadata_file=None, cache_to=None,
                cache_from=None)
    assert replayable(argparse.Namespace(**base, build_contexts=[]))
    assert not replayable(argparse.Namespace(**base, build_contexts=["a=."]))
    assert not replayable(argparse.Namespace(**base, build_contexts=[], context_origin="-"))
    assert is_materialized_context("-") and is_materialized_context("https://example.com/r.git#main:sub")
    assert not is_materialized_context(".")


def test_stdin_plain_dockerfile_gives_an_empty_context(tmp_path: Path) -> None:
    root, dockerfile = read_stdin_context(io.BytesIO(b"FROM scratch\n"), str(tmp_path))
    assert os.listdir(root) == [] and Path(dockerfile or "").read_text() == "FROM scratch\n"


def test_stdin_tar_with_escaping_names_is_refused(tmp_path: Path) -> None:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as archive:
        info = tarfile.TarInfo("../escape")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(UsageError, match="context tar"):
        read_stdin_context(io.BytesIO(data.getvalue()), str(tmp_path))


# -- named contexts, end to end ------------------------------------------------------------------

@privileged
def test_from_a_named_docker_image_context(built_root: Path, tmp_path: Path) -> None:
    result = run_build(built_root, tmp_path, "FROM base\nRUN echo hi > /hi\n",
                       ["base=docker-image://busybox:local"], tags=("ctx:image",))
    tree = flatten(built_root, "ctx:image", tmp_path / "tree")
    assert (tree / "hi").read_text() == "hi\n" and (tree / "bin" / "busybox").exists()
    assert len(result.image.config.diff_ids) == len(ImageStore(built_root).image("busybox:local").config.diff_ids) + 1


@privileged
def test_build_context_flag(built_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context = make_dir(tmp_path / "ctx", {})
    assert cli_build(built_root, "-q", "-t", "ctx:flag", "--build-context", "base=docker-image://busybox:local",
                     "-f", "-", str(context), stdin=b"FROM base\nRUN echo flag > /flag\n",
                     monkeypatch=monkeypatch) == 0
    assert (flatten(built_root, "ctx:flag", tmp_path / "tree") / "flag").read_text() == "flag\n"
    assert cli_build(built_root, "--build-context", "nothing", str(context)) == 2  # a usage error


@privileged
def test_copy_and_mount_from_a_named_local_directory(built_root: Path, tmp_path: Path) -> None:
    assets = make_dir(tmp_path / "assets", {"a.txt": "A", "sub/b.txt": "B", "secret.key": "no",
                                            ".dockerignore": "*.key\n"})
    dockerfile = ("FROM busybox:local\n"
                  "COPY --from=assets / /assets/\n"
                  "RUN --mount=from=assets,target=/m cat /m/a.txt /m/sub/b.txt > /mounted\n")
    run_build(built_root, tmp_path / "empty-context", dockerfile, [f"assets={assets}"], tags=("ctx:local",))
    tree = flatten(built_root, "ctx:local", tmp_path / "tree")
    assert (tree / "assets" / "a.txt").read_text() == "A" and (tree / "assets" / "sub" / "b.txt").read_text() == "B"
    assert not (tree / "assets" / "secret.key").exists()  # the named context's own .dockerignore applies
    assert (tree / "mounted").read_text() == "AB"
    assert (tree / "assets" / "a.txt").stat().st_uid == 0


@privileged
def test_a_named_context_replaces_a_stage_of_that_name(built_root: Path, tmp_path: Path) -> None:
    replacement = make_dir(tmp_path / "deps", {"lib.txt": "from the context"})
    dockerfile = ("FROM busybox:local AS deps\n"
                  "RUN exit 3\n"  # never runs: the stage is replaced
                  "FROM busybox:local\n"
                  "COPY --from=deps /lib.txt /lib.txt\n")
    run_build(built_root, tmp_path, dockerfile, [f"deps={replacement}"], tags=("ctx:shadow",))
    assert (flatten(built_root, "ctx:shadow", tmp_path / "tree") / "lib.txt").read_text() == "from the context"
    with pytest.raises(StepError):
        run_build(built_root, tmp_path, dockerfile, [])


@privileged
def test_a_named_local_directory_as_a_base_and_its_cache(built_root: Path, tmp_path: Path) -> None:
    files = make_dir(tmp_path / "files", {"etc/motd": "hello"})
    dockerfile = "FROM files AS f\nFROM busybox:local\nCOPY --from=f /etc/motd /motd\n"
    first = run_build(built_root, tmp_path, dockerfile, [f"files={files}"], tags=("ctx:base",))
    again = run_build(built_root, tmp_path, dockerfile, [f"files={files}"])
    assert again.image.image_id == first.image.image_id
    (files / "etc" / "motd").write_text("changed")
    changed = run_build(built_root, tmp_path, dockerfile, [f"files={files}"], tags=("ctx:base2",))
    assert changed.image.image_id != first.image.image_id
    assert (flatten(built_root, "ctx:base2", tmp_path / "tree") / "motd").read_text() == "changed"


@privileged
def test_from_an_oci_layout_context(built_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context = make_dir(tmp_path / "ctx", {})
    layout = tmp_path / "layout"
    assert cli_build(built_root, "-q", "-o", f"type=oci,dest={layout},tar=false", "-f", "-", str(context),
                     stdin=b"FROM busybox:local\nRUN echo layout > /layout\n",
                     monkeypatch=monkeypatch) == 0
    digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    fresh = tmp_path / "fresh-root"  # an empty store: everything comes from the layout
    for value in (f"oci-layout://{layout}", f"oci-layout://{layout}@{digest}"):
        shutil.rmtree(fresh, ignore_errors=True)
        run_build(fresh, context, "FROM from-layout\nRUN cat /layout > /copied\n", [f"from-layout={value}"],
                  tags=("ctx:oci",))
        assert (flatten(fresh, "ctx:oci", tmp_path / "tree") / "copied").read_text() == "layout\n"
        shutil.rmtree(tmp_path / "tree")


# -- stdin and git contexts, through the CLI ---------------------------------------------------------------

def _tar_of(files: dict[str, str]) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as archive:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    return data.getvalue()


@privileged
def test_stdin_tar_context(built_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _tar_of({"Dockerfile": "FROM busybox:local\nCOPY hello.txt /\n", "hello.txt": "from stdin",
                    "docker/Alt.Dockerfile": "FROM busybox:local\nCOPY hello.txt /alt.txt\n"})
    assert cli_build(built_root, "-q", "-t", "ctx:stdin", "-", stdin=data, monkeypatch=monkeypatch) == 0
    assert (flatten(built_root, "ctx:stdin", tmp_path / "a") / "hello.txt").read_text() == "from stdin"
    # -f names a file inside the tar
    assert cli_build(built_root, "-q", "-t", "ctx:stdin-f", "-f", "docker/Alt.Dockerfile", "-", stdin=data,
                     monkeypatch=monkeypatch) == 0
    assert (flatten(built_root, "ctx:stdin-f", tmp_path / "b") / "alt.txt").read_text() == "from stdin"


@privileged
def test_stdin_dockerfile_without_context(built_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli_build(built_root, "-q", "-t", "ctx:stdin-df", "-", stdin=b"FROM busybox:local\nRUN echo x > /x\n",
                     monkeypatch=monkeypatch) == 0
    assert (flatten(built_root, "ctx:stdin-df", tmp_path / "a") / "x").read_text() == "x\n"


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare repo: tag v1 has app/Dockerfile and app/data.txt; main has moved on."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    base = tmp_path_factory.mktemp("git")
    work = make_dir(base / "work", {"app/Dockerfile": "FROM busybox:local\nCOPY data.txt /data.txt\n",
                                    "app/data.txt": "v1", "app/other.Dockerfile": "FROM busybox:local\n"
                                    "COPY data.txt /other.txt\n"})
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=work, check=True)
    subprocess.run([*git, "add", "-A"], cwd=work, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], cwd=work, check=True)
    subprocess.run([*git, "tag", "v1"], cwd=work, check=True)
    (work / "app" / "data.txt").write_text("v2")
    subprocess.run([*git, "commit", "-q", "-am", "two"], cwd=work, check=True)
    subprocess.run([*git, "clone", "-q", "--bare", str(work), str(base / "repo.git")], check=True)
    return base / "repo.git"


@pytest.fixture(scope="module")
def git_daemon(repository: Path) -> Iterator[str]:
    with git_daemon_serving(repository) as url:
        yield url


def test_git_context_checkout_of_a_file_url(repository: Path, tmp_path: Path) -> None:
    tree = checkout_git_context(GitRef(remote=f"file://{repository}", short_name="repo", ref="v1", subdir="app"),
                                str(tmp_path))
    assert sorted(os.listdir(tree)) == ["Dockerfile", "data.txt", "other.Dockerfile"]
    assert Path(tree, "data.txt").read_text() == "v1"


@privileged
def test_git_url_context(built_root: Path, tmp_path: Path, git_daemon: str) -> None:
    assert cli_build(built_root, "-q", "-t", "ctx:git", f"{git_daemon}#v1:app") == 0
    assert (flatten(built_root, "ctx:git", tmp_path / "a") / "data.txt").read_text() == "v1"
    assert cli_build(built_root, "-q", "-t", "ctx:git-f", "-f", "other.Dockerfile", f"{git_daemon}#main:app") == 0
    assert (flatten(built_root, "ctx:git-f", tmp_path / "b") / "other.txt").read_text() == "v2"


@privileged
def test_named_git_context(built_root: Path, tmp_path: Path, git_daemon: str) -> None:
    run_build(built_root, tmp_path, "FROM busybox:local\nCOPY --from=src /data.txt /from-git\n",
              [f"src={git_daemon}#v1:app"], tags=("ctx:named-git",))
    assert (flatten(built_root, "ctx:named-git", tmp_path / "a") / "from-git").read_text() == "v1"
