"""The names of step snapshots: what a cache record names and the snapshot sweeps read back.

* ``step-<key>``: a step's result, derived from its cache key so any build can rebuild it;
* ``step-<key>-r<n>``: a --no-cache re-run's result when ``step-<key>`` holds an earlier run's
  files (``builder.stagestate``); the key's record names it.

Both carry the key, so the start-up sweep checks a snapshot against that one record, not
against all of them, and respects the lock of that key (``builder.cache.leftovers``).
"""
from __future__ import annotations

import re

from builder.cache.keys import CacheKey
from grammar import record

_STEP_NAME = re.compile(r"step-([0-9a-f]{64})(?:-r([1-9][0-9]*))?")


@record
class StepName:
    key_hex: str
    rerun: int | None  # the re-run's number; None for ``step-<key>``


def step_snapshot(key: CacheKey) -> str:
    """The snapshot name of a step's result: derived from the key, so any build can rebuild it."""
    return f"step-{key.hex}"


def rerun_snapshot(key: CacheKey, number: int) -> str:
    return f"{step_snapshot(key)}-r{number}"


def parse_step_name(name: str) -> StepName | None:
    """The key (and re-run number) a step snapshot's name carries; None for any other snapshot."""
    match = _STEP_NAME.fullmatch(name)
    if match is None:
        return None
    return StepName(match.group(1), int(match.group(2)) if match.group(2) else None)
