"""COPY and ADD steps: what they add to the cache key, and running them on the active snapshot.

Also the sources other instructions read: stages and images seen through read-only
snapshot views (``--from``, ``RUN --mount from=``).
"""
from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from builder.cache.keys import CacheKey, key_for
from builder.cache.lineage import LineageStore
from builder.context.local import BuildContext
from builder.copy.add_sources import url_file_name
from builder.copy.errors import CopyError
from builder.copy.execute import CopyRequest, InlineSource
from builder.copy.execute import execute_copy as copy_into
from builder.copy.reuse import CopyLineage
from builder.copy.source_digest import FileDigests, Selection, SelectionDigests, selection_digest
from builder.copy.sources import SourceRoot, select_sources
from builder.layers import diff_id_chain, temporary_key
from builder.copy.source_keys import Keying, SourceKey, from_material
from builder.run.mounts import MountSources
from builder.services import Services
from builder.stagestate import StageState, pinned, step_snapshot
from grammar import Add, Copy, Dockerfile, parse_chmod, parse_git_ref, record
from runtime import mounted, writable_directory


@record
class ResolvedSource:
    """A ``--from`` source: its filesystem, and what names it in cache keys."""

    view: Callable[[str], list[Any]]  # key -> the mounts of a view of the files (a stage's pending hits unpack)
    identity: str  # names the whole source when its files do not key the step (chain None): an image's digest
    chain: tuple[str, ...] | None  # diff_ids when the files read key the step instead (stages, local contexts)
    stage_key: str | None = None  # a stage of this build: the cache key (hex) of its result


ImageSources = Callable[[str], tuple[str | None, str, tuple[str, ...] | None]]  # ref -> (snapshot, identity, chain)


class SourceViews:
    """Read-only views of stage and image snapshots, removed when the build ends.

    Also what a ``--from`` source adds to a cache key (``source_key``): BuildKit's content
    checksum of the selected paths for a stage or a local named context, so a stage that runs
    again and yields the same files still hits (or, for the fast key, the source's layers); an
    image's digest for an image.
    """

    def __init__(self, services: Services, dockerfile: Dockerfile, finals: Mapping[int, StageState],
                 image_snapshot: ImageSources) -> None:
        self._services = services
        self._dockerfile = dockerfile
        self._finals = finals
        self._image_snapshot = image_snapshot
        self._keys: list[str] = []
        directory = services.root / "cache" / "selections"
        self._digests = SelectionDigests(directory)
        self._files = FileDigests(directory / "files.marshal")
        self._hashing = threading.Lock()  # parallel stages share the file-digest table

    def __call__(self, ref: str) -> list[Any]:
        """The mounts of a read-only view of what ``ref`` names: an earlier stage, else an image."""
        source = self._resolve(ref)
        key = temporary_key("source")
        mounts = source.view(key)
        self._keys.append(key)
        return mounts

    def source_key(self, ref: str, selection: Selection, keying: Keying) -> SourceKey:
        """What the paths ``selection`` reads from ``ref`` add to a cache key, named as ``keying`` says."""
        source = self._resolve(ref)
        if source.chain is None:
            return SourceKey(source.identity, ref, by_files=False)
        if keying is Keying.LAYERS:
            material = _layers_identity(source.chain, selection)
        else:
            material = self._content_identity(ref, source, selection)
        return SourceKey(material, ref, by_files=True, stage_key=source.stage_key)

    def _content_identity(self, ref: str, source: ResolvedSource, selection: Selection) -> str:
        """The content key's part: the checksum of the selected files (hashed once per chain and selection)."""
        assert source.chain is not None
        memo = _selection_memo(source.chain, selection)
        digest = self._digests.get(source.chain, memo)
        if digest is None:
            with self._hashing:
                digest = self._digests.get(source.chain, memo)  # another stage may have hashed it while we waited
                if digest is None:
                    digest = self._hash_selection(ref, source, selection)
                    self._digests.put(source.chain, memo, digest)
        return f"content:{digest}"

    def _hash_selection(self, ref: str, source: ResolvedSource, selection: Selection) -> str:
        snapshotter = self._services.snapshotter
        key = temporary_key("source")
        try:
            with mounted(source.view(key)) as root:
                return selection_digest(SourceRoot(root, name=ref), selection, self._files)
        finally:
            snapshotter.remove(key)

    def _resolve(self, ref: str) -> ResolvedSource:
        stage = self._dockerfile.stage_by_ref(ref)
        if stage is not None and stage.index in self._finals:
            state = self._finals[stage.index]

            def view(key: str) -> list[Any]:  # ``pinned``: a snapshot a re-run removed is found or made again
                snapshotter = self._services.snapshotter
                return pinned(self._services, state, lambda snapshot: snapshotter.view(key, snapshot))[0]

            return ResolvedSource(view, "",
                                  diff_id_chain(state.config), state.key.hex)
        # An image (or named context): resolved once per build by ``image_snapshot`` (the build's
        # ``builder.resolvedimages``, shared with FROM, or its named contexts).
        snapshot, identity, chain = self._image_snapshot(ref)
        return ResolvedSource(lambda key: self._services.snapshotter.view(key, snapshot), identity, chain)

    def close(self) -> None:
        self._files.save()  # once per build: the table may hold 200k entries
        for key in self._keys:
            self._services.snapshotter.remove(key)
        self._keys.clear()


