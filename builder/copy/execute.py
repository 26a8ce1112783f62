"""Execute one COPY or ADD into a destination rootfs directory, with BuildKit's semantics.

``execute_copy(dest_root, request)`` is the entry point. Each source word is one
copy action, in order (then the heredoc sources), as in BuildKit's FileOp:

* local words (context or ``--from`` root) go through ``builder.copy.sources`` (wildcards,
  symlink following, not-found errors) and, for ADD, local tar archives are
  unpacked instead of copied unless ``unpack=False``;
* ADD URLs are downloaded, ADD git refs cloned, then copied like a file / a tree;
* heredocs become a 0644 file named after the heredoc, copied like a file.

Destination rules are fsutil's ``Copy``/``prepareTargetDir``: a file onto an
existing directory lands inside it; a directory's *contents* are copied (the
directory itself only for git trees); missing parents are created. With several
sources and a dest without ``/``, BuildKit does not fail (unlike the classic
builder): each copy lands on the same path, the last one wins (moby/buildkit#1853).

``--link`` does not change what this module writes: the caller copies onto an
empty scratch root and merges it as a layer (and uses ``--link`` for the cache
key only when ``--chmod`` is absent, as BuildKit falls back otherwise).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import posixpath
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from builder.copy.add_sources import fetch_git
from builder.copy.archives import is_tar_archive, unpack_archive
from builder.copy.dest import Destination, make_dirs, normalize_dest
from builder.copy.errors import CopyError
from builder.copy.owners import resolve_chown
from builder.copy.remote_files import RemoteFiles
from builder.copy.reuse import CopyReuse
from builder.copy.scoped_path import resolve_in_root
from builder.copy.filters import PathFilter
from builder.copy.sources import SelectedSource, SourceRoot, select_sources, select_word
from builder.copy.tree import CopyOptions, ModeChange, TreeCopier
from grammar import GitRef, GitRefError, PatternMatcher, parse_git_ref, record

_INLINE_FILE_MODE = 0o644


@record
class InlineSource:
    """A heredoc source: ``COPY <<EOF /dest`` writes a file named ``EOF``."""

    name: str
    content: bytes


@record
class CopyRequest:
    """One COPY/ADD with its words already expanded."""

    dest: str
    sources: tuple[str, ...] = ()
    source: SourceRoot | None = None  # where local words are read: the context or a --from root
    inline: tuple[InlineSource, ...] = ()
    workdir: str = "/"
    chown: str | None = None
    chmod: ModeChange | None = None
    exclude: tuple[str, ...] = ()
    parents: bool = False
    add: bool = False
    unpack: bool | None = None  # None: ADD unpacks local archives, never URLs
    checksum: str | None = None
    keep_git_dir: bool | None = None
    scratch_dir: str | None = None  # where downloads and clones are staged
    remote: RemoteFiles | None = None  # the build's URL fetcher (None: download without a cache)
    reuse: CopyReuse | None = None  # files of ``source`` to link from the step's previous run (builder.copy.reuse)


@record
class CopyResult:
    written: tuple[str, ...]  # image paths created or replaced, in order


@dataclass(slots=True)
class _Step:
    dest_root: str
    destination: Destination
    options: CopyOptions
    written: list[str]
    reuse: CopyReuse | None = None
    reuse_source: SourceRoot | None = None  # the only source whose files ``reuse`` may link (the context)

    def place(self, source: SourceRoot, selected: SelectedSource, *, dir_contents: bool = True,
              include: PatternMatcher | None = None) -> None:
        """fsutil ``Copy`` for one selected path: make the dest's parents, pick the target, copy."""
        owner = self.options.owner
        path = self.destination.path
        make_dirs(self.dest_root, path if self.destination.is_dir else posixpath.dirname(path), owner, self.written)
        target = resolve_in_root(self.dest_root, path)
        source_is_dir = stat.S_ISDIR(selected.st.st_mode)
        target_st = _lstat(target)
        into_directory = target_st is not None and (
            (not dir_contents and source_is_dir) or (not source_is_dir and stat.S_ISDIR(target_st.st_mode)))
        if into_directory and selected.name != "/":
            target = os.path.join(target, selected.name)
        image_target = target[len(self.dest_root):] or "/"
        make_contents_dir = dir_contents and source_is_dir and target_st is None
        make_dirs(self.dest_root, image_target if make_contents_dir else posixpath.dirname(image_target), owner,
                  self.written)
        options = CopyOptions(owner, self.options.mode, PathFilter(include, self.options.paths.exclude))
        reuse = self.reuse if self.reuse is not None and source is self.reuse_source else None
        TreeCopier(source, self.dest_root, options, self.written, reuse).copy(selected.relpath, target)

    def unpack(self, archive: str, scratch_dir: str | None) -> None:
        directory = make_dirs(self.dest_root, self.destination.path, self.options.owner, self.written)
        unpack_archive(archive, self.dest_root, directory, self.options.owner, self.written, scratch_dir)


