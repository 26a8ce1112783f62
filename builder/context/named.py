"""Named build contexts: ``--build-context NAME=VALUE`` (BuildKit's ``context:NAME`` frontend option).

A named context replaces the stage or image called NAME wherever the Dockerfile
refers to it: ``FROM NAME``, ``COPY --from=NAME``, ``RUN --mount=from=NAME``. A
stage named NAME is not built at all (BuildKit marks it ``noinit``). VALUE is

- ``docker-image://REF``: the image, from the local store, else pulled;
- ``oci-layout://PATH[:TAG|@DIGEST]``: an image of the OCI layout directory PATH
  (tag ``latest`` by default, or the layout's only image when it has one);
- a git URL: the repository's tree, as a local directory;
- any other http(s) URL: one file named ``context`` holding the download, mode 0600 and
  owner 0:0, its mtime the ``Last-Modified`` header: BuildKit's ``llb.HTTP(url,
  Filename("context"))`` (dockerui ``namedcontext.go``). A tarball is *not* unpacked there,
  unlike the main context from a URL: ``ADD --from`` does not exist, so a Dockerfile unpacks
  it with ``RUN tar`` or reads it with ``RUN --mount=from=NAME``;
- a directory: its files as one layer. As in BuildKit's ``local:`` named contexts,
  the ``.dockerignore`` at the directory's root applies; files arrive as 0:0.

Names match like BuildKit's ``NamedContext``: both sides are normalised to the
familiar reference without ``:latest``, so ``FROM docker.io/library/alpine``
matches ``--build-context alpine=...``.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from builder.baseimage import BaseImage, scratch, stored_base
from builder.errors import UsageError
from builder.services import Services
from grammar import record
from registry_client import Descriptor, Digest, History, Platform, RegistryError, parse_reference

if TYPE_CHECKING:
    from builder.copy.remote_files import FetchedFile, RemoteFiles
    from builder.resolvedimages import ResolvedImages
    from builder.copy.sources import SourceRoot

LOCAL, IMAGE, OCI_LAYOUT, GIT, HTTP = "local", "docker-image", "oci-layout", "git", "http"
_HTTP_FILE_NAME = "context"  # what BuildKit names the download of an http named context
_IMAGE_SCHEME, _OCI_SCHEME = "docker-image://", "oci-layout://"
_REF_NAME = "org.opencontainers.image.ref.name"
_CHUNK = 1 << 20


@record
class NamedContext:
    name: str  # normalised (see ``context_name``)
    kind: str  # LOCAL | IMAGE | OCI_LAYOUT | GIT | HTTP
    value: str  # absolute directory, image reference, layout directory, or git URL
    selector: str = ""  # OCI_LAYOUT only: "sha256:..." or a tag; "" when no tag was given


def context_name(reference: str) -> str:
    """``reference`` as BuildKit compares context names: familiar form, ``:latest`` dropped."""
    try:
        return parse_reference(reference).familiar.removesuffix(":latest")
    except RegistryError:
        return reference.lower()  # not a reference (a stage name BuildKit would reject): match literally


def parse_build_contexts(values: Iterable[str]) -> dict[str, NamedContext]:
    """``--build-context`` flags, by normalised name; the last one of a name wins (as buildx)."""
    contexts: dict[str, NamedContext] = {}
    for value in values:
        name, sep, source = value.partition("=")
        if not sep or not name or not source:
            raise UsageError(f"invalid --build-context {value!r}: expected NAME=VALUE")
        name, has_platform, platform = name.partition("::")  # NAME::os/arch: only for that platform
        try:
            normalised = parse_reference(name).familiar.removesuffix(":latest")
            if has_platform:
                normalised += "::" + _platform_suffix(Platform.parse(platform))
        except RegistryError as exc:
            raise UsageError(f"invalid --build-context name {value.partition('=')[0]!r}: {exc}") from None
        contexts[normalised] = _parse_source(normalised, source)
    return contexts


def _platform_suffix(platform: Platform) -> str:
    """How BuildKit spells the platform of a ``NAME::PLATFORM`` context: normalised (``linux/arm64``)."""
    return str(platform.normalized())


def _parse_source(name: str, source: str) -> NamedContext:
    from grammar import GitRefError, parse_git_ref

    if source.startswith(_IMAGE_SCHEME):
        reference = source.removeprefix(_IMAGE_SCHEME)
        try:
            parse_reference(reference)
        except RegistryError as exc:
            raise UsageError(f"--build-context {name}: {exc}") from None
        return NamedContext(name, IMAGE, reference)
    if source.startswith(_OCI_SCHEME):
        # buildx cuts the digest at the first '@', then the tag at the first ':'.
        path, at, digest = source.removeprefix(_OCI_SCHEME).partition("@")
        path, colon, tag = path.partition(":")
        if not os.path.isfile(os.path.join(path, "index.json")):
            raise UsageError(f"--build-context {name}: {path} is not an OCI layout (no index.json)")
        return NamedContext(name, OCI_LAYOUT, os.path.abspath(path), digest if at else tag if colon else "")
    if os.path.isdir(source):  # a directory wins over a look-alike git address ("host:path")
        return NamedContext(name, LOCAL, os.path.realpath(source))
    if source.startswith("input:") or ("://" in source and not source.startswith(("http://", "https://",
                                                                                   "git://", "ssh://"))):
        raise UsageError(f"--build-context {name}: unsupported source {source!r}")  # input: is frontend-internal
    try:
        git = parse_git_ref(source)
    except GitRefError as exc:
        raise UsageError(f"--build-context {name}: {exc}") from None
    if git is not None:
        return NamedContext(name, GIT, source)
    if source.startswith(("http://", "https://")):
        return NamedContext(name, HTTP, source)
    raise UsageError(f"--build-context {name}: unable to resolve context: {source} is not a directory")


class NamedContextResolver:
    """The base images named contexts stand for, made once per build (by name and platform)."""

    def __init__(self, contexts: Mapping[str, NamedContext], services: Services, *, images: ResolvedImages,
                 use_cache: bool, source_date_epoch: int | None,
                 next_step_id: Callable[[], int], remote_files: RemoteFiles,
                 platform: Platform | None = None) -> None:
        self._contexts = contexts
        self._remote_files = remote_files  # the build's: an ADD of the same URL asks the server no second time
        self._platform = platform  # the build's target platform, for ``NAME::PLATFORM`` contexts
        self._services = services
        self._images = images  # the build's: FROM or COPY --from of the same image resolves it once
        self._use_cache = use_cache
        self._epoch = source_date_epoch
        self._next_step_id = next_step_id
        self._made: dict[tuple[str, str], BaseImage] = {}
        self._making = threading.Lock()
        self._scratch = contextlib.ExitStack()  # git checkouts, removed by ``close``

    def __bool__(self) -> bool:
        return bool(self._contexts)

    def lookup(self, reference: str | None, platform: Platform | None = None) -> NamedContext | None:
        """The context standing for ``reference``: ``NAME::PLATFORM`` first, then ``NAME`` (as BuildKit).

        ``platform`` defaults to the build's target platform.
        """
        if not self._contexts or not reference:
            return None
        name = context_name(reference)
        wanted = platform or self._platform
        specific = self._contexts.get(f"{name}::{_platform_suffix(wanted)}") if wanted is not None else None
        return specific or self._contexts.get(name)

    def base(self, context: NamedContext, platform: Platform) -> BaseImage:
        with self._making:  # parallel stages reading one context make it once
            made = self._made.get((context.name, str(platform)))
            if made is None:
                # A named context reads outside the build context: a replay record could not check it.
                self._services.journal.forbid(f"named context {context.name}")
                made = self._make(context, platform)
                self._made[(context.name, str(platform))] = made
            return made

    def close(self) -> None:
        self._scratch.close()

    def _make(self, context: NamedContext, platform: Platform) -> BaseImage:
        if context.kind == IMAGE:
            return self._images.base(context.value, platform)
        if context.kind == OCI_LAYOUT:
            descriptor = import_oci_layout(self._services, context.value, context.selector, context.name)
            return stored_base(self._services, self._services.images.image(descriptor, platform), platform)
        if context.kind == HTTP:
            return self._download_base(context, platform)
        from builder.context.local import BuildContext

        directory = context.value
        if context.kind == GIT:
            directory = self._checkout(context)
        local = BuildContext.load(directory, None, self._services.root / "cache" / "context")
        return self._layer_base(context, local.source(), local.digest_of([""]), platform, title=f"load {directory}")

    def _download_base(self, context: NamedContext, platform: Platform) -> BaseImage:
        """The layer holding the download of ``context``'s URL as ``/context``."""
        from builder.copy.sources import SourceRoot

        fetched = self._fetch(context)
        where = self._scratch.enter_context(tempfile.TemporaryDirectory(prefix="pybuild-named-http-"))
        replace(fetched, name=_HTTP_FILE_NAME).stage(where)
        # One file of fixed name, mode and owner: its digest and Last-Modified (the mtime) say all the
        # layer holds, so the download is not hashed a second time. Read as a context directory (0:0).
        return self._layer_base(context, SourceRoot(where, from_context=True), fetched.digest, platform,
                                title=context.value, extra={"last_modified": fetched.last_modified or ""})

    def _fetch(self, context: NamedContext) -> FetchedFile:
        from builder.copy.errors import DownloadError
        from builder.errors import BuildError

        try:  # the http cache ADD uses: an ETag revalidates instead of downloading again
            return self._remote_files.fetch(context.value)
        except DownloadError as exc:
            raise BuildError(f"--build-context {context.name}: failed to load {context.value}: "
                             f"{str(exc).removeprefix(context.value + ': ')}") from None

    def _checkout(self, context: NamedContext) -> str:
        from builder.context.fetch import fetch_git_context

        where = self._scratch.enter_context(tempfile.TemporaryDirectory(prefix="pybuild-named-git-"))
        return fetch_git_context(context.value, where)

    def _layer_base(self, context: NamedContext, source: SourceRoot, content: str, platform: Platform, *,
                    title: str, extra: Mapping[str, str] = MappingProxyType({})) -> BaseImage:
        """One layer holding ``source``, cached by its ``content`` digest (and ``extra``)."""
        from builder.events import StepFinished, StepStarted
        from builder.frontend.scope import StageScope
        from builder.image.config import start_stage
        from builder.stagestate import StageState, StepOptions, layer_step
        from builder.steps import history_time

        services = self._services
        material = {"op": "named-context", "name": context.name, "content": content, **extra}
        empty = scratch(platform)
        state = StageState(start_stage(empty.config), StageScope.from_image_env(()), (), None, empty.key)
        step_id = self._next_step_id()
        started = time.monotonic()
        services.emit(StepStarted(step_id, f"[context {context.name}] {title}"))

        def execute(mounts: list[Any]) -> None:
            _copy_directory(source, mounts)

        state, added = layer_step(services, state, material, execute,
                                  StepOptions(step_id, self._use_cache, self._epoch))
        services.emit(StepFinished(step_id, time.monotonic() - started))
        config = replace(empty.config, diff_ids=state.config.diff_ids)
        if added:  # every layer has a history entry, as BuildKit's exporter adds for context layers
            config = replace(config, history=(History(created=history_time(state.created, self._epoch),
                                                      created_by=f"context {context.name}"),))
        return BaseImage(config, state.layers, state.snapshot, state.key)


