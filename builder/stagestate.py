"""The state of a stage between two instructions, and how a layer step moves it forward."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from builder.cache import CacheRecord
from builder.cachekey import CacheKey, key_for
from builder.events import StepCached
from builder.imageconfig import StageConfig
from builder.layers import UNCOMPRESSED_LAYER, LayerRef, commit_layer, snapshot_exists, temporary_key
from builder.scope import StageScope
from builder.services import Services
from registry_client import Descriptor, Digest, History, ImageConfig


@dataclass(frozen=True, slots=True)
class StageState:
    stage: StageConfig  # image config + the CMD tracker
    scope: StageScope
    layers: tuple[LayerRef, ...]
    snapshot: str | None
    key: CacheKey
    created: float = 0.0  # when the newest layer was made: history and image times derive from it

    @property
    def config(self) -> ImageConfig:
        return self.stage.config

    def with_history(self, entry: History) -> StageState:
        config = replace(self.config, history=(*self.config.history, entry))
        return replace(self, stage=replace(self.stage, config=config))


@dataclass(frozen=True, slots=True)
class StepOptions:
    step_id: int
    use_cache: bool
    source_date_epoch: int | None


Execute = Callable[[list[Any]], None]  # runs the step on the active snapshot's mounts


def layer_step(services: Services, state: StageState, material: dict[str, Any], execute: Execute,
               options: StepOptions) -> tuple[StageState, bool]:
    """Run (or reuse from the cache) a step that changes the filesystem; return (state, layer_added)."""
    key = key_for(state.key, material)
    record = services.cache.get(key) if options.use_cache else None
    if record is not None and _usable(services, record):
        services.emit(StepCached(options.step_id))
        return _with_record(state, key, record), record.diff_id is not None
    active = temporary_key("step")
    mounts = services.snapshotter.prepare(active, state.snapshot)
    try:
        execute(mounts)
    except BaseException:
        services.snapshotter.remove(active)
        raise
    committed = commit_layer(services.snapshotter, services.store, active, state.snapshot, f"step-{key.hex}",
                             options.source_date_epoch)
    diff_id = str(committed.layer.diff_id) if committed.layer else None
    record = CacheRecord(committed.snapshot or "", diff_id, committed.size, time.time())
    services.cache.put(key, record)
    return _with_record(state, key, record), diff_id is not None


def _usable(services: Services, record: CacheRecord) -> bool:
    if record.snapshot and not snapshot_exists(services.snapshotter, record.snapshot):
        return False
    return record.diff_id is None or services.store.exists(Digest.parse(record.diff_id))


def _with_record(state: StageState, key: CacheKey, record: CacheRecord) -> StageState:
    layers = state.layers
    diff_ids = state.config.diff_ids
    if record.diff_id is not None:
        digest = Digest.parse(record.diff_id)
        layers = (*layers, LayerRef(Descriptor(UNCOMPRESSED_LAYER, digest, record.size), digest))
        diff_ids = (*diff_ids, digest)
    config = replace(state.config, diff_ids=diff_ids)
    created = record.created if record.diff_id is not None else state.created
    return replace(state, stage=replace(state.stage, config=config), layers=layers,
                   snapshot=record.snapshot or None, key=key, created=created)