def execute_copy(dest_root: str, request: CopyRequest) -> CopyResult:
    """Carry out ``request`` inside the rootfs directory ``dest_root``."""
    dest_root = os.path.abspath(dest_root)
    _validate(request)
    options = CopyOptions(
        owner=resolve_chown(request.chown, dest_root) if request.chown else None,
        mode=request.chmod,
        paths=PathFilter(exclude=PatternMatcher(request.exclude) if request.exclude else None),
    )
    step = _Step(dest_root, normalize_dest(request.dest, request.workdir), options, [], request.reuse, request.source)
    for word in request.sources:
        git_ref = _git_ref(word)
        if git_ref is not None:
            _add_git(step, git_ref, request)
        elif word.startswith(("http://", "https://")):
            _add_url(step, word, request)
        else:
            _copy_local(step, word, request)
    for inline in request.inline:
        _copy_inline(step, inline, request.scratch_dir)
    return CopyResult(tuple(step.written))


def _validate(request: CopyRequest) -> None:
    kind = "ADD" if request.add else "COPY"
    for word in request.sources:
        remote = _git_ref(word) is not None or word.startswith(("http://", "https://"))
        if remote and not request.add:
            what = "a git ref" if _git_ref(word) is not None else "a URL"
            raise CopyError(f"source can't be {what} for COPY")
        if not remote and request.source is None:
            raise CopyError(f"{kind} {word}: no source directory to copy from")
    if request.checksum:
        if not request.add:
            raise CopyError("checksum can't be specified for COPY")
        if len(request.sources) != 1:
            raise CopyError("checksum can't be specified for multiple sources")
        word = request.sources[0]
        if _git_ref(word) is None and not word.startswith(("http://", "https://")):
            raise CopyError("checksum requires HTTP(S) or Git sources")


def _git_ref(word: str) -> GitRef | None:
    try:
        ref = parse_git_ref(word)
    except GitRefError as error:
        raise CopyError(f"{word}: {error}") from None
    return ref if ref is not None and not ref.indistinguishable_from_local else None


def _copy_local(step: _Step, word: str, request: CopyRequest) -> None:
    source = request.source
    assert source is not None
    selection = select_word(source, word, parents=request.parents)
    if selection.include is not None:  # --parents
        for selected in selection.found:
            step.place(source, selected, include=selection.include)
        return
    unpack = request.add if request.unpack is None else request.unpack
    for selected in selection.found:
        host = source.host(selected.relpath)
        if unpack and stat.S_ISREG(selected.st.st_mode) and is_tar_archive(host):
            step.unpack(host, request.scratch_dir)
        else:
            step.place(source, selected)


def _copy_inline(step: _Step, inline: InlineSource, scratch_dir: str | None) -> None:
    if "/" in inline.name or inline.name in ("", ".", ".."):
        raise CopyError(f"heredoc name {inline.name!r} cannot be used as a file name")
    with tempfile.TemporaryDirectory(prefix="pybuild-heredoc-", dir=scratch_dir) as staging:
        path = os.path.join(staging, inline.name)
        with open(path, "wb") as handle:
            handle.write(inline.content)
        os.chmod(path, _INLINE_FILE_MODE)
        root = SourceRoot(staging, from_context=True, name="inline")
        step.place(root, select_sources(root, inline.name, follow=False, wildcards=False)[0], dir_contents=False)


def _add_url(step: _Step, url: str, request: CopyRequest) -> None:
    with contextlib.ExitStack() as stack:
        staging = stack.enter_context(tempfile.TemporaryDirectory(prefix="pybuild-url-", dir=request.scratch_dir))
        remote = request.remote or RemoteFiles(Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="pybuild-download-", dir=request.scratch_dir))))
        name = remote.fetch(url, request.checksum).stage(staging)
        root = SourceRoot(staging, from_context=True, name=url)
        if request.unpack and is_tar_archive(root.host(name)):
            step.unpack(root.host(name), request.scratch_dir)
            return
        step.place(root, select_sources(root, name, follow=False, wildcards=False)[0], dir_contents=False)


def _add_git(step: _Step, ref: GitRef, request: CopyRequest) -> None:
    if request.keep_git_dir is not None and ref.keep_git_dir is not None and request.keep_git_dir != ref.keep_git_dir:
        raise CopyError("inconsistent keep-git-dir configuration")
    if request.checksum and ref.checksum and request.checksum != ref.checksum:
        raise CopyError(f'checksum mismatch "{request.checksum}" != "{ref.checksum}"')
    keep = bool(ref.keep_git_dir if ref.keep_git_dir is not None else request.keep_git_dir)
    if request.checksum and not ref.checksum:
        ref = dataclasses.replace(ref, checksum=request.checksum)
    with tempfile.TemporaryDirectory(prefix="pybuild-git-", dir=request.scratch_dir) as staging:
        tree = fetch_git(ref, staging, keep)
        root = SourceRoot(tree, from_context=True, name=ref.remote)
        step.place(root, SelectedSource("", "/", os.lstat(tree)), dir_contents=False)


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
