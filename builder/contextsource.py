"""Build contexts that are not a local directory: ``-`` (a tar on stdin) and git URLs.

They are turned into a temporary directory before anything else runs, and the
build then reads that directory like any other context. As with ``docker build``,
``-f`` names a file inside such a context (not a path relative to the caller).

- ``-``: stdin is a tar of the context (plain or gzip/bzip2/xz/zstd compressed).
  When it is no tar at all, it is the Dockerfile itself and the context is empty.
- ``https://host/repo.git#ref:subdir`` (any URL ``grammar.parse_git_ref`` accepts): a
  shallow checkout of ``ref`` (default branch when none), ``.git`` dropped, and
  ``subdir`` as the context's root.
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


def is_materialized_context(context: str) -> bool:
    """Whether ``context`` is read into a temporary directory (stdin or a git URL) rather than used in place."""
    return context == STDIN or _git_ref(context) is not None


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
    from tarfile import TarError

    import runtime
    from builder.archives import is_tar_archive, open_decompressed

    spooled = os.path.join(scratch, "stdin")
    with open(spooled, "wb") as handle:
        shutil.copyfileobj(stream, handle, _CHUNK)
    root = os.path.join(scratch, "context")
    os.mkdir(root)
    if not is_tar_archive(spooled):
        if os.path.getsize(spooled) == 0:
            raise UsageError("the context on stdin is empty: pipe a tar of the context or a Dockerfile")
        dockerfile = os.path.join(scratch, "Dockerfile")
        os.rename(spooled, dockerfile)  # outside the (empty) context, so COPY . does not see it
        return root, dockerfile
    try:
        with contextlib.ExitStack() as stack:
            # apply_layer's extraction refuses absolute names, ``..`` and links leading out of the tree.
            runtime.apply_layer(open_decompressed(spooled, stack), root)
    except (runtime.UnsafeLayerError, runtime.LayerFormatError, TarError, OSError, EOFError) as error:
        raise UsageError(f"unable to read the context tar from stdin: {error}") from None
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
    from builder.add_sources import fetch_git
    from builder.copy_errors import GitSourceError

    try:
        return fetch_git(ref, os.path.join(scratch, "git"), keep_git_dir=bool(ref.keep_git_dir))
    except GitSourceError as exc:
        raise UsageError(f"unable to prepare context: {exc}") from None


def _git_ref(text: str) -> GitRef | None:
    from grammar import GitRefError, parse_git_ref

    if os.path.exists(text):  # a local directory always wins over an SCP-like look-alike
        return None
    try:
        return parse_git_ref(text)
    except GitRefError as exc:
        raise UsageError(f"unable to prepare context: {exc}") from None
