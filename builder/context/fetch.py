"""Build contexts that are not a local directory: ``-`` (a tar on stdin), git URLs and http(s) URLs.

They are turned into a temporary directory before anything else runs, and the
build then reads that directory like any other context. As with ``docker build``,
``-f`` names a file inside such a context (not a path relative to the caller).

- ``-``: stdin is a tar of the context (plain or gzip/bzip2/xz/zstd compressed).
  When it is no tar at all, it is the Dockerfile itself and the context is empty.
- ``https://host/repo.git#ref:subdir`` (any URL ``grammar.parse_git_ref`` accepts): a
  shallow checkout of ``ref`` (default branch when none), ``.git`` dropped, and
  ``subdir`` as the context's root.
- ``http(s)://host/ctx.tar.gz`` (any other http URL): downloaded and read like stdin, as
  BuildKit's dockerui does: a tar (plain or compressed, detected by content) is the
  context, anything else is the Dockerfile itself with an empty context.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from builder.errors import UsageError
from grammar import GitRef

STDIN = "-"
_CHUNK = 1 << 20
_TIMEOUT_SECONDS = 60


def is_materialized_context(context: str) -> bool:
    """Whether ``context`` is read into a temporary directory (stdin, a git or http URL) rather than used in place."""
    return context == STDIN or _git_ref(context) is not None or _is_http_context(context)


@contextlib.contextmanager
def prepared_context(options: argparse.Namespace, stdin: BinaryIO | None = None) -> Iterator[None]:
    """Point ``options.context`` (and a relative ``options.file``) at a local copy while the build runs."""
    context = options.context
    if not is_materialized_context(context):
        yield
        return
    options.context_origin = context  # the replay fast path and messages still see what was asked for
    with tempfile.TemporaryDirectory(prefix="pybuild-context-") as scratch:
        if context == STDIN:
            if options.file == STDIN:
                raise UsageError("the context and the Dockerfile (-f -) cannot both be read from stdin")
            root, dockerfile = read_stdin_context(stdin or sys.stdin.buffer, scratch)
        elif _git_ref(context) is None:
            root, dockerfile = fetch_http_context(context, scratch)
        else:
            root, dockerfile = fetch_git_context(context, scratch), None
        options.context = root
        if dockerfile is not None:
            options.file = dockerfile
        elif options.file and options.file != STDIN:
            options.file = os.path.join(root, options.file.lstrip("/"))
        yield


def read_stdin_context(stream: BinaryIO, scratch: str) -> tuple[str, str | None]:
    """(context directory, Dockerfile path when stdin held only a Dockerfile) of the bytes on stdin."""
    spooled = os.path.join(scratch, "stdin")
    with open(spooled, "wb") as handle:
        shutil.copyfileobj(stream, handle, _CHUNK)
    return _unpack_spooled(spooled, scratch, "the context on stdin")


def fetch_http_context(url: str, scratch: str) -> tuple[str, str | None]:
    """(context directory, Dockerfile path when the URL served a Dockerfile rather than a tar) of ``url``."""
    import requests  # lazy: only remote contexts need it

    spooled = os.path.join(scratch, "download")
    try:
        with requests.get(url, stream=True, timeout=_TIMEOUT_SECONDS) as response:
            if not 200 <= response.status_code < 300:
                raise UsageError(f"unable to prepare context: {url}: invalid response status {response.status_code}")
            with open(spooled, "wb") as handle:
                for chunk in response.iter_content(chunk_size=_CHUNK):
                    handle.write(chunk)
    except requests.RequestException as error:
        raise UsageError(f"unable to prepare context: failed to download {url}: {error}") from None
    return _unpack_spooled(spooled, scratch, f"the context at {url}")


def _unpack_spooled(spooled: str, scratch: str, origin: str) -> tuple[str, str | None]:
    """A spooled tar (maybe compressed) unpacked as the context; anything else is the Dockerfile."""
    from tarfile import TarError

    import runtime
    from builder.copy.archives import is_tar_archive, open_decompressed

    root = os.path.join(scratch, "context")
    os.mkdir(root)
    if not is_tar_archive(spooled):
        if os.path.getsize(spooled) == 0:
            raise UsageError(f"{origin} is empty: it must be a tar of the context or a Dockerfile")
        dockerfile = os.path.join(scratch, "Dockerfile")
        os.rename(spooled, dockerfile)  # outside the (empty) context, so COPY . does not see it
        return root, dockerfile
    try:
        with contextlib.ExitStack() as stack:
            # apply_layer's extraction refuses absolute names, ``..`` and links leading out of the tree.
            runtime.apply_layer(open_decompressed(spooled, stack), root)
    except (runtime.UnsafeLayerError, runtime.LayerFormatError, TarError, OSError, EOFError) as error:
        raise UsageError(f"unable to read {origin}: not a valid context tar: {error}") from None
    finally:
        os.unlink(spooled)
    return root, None


def fetch_git_context(url: str, scratch: str) -> str:
    """Check the git context ``url`` out below ``scratch``; the directory to use as the context."""
    ref = _git_ref(url)
    if ref is None:
        raise UsageError(f"unable to prepare context: {url} is not a git repository URL")
    return checkout_git_context(ref, scratch)


def checkout_git_context(ref: GitRef, scratch: str) -> str:
    from builder.copy.add_sources import fetch_git
    from builder.copy.errors import GitSourceError

    try:
        return fetch_git(ref, os.path.join(scratch, "git"), keep_git_dir=bool(ref.keep_git_dir))
    except GitSourceError as exc:
        raise UsageError(f"unable to prepare context: {exc}") from None


def _is_http_context(text: str) -> bool:
    return text.startswith(("http://", "https://")) and _git_ref(text) is None


def _git_ref(text: str) -> GitRef | None:
    from grammar import GitRefError, parse_git_ref

    if os.path.exists(text):  # a local directory always wins over an SCP-like look-alike
        return None
    try:
        return parse_git_ref(text)
    except GitRefError as exc:
        raise UsageError(f"unable to prepare context: {exc}") from None