def _copy_directory(source: SourceRoot, mounts: list[Any]) -> None:
    from builder.copy.tree import CopyOptions, TreeCopier
    from runtime import mounted

    with mounted(mounts) as root:
        TreeCopier(source, root, CopyOptions(), []).copy("", root)


def import_oci_layout(services: Services, layout: str, selector: str, name: str) -> Descriptor:
    """Copy the chosen image of the OCI layout directory into the content store; its descriptor."""
    from builder.outputs.layout import DOCUMENT_TYPES
    from registry_client import Index, parse_manifest

    with open(os.path.join(layout, "index.json"), "rb") as handle:
        index = json.load(handle)
    entries = [Descriptor.from_json(entry) for entry in index.get("manifests") or ()]
    chosen = _choose(entries, selector)
    if chosen is None:
        wanted = selector or "latest"
        raise UsageError(f"--build-context {name}: no image {wanted!r} in the OCI layout {layout}")
    chosen = replace(chosen, annotations=MappingProxyType({}))
    pending = [chosen]
    content = services.store
    while pending:
        descriptor = pending.pop()
        path = os.path.join(layout, "blobs", descriptor.digest.algorithm, descriptor.digest.hex)
        if not os.path.exists(path):
            continue  # another platform's image of an index, not in this layout
        if not content.has(descriptor):
            with open(path, "rb") as source, content.writer(descriptor) as writer:
                while chunk := source.read(_CHUNK):
                    writer.write(chunk)
                writer.commit(descriptor.media_type)  # raises on a digest mismatch
        if descriptor.media_type in DOCUMENT_TYPES:
            document = parse_manifest(content.read_bytes(descriptor.digest), descriptor.media_type)
            pending += document.manifests if isinstance(document, Index) else [document.config, *document.layers]
    return chosen


def _choose(entries: list[Descriptor], selector: str) -> Descriptor | None:
    if selector.startswith("sha256:"):
        wanted = Digest.parse(selector)
        return next((entry for entry in entries if entry.digest == wanted), None)
    tag = selector or "latest"
    for entry in entries:
        ref_name = entry.annotations.get(_REF_NAME, "")
        if ref_name == tag or ref_name.endswith(f":{tag}"):
            return entry
    # Lenient where buildx is not: a layout holding a single image needs no tag.
    return entries[0] if not selector and len(entries) == 1 else None


def replaced_stages(contexts: NamedContextResolver, stage_names: Mapping[int, str | None]) -> set[int]:
    """Indices of the stages a named context replaces."""
    return {index for index, name in stage_names.items() if name and contexts.lookup(name) is not None}


def stages_to_build(target: int, needs: Mapping[int, tuple[int, ...]], replaced: set[int]) -> set[int]:
    """The stages the target still needs once replaced stages no longer need theirs."""
    wanted: set[int] = set()
    pending = [target]
    while pending:
        index = pending.pop()
        if index in wanted:
            continue
        wanted.add(index)
        if index not in replaced:
            pending += needs.get(index, ())
    return wanted
