"""Fully cached rebuilds answered from a record, without planning or solving.

- ``journal``: ``BuildJournal``, what a build read from outside its Dockerfile (base images,
  context paths), noted by the solver while it works;
- ``records``: the record written after a successful build and ``try_replay``, which checks
  it with the standard library only (``builder.commands.replaying`` is the CLI side).

Exports load on first use (``builder.lazy``): the replay path must stay light.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from builder.lazy import lazy_exports

if TYPE_CHECKING:
    from builder.replay.journal import BuildJournal
    from builder.replay.records import Replay, try_replay, write_record

_EXPORTS: dict[str, str] = {
    "BuildJournal": "builder.replay.journal",
    "Replay": "builder.replay.records",
    "try_replay": "builder.replay.records",
    "write_record": "builder.replay.records",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
