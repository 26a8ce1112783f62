"""``pybuild build https://host/ctx.tar.gz``: a tarball (any compression) or a plain Dockerfile over http."""
from __future__ import annotations

import bz2
import gzip
import lzma
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from test_build_contexts import _tar_of

from builder.cli import main
from builder.context.fetch import fetch_http_context, is_materialized_context
from builder.errors import UsageError
from tests.support.images import flatten
from tests.support.pages import serving_pages

FILES = {"Dockerfile": "FROM busybox:local\nCOPY hello.txt /\n", "hello.txt": "from the web",
         "docker/Alt.Dockerfile": "FROM busybox:local\nCOPY hello.txt /alt.txt\n"}
COMPRESSORS = {"tar": lambda data: data, "tar.gz": gzip.compress, "tar.bz2": bz2.compress, "tar.xz": lzma.compress,
               "tar.zst": lambda data: zstandard.ZstdCompressor().compress(data)}


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """Serves /ctx.<kind> for every compression, /Dockerfile as plain text, and 404 otherwise."""
    pages = {f"/ctx.{kind}": compress(gzip.decompress(_tar_of(FILES))) for kind, compress in COMPRESSORS.items()}
    pages["/Dockerfile"] = b"FROM busybox:local\nRUN echo remote > /remote.txt\n"

    with serving_pages(pages, {"Content-Type": "application/octet-stream"}) as url:  # docker decides by content
        yield url


def cli_build(root: Path, *args: str) -> int:
    return main(["--root", str(root), "build", "--progress", "plain", *args])


def test_http_urls_are_materialized_contexts_but_git_urls_stay_git() -> None:
    assert is_materialized_context("https://example.com/ctx.tar.gz")
    assert is_materialized_context("http://example.com/Dockerfile")
    assert not is_materialized_context("ctx.tar.gz")


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_every_compression_is_detected_by_content(site: str, tmp_path: Path, kind: str) -> None:
    root, dockerfile = fetch_http_context(f"{site}/ctx.{kind}", str(tmp_path))
    assert dockerfile is None
    assert sorted(os.listdir(root)) == ["Dockerfile", "docker", "hello.txt"]
    assert Path(root, "hello.txt").read_text() == "from the web"


def test_a_plain_file_is_the_dockerfile_with_an_empty_context(site: str, tmp_path: Path) -> None:
    root, dockerfile = fetch_http_context(f"{site}/Dockerfile", str(tmp_path))
    assert os.listdir(root) == []
    assert Path(dockerfile or "").read_text().startswith("FROM busybox:local")


def test_a_missing_page_is_a_usage_error(site: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unable to prepare context: .*invalid response status 404"):
        fetch_http_context(f"{site}/nothing.tar", str(tmp_path))


@pytest.mark.privileged
def test_build_from_a_remote_tarball_and_a_remote_dockerfile(built_root: Path, tmp_path: Path, site: str) -> None:
    assert cli_build(built_root, "-q", "-t", "remote:tar", f"{site}/ctx.tar.gz") == 0
    assert (flatten(built_root, "remote:tar", tmp_path / "a") / "hello.txt").read_text() == "from the web"
    # -f names a file inside the downloaded context, as for a stdin tar
    assert cli_build(built_root, "-q", "-t", "remote:alt", "-f", "docker/Alt.Dockerfile", f"{site}/ctx.tar.zst") == 0
    assert (flatten(built_root, "remote:alt", tmp_path / "b") / "alt.txt").read_text() == "from the web"
    assert cli_build(built_root, "-q", "-t", "remote:df", f"{site}/Dockerfile") == 0
    assert (flatten(built_root, "remote:df", tmp_path / "c") / "remote.txt").read_text() == "remote\n"


@pytest.mark.privileged
def test_a_failed_download_exits_with_a_message(built_root: Path, site: str, capsys: pytest.CaptureFixture) -> None:
    assert cli_build(built_root, f"{site}/missing.tar.gz") != 0
    assert "invalid response status 404" in capsys.readouterr().err