def _layers_identity(chain: tuple[str, ...], selection: Selection) -> str:
    """BuildKit's fast key part: ``selection`` of a source named by its layers, nothing mounted.

    diff_ids name content, so this names the files read as surely as their checksum does;
    a source re-run with byte-identical files but other layers (times) only misses it.
    """
    return f"layers:{_selection_memo(chain, selection)}"


def _selection_memo(chain: tuple[str, ...], selection: Selection) -> str:
    return key_for(None, {"op": "selection-digest", "chain": list(chain), **selection.material()}).hex


def copy_material(instruction: Copy | Add, sources: MountSources) -> dict[str, Any]:
    """What decides a COPY/ADD's result: the selected files' content (never mtimes), the flags, the dest."""
    material: dict[str, Any] = {
        "op": "add" if isinstance(instruction, Add) else "copy",
        "sources": [_source_material(word, instruction, sources) for word in instruction.sources],
        "dest": instruction.dest,
        "chown": instruction.chown, "chmod": instruction.chmod, "link": instruction.link,
        "exclude": list(instruction.exclude), "parents": getattr(instruction, "parents", False),
        "inline": [[doc.name, doc.content] for doc in instruction.heredoc_sources],
    }
    if isinstance(instruction, Add):
        material.update(unpack=instruction.unpack, checksum=instruction.checksum,
                        keep_git_dir=instruction.keep_git_dir)
    from_ = getattr(instruction, "from_", None)
    if from_:
        material["from"] = from_material(sources, from_, Selection(
            tuple(instruction.sources), tuple(instruction.exclude), getattr(instruction, "parents", False)))
    else:
        if any(_is_remote(word) for word in instruction.sources):
            sources.journal.forbid("ADD of a URL or git repository")
        selected = context_selection(sources.context, instruction.sources)
        sources.journal.context(sources.context.covered_paths(selected) if selected else [], sources.context)
        material["context"] = sources.context.digest_of(selected) if selected else ""
    return material


def _source_material(word: str, instruction: Copy | Add, sources: MountSources) -> Any:
    """A source word, or for an ADD of a URL its content (BuildKit keys the http source on it, not the URL).

    Every build asks the server (revalidating what an earlier build fetched), except with a pinned
    ``--checksum``: then the checksum is the content's identity and nothing is asked before a miss.
    """
    if not isinstance(instruction, Add) or not _is_url(word):
        return word
    if instruction.checksum:
        return ["url", url_file_name(word), instruction.checksum, ""]
    return ["url", *sources.remote_files.fetch(word).key_material()]


def links_independently(instruction: Copy | Add) -> bool:
    """Whether the step is BuildKit's copy onto scratch + merge: ``--link``, except with ``--chmod``."""
    return instruction.link and not instruction.chmod


