"""What a ``--from`` source (``COPY --from``, ``RUN --mount from=``) adds to a step's cache key.

BuildKit keys a step that reads another stage's files twice (``solver/edge.go``): a fast key
naming the source by its layers, looked up first and computed without mounting anything, and on
a miss a content key naming the files read by their checksum (``cache/contenthash``). An image
source is named by its manifest digest in both. ``two_keys`` makes a step's fast material and,
when some source is keyed by its files, the maker of its content material.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from grammar import record

if TYPE_CHECKING:
    from builder.copy.source_digest import Selection
    from builder.run.mounts import MountSources


class Keying(enum.Enum):
    """How a step's material names the files it reads from a stage or a local named context."""

    LAYERS = "layers"  # the fast key: the source's diff_id chain and the selection
    CONTENT = "content"  # the content key: the checksum of the selected files


@record
class SourceKey:
    """The cache-key part of what one instruction reads from one ``--from``/``from=`` source."""

    material: str  # what the key hashes: "layers:<memo>", "content:<digest>", or the source's own identity
    ref: str  # the source as the instruction names it: a stage name or index, an image, a named context
    by_files: bool  # the files read key the step (a stage, a local context); False: the whole source does (an image)
    stage_key: str | None = None  # when ``ref`` is a stage of this build: the cache key (hex) of its result


class SourceKeys(Protocol):
    """``builder.copy.step.SourceViews``: the key part of ``selection`` read from ``ref``."""

    def source_key(self, ref: str, selection: Selection, keying: Keying) -> SourceKey: ...


@record
class ContentKeyed:
    """A step's content material, and the sources it read (``--explain`` names a source stage that missed)."""

    material: dict[str, Any]
    sources: tuple[SourceKey, ...]


MaterialOf = Callable[["MountSources"], dict[str, Any]]  # a step's cache-key material, given how --from keys


def from_material(sources: MountSources, ref: str, selection: Selection) -> str:
    """What reading ``selection`` from the ``--from``/``from=`` source ``ref`` adds to the step's material."""
    return sources.source_keys.source_key(ref, selection, sources.keying).material


def two_keys(material_of: MaterialOf,
             sources: MountSources) -> tuple[dict[str, Any], Callable[[], ContentKeyed] | None]:
    """A step's fast material and, when a --from source is keyed by its files, a maker of its content material.

    For ``builder.stagestate.layer_step``'s ``content_material``: the content checksum is made only
    when the fast key misses. None when no source is keyed by its files (the one key is the material).
    """
    fast = _Recorded(sources.source_keys)
    material = material_of(replace(sources, source_keys=fast, keying=Keying.LAYERS))
    if not any(key.by_files for key in fast.read):
        return material, None

    def content() -> ContentKeyed:
        read = _Recorded(sources.source_keys)
        return ContentKeyed(material_of(replace(sources, source_keys=read, keying=Keying.CONTENT)), tuple(read.read))

    return material, content


@dataclass(slots=True)
class _Recorded:
    """Source keys that remember the keys they gave."""

    keys: SourceKeys
    read: list[SourceKey] = field(default_factory=list)

    def source_key(self, ref: str, selection: Selection, keying: Keying) -> SourceKey:
        key = self.keys.source_key(ref, selection, keying)
        self.read.append(key)
        return key
