"""``--build-context NAME=https://host/file``: BuildKit's ``llb.HTTP(url, Filename("context"))``.

The named context is one file, ``/context``: the download as it is (a tarball is not unpacked,
unlike the main context from a URL), mode 0600, owner 0:0, mtime from ``Last-Modified``.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
from test_build_contexts import _tar_of, cli_build, run_build

from builder.context.named import HTTP, parse_build_contexts
from builder.errors import BuildError
from builder.events import StepCached, StepStarted
from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.plan import PlanRequest
from builder.services import open_services
from builder.solve import BuildRequest, BuildResult, build
from tests.support.images import flatten
from tests.support.pages import serving_pages

privileged = pytest.mark.privileged

LAST_MODIFIED = 1_600_000_000  # 2020-09-13, as the server says


class Site:
    """Pages served by a local http server; a test may change them between builds."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {"/src.tar.gz": _tar_of({"app/main.txt": "main v1"}),
                                        "/notes.txt": b"plain notes\n"}
        self.url = ""
        self.seen: list[str] = []  # the path of every request the server answered


@pytest.fixture()
def site() -> Iterator[Site]:
    served = Site()
    with serving_pages(served.pages, {"Last-Modified": formatdate(LAST_MODIFIED, usegmt=True)},
                       served.seen) as url:
        served.url = url
        yield served


def test_an_http_url_that_is_no_git_repository_is_an_http_context() -> None:
    contexts = parse_build_contexts(["src=https://example.com/releases/src.tar.gz", "repo=https://example.com/x.git"])
    assert contexts["src"].kind == HTTP and contexts["src"].value == "https://example.com/releases/src.tar.gz"
    assert contexts["repo"].kind == "git"


DOCKERFILE = """\
FROM busybox:local
COPY --from=src /context /downloaded.tar.gz
RUN --mount=from=src,target=/mnt mkdir /unpacked && tar -xzf /mnt/context -C /unpacked
COPY --from=notes / /notes/
"""


@privileged
def test_a_tarball_and_a_plain_file_arrive_as_one_file_named_context(built_root: Path, tmp_path: Path,
                                                                      site: Site) -> None:
    context = tmp_path / "context"
    context.mkdir()
    contexts = [f"src={site.url}/src.tar.gz", f"notes={site.url}/notes.txt"]
    first = run_build(built_root, context, DOCKERFILE, contexts)
    tree = flatten(built_root, first.image.image_id, tmp_path / "first")
    downloaded = tree / "downloaded.tar.gz"
    assert downloaded.read_bytes() == site.pages["/src.tar.gz"]  # as served: not unpacked
    assert downloaded.stat().st_mode & 0o7777 == 0o600 and downloaded.stat().st_uid == 0
    assert downloaded.stat().st_mtime == LAST_MODIFIED
    assert (tree / "unpacked/app/main.txt").read_text() == "main v1"
    assert os.listdir(tree / "notes") == ["context"] and (tree / "notes/context").read_text() == "plain notes\n"

    events: list = []

    def build_with_events() -> BuildResult:
        events.clear()
        return build(BuildRequest(source=DockerfileSource("Dockerfile", None, DOCKERFILE), context=context,
                                  plan=PlanRequest(), named_contexts=parse_build_contexts(contexts)),
                     open_services(built_root, emit=events.append))

    def ran() -> list[str]:
        cached = {event.step_id for event in events if isinstance(event, StepCached)}
        return [event.title for event in events if isinstance(event, StepStarted) and event.step_id not in cached]

    again = build_with_events()  # unchanged pages: every step hits, the downloads' too
    assert again.image.image_id == first.image.image_id
    assert ran() == []

    site.pages["/src.tar.gz"] = _tar_of({"app/main.txt": "main v2"})
    changed = build_with_events()
    assert sorted(ran()) == sorted([f"[context src] {site.url}/src.tar.gz", "[stage-0 2/4] COPY --from=src /context "
                                    "/downloaded.tar.gz", "[stage-0 3/4] RUN --mount=from=src,target=/mnt mkdir "
                                    "/unpacked && tar -xzf /mnt/context -C /unpacked",
                                    "[stage-0 4/4] COPY --from=notes / /notes/"])  # on a new parent; notes: a hit
    tree = flatten(built_root, changed.image.image_id, tmp_path / "changed")
    assert (tree / "unpacked/app/main.txt").read_text() == "main v2"


@privileged
def test_a_missing_page_fails_with_the_context_name_and_status(built_root: Path, tmp_path: Path, site: Site,
                                                               capsys: pytest.CaptureFixture) -> None:
    context = tmp_path / "context"
    context.mkdir()
    with pytest.raises(BuildError, match=r"--build-context src: failed to load .*/missing.tar.gz: "
                                         r"invalid response status 404"):
        run_build(built_root, context, "FROM busybox:local\nCOPY --from=src /context /x\n",
                  [f"src={site.url}/missing.tar.gz"])
    (context / "Dockerfile").write_text("FROM src\n")
    assert cli_build(built_root, "--build-context", f"src={site.url}/missing.tar.gz", str(context)) != 0
    err = capsys.readouterr().err
    assert "invalid response status 404" in err and "--build-context src" in err and "Traceback" not in err



@privileged
def test_an_add_of_the_context_url_shares_its_one_download(tmp_path: Path, site: Site) -> None:
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = (f"FROM web AS whole\nFROM scratch\nCOPY --from=web /context /via-context\n"
                  f"ADD {site.url}/notes.txt /via-add\nCOPY --from=whole / /whole/\n")
    result = run_build(tmp_path / "root", context, dockerfile, [f"web={site.url}/notes.txt"])
    assert site.seen == ["/notes.txt"]  # the named context and ADD: one request between them
    tree = flatten(tmp_path / "root", result.image.image_id, tmp_path / "tree")
    for path in ("via-context", "via-add", "whole/context"):
        copied = tree / path
        assert copied.read_bytes() == b"plain notes\n", path
        assert copied.stat().st_mode & 0o7777 == 0o600 and copied.stat().st_uid == 0, path
        assert copied.stat().st_mtime == LAST_MODIFIED, path