def link_material(instruction: Copy | Add, sources: MountSources, workdir: str) -> dict[str, Any]:
    """The key of a ``--link`` layer: the copy's own inputs and the workdir, nothing of the stage below."""
    if instruction.chown:
        _link_owner(instruction.chown)  # an owner by name fails before any work, not after
    return {**copy_material(instruction, sources), "workdir": workdir or "/"}


def _link_owner(chown: str) -> str:
    """``--chown`` for a layer made on scratch: ids, or ``root`` (0); a name has no passwd to be found in.

    BuildKit fails late with ``invalid user index: -1`` (moby/buildkit#2987) and newer versions
    reject it when parsing; this says why.
    """
    parts = ["0" if part == "root" else part for part in chown.split(":", 1)]
    if not all(part.isascii() and part.isdigit() for part in parts):
        raise CopyError(f"--chown={chown} cannot be used with --link: the layer is made without the image's "
                        "/etc/passwd and /etc/group, so use numeric ids (e.g. --chown=1000:1000)")
    return ":".join(parts)


def context_selection(context: BuildContext, words: Iterable[str]) -> list[str]:
    """The context paths a COPY/ADD of ``words`` reads (remote sources are not in the context)."""
    root = context.source()
    return [found.relpath for word in words if not _is_remote(word) for found in select_sources(root, word)]


def _is_remote(word: str) -> bool:
    return word.startswith(("http://", "https://")) or parse_git_ref(word) is not None


def _is_url(word: str) -> bool:
    """An http(s) source that is no git repository (``https://host/repo.git`` is git)."""
    return word.startswith(("http://", "https://")) and parse_git_ref(word) is None


def copy_lineage(services: Services, parent: CacheKey, material: dict[str, Any], instruction: Copy | Add,
                 context: BuildContext, use_cache: bool) -> CopyLineage | None:
    """The lineage of a COPY/ADD of one plain context path (``builder.copy.reuse``); None for other copies.

    One source word without wildcards and no heredocs: then every image path is written once, so
    what a run recorded for a path is what its snapshot holds there.
    """
    if "context" not in material or instruction.heredoc_sources or len(instruction.sources) != 1:
        return None
    word = instruction.sources[0]
    if _is_remote(word) or any(char in word for char in "*?[\\") or getattr(instruction, "parents", False):
        return None
    lineage = key_for(parent, {**material, "context": None, "op": f"lineage-{material['op']}"})
    return CopyLineage(services.snapshotter, LineageStore(services.root), context, lineage.hex,
                       step_snapshot(key_for(parent, material)), use_cache)


def execute_copy(instruction: Copy | Add, workdir: str, mounts: list[Any], sources: MountSources,
                 link: bool = False, lineage: CopyLineage | None = None) -> None:
    """Run the COPY/ADD onto the active snapshot ``mounts`` (empty for a ``--link`` layer).

    With a ``lineage``, unchanged files are hardlinked from the previous run once ``mounts`` are unmounted.
    """
    writable = writable_directory(mounts) if lineage is not None else None
    reuse = lineage.start() if lineage is not None and writable is not None else None
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(mounted(mounts))
        from_ = getattr(instruction, "from_", None)
        if from_:
            view = stack.enter_context(mounted(sources.source_view(from_)))
            source = SourceRoot(view, name=from_)
        else:
            source = sources.context.source()
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="pybuild-add-"))
        request = CopyRequest(
            dest=instruction.dest, sources=instruction.sources, source=source,
            inline=tuple(InlineSource(doc.name, doc.content.encode()) for doc in instruction.heredoc_sources),
            workdir=workdir or "/",
            chown=_link_owner(instruction.chown) if link and instruction.chown else instruction.chown,
            chmod=parse_chmod(instruction.chmod) if instruction.chmod else None,
            exclude=instruction.exclude, parents=getattr(instruction, "parents", False),
            add=isinstance(instruction, Add), unpack=getattr(instruction, "unpack", None),
            checksum=getattr(instruction, "checksum", None), keep_git_dir=getattr(instruction, "keep_git_dir", None),
            scratch_dir=scratch, remote=sources.remote_files, reuse=reuse,
        )
        copy_into(root, request)
    if reuse is not None and writable is not None:
        reuse.finish(writable, mounts)
