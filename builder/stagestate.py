"""The state of a stage between two instructions, and how a layer step moves it forward."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

from builder.cache.index import CacheRecord
from builder.cache.keys import CacheKey, key_for
from builder.cache.locks import key_locked
from builder.cache.stepnames import parse_step_name, rerun_snapshot, step_snapshot
from builder.copy.source_keys import ContentKeyed, SourceKey
from builder.events import StepCacheMiss, StepCached
from builder.frontend.scope import StageScope
from builder.image.config import StageConfig
from builder.layers import (
    UNCOMPRESSED_LAYER,
    CommittedLayer,
    LayerLineage,
    LayerRef,
    PendingLayers,
    commit_layer,
    diff_id_chain,
    snapshot_exists,
    temporary_key,
)
from builder.services import Services
from grammar import record
from registry_client import Descriptor, Digest, History, ImageConfig, RegistryError
from runtime import SnapshotError


@record
class StageState:
    stage: StageConfig  # image config + the CMD tracker
    scope: StageScope
    layers: tuple[LayerRef, ...]
    materialized: str | None  # the newest snapshot of this state known to exist (None: empty filesystem)
    key: CacheKey
    created: float = 0.0  # when the newest layer was made: history and image times derive from it
    pending: PendingLayers | None = None  # cache hits above ``materialized`` that are not unpacked yet
    # How to make the files again should a snapshot of them vanish (``pinned``): the snapshot the
    # stage's layers start from (its base image's), and each layer a step added above it, with the
    # snapshot its record named.
    base_snapshot: str | None = None
    step_snapshots: tuple[tuple[str, LayerRef], ...] = ()

    @property
    def snapshot(self) -> str | None:
        """The committed snapshot of this state's filesystem; reading it unpacks pending cache hits."""
        return self.materialized if self.pending is None else self.pending.materialize()

    @property
    def config(self) -> ImageConfig:
        return self.stage.config

    def with_history(self, entry: History) -> StageState:
        config = replace(self.config, history=(*self.config.history, entry))
        return replace(self, stage=replace(self.stage, config=config))


@record
class StepOptions:
    step_id: int
    use_cache: bool
    source_date_epoch: int | None
    position: tuple[int, int] = (0, 0)  # (stage index, step number in the stage): where the step sits
    explain: Any = None  # a builder.cache.explain.CacheExplainer: says why a step missed the cache


Execute = Callable[[list[Any]], None]  # runs the step on the active snapshot's mounts


ContentMaterial = Callable[[], ContentKeyed]  # a step's material with its --from sources' file checksums


def layer_step(services: Services, state: StageState, material: dict[str, Any], execute: Execute,
               options: StepOptions, lineage: LayerLineage | None = None,
               content_material: ContentMaterial | None = None) -> tuple[StageState, bool]:
    """Run (or reuse from the cache) a step that changes the filesystem; return (state, layer_added).

    ``lineage``: the step's previous run, whose layer entries the new layer may copy (``builder.layers``).
    ``content_material``: for a step reading a ``--from`` stage, BuildKit's "slow" key material (the
    checksum of the files read); ``material`` is then the "fast" one, naming the source by its layers.
    """
    if content_material is not None:
        return _two_key_step(services, state, material, content_material, execute, options, lineage)
    key = key_for(state.key, material)
    with _claimed(services, key, options.use_cache) as record:
        return _layer_step(services, state, material, execute, options, key, record, lineage)


def _two_key_step(services: Services, state: StageState, material: dict[str, Any],
                  content_material: ContentMaterial, execute: Execute, options: StepOptions,
                  lineage: LayerLineage | None) -> tuple[StageState, bool]:
    """BuildKit's solver: the fast key first; on a miss the content key; the result under both.

    The fast key names the source by its diff_id chain, which names its files: a source that ran
    again with other output has another chain, so a fast key never answers for files it did not
    see, and needs no checksum, so a fully cached build (an imported cache) never mounts the
    source. The fast key's record is an alias of the content key, which stays the step's key
    (the next steps chain on it): a source re-run with the same files still hits through it.
    """
    fast = key_for(state.key, material)
    alias = services.cache.get(fast) if options.use_cache else None
    if alias is not None and alias.content_key is not None:
        key = CacheKey(alias.content_key)
        record = services.cache.get(key)
        if record is not None and _usable(services, record):
            services.cache.touch(fast, alias)
            return _layer_step(services, state, material, execute, options, key, record, lineage)
    content = content_material()
    key = key_for(state.key, content.material)
    with _claimed(services, key, options.use_cache) as record:
        result = _layer_step(services, state, content.material, execute, options, key, record, lineage,
                             content.sources)
    if alias is None or alias.content_key != key.hex:
        services.cache.put(fast, CacheRecord("", None, 0, time.time(), state.key.hex, content_key=key.hex))
    else:
        services.cache.touch(fast, alias)
    return result


def _layer_step(services: Services, state: StageState, material: dict[str, Any], execute: Execute,
                options: StepOptions, key: CacheKey, record: CacheRecord | None,
                lineage: LayerLineage | None, sources: tuple[SourceKey, ...] = ()) -> tuple[StageState, bool]:
    """``sources``: the --from sources the content material read (``--explain`` names a stage that missed)."""
    hit = record is not None
    if options.explain is not None and (
            reason := options.explain.observe(options, state.key, key, material, hit, sources)):
        services.emit(StepCacheMiss(options.step_id, reason))
    if hit:
        assert record is not None
        services.cache.touch(key, record)
        services.emit(StepCached(options.step_id))
        return _with_record(services, state, key, record), record.diff_id is not None
    active = temporary_key("step")
    # The step needs a rootfs: the cache hits below it are unpacked now.
    mounts, state = pinned(services, state, lambda snapshot: services.snapshotter.prepare(active, snapshot))
    parent = state.materialized
    try:
        execute(mounts)
    except BaseException:
        services.snapshotter.remove(active)
        raise
    with _publishing(services, key, claimed=options.use_cache):
        replaced = services.cache.get(key)  # read under the lock: a concurrent re-run may have replaced it
        earlier = replaced if not options.use_cache else None  # a --no-cache re-run replaces it
        committed = commit_layer(services.snapshotter, services.store, active, parent,
                                 _result_name(services, key, earlier), options.source_date_epoch, lineage)
        diff_id = str(committed.layer.diff_id) if committed.layer else None
        chain = diff_id_chain(state.config) + ((diff_id,) if diff_id else ())
        committed = _same_as_earlier(services, committed, chain, earlier)
        record = CacheRecord(committed.snapshot or "", diff_id, committed.size, time.time(),
                             state.key.hex, chain)
        standing_on = services.cache.used.get(key.hex)  # this build's own use of the key, before the put
        services.cache.put(key, record)
        _drop_replaced(services, key, replaced, record, standing_on)
    state = replace(state, materialized=committed.snapshot or None, pending=None)
    return _with_record(services, state, key, record), diff_id is not None


def _result_name(services: Services, key: CacheKey, earlier: CacheRecord | None) -> str:
    """Where a run commits its result: ``step_snapshot(key)``, unless a --no-cache re-run finds it taken.

    The snapshot there holds an earlier run's files, which may differ (a download, a timestamp):
    the next steps and ``COPY --from`` must read this run's, so it gets a name of its own,
    ``step-<key>-r<n>``, which its record names (``_with_record`` follows it). The caller holds the
    key's lock, under which every re-run of the key is named: the first free number after the
    earlier run's is this run's.
    """
    name = step_snapshot(key)
    if earlier is None and not snapshot_exists(services.snapshotter, name):
        return name
    earlier_step = parse_step_name(earlier.snapshot) if earlier is not None else None
    number = (earlier_step.rerun or 0) + 1 if earlier_step is not None else 1
    while snapshot_exists(services.snapshotter, rerun_snapshot(key, number)):  # a killed re-run's leftover
        number += 1
    return rerun_snapshot(key, number)


@contextlib.contextmanager
def _publishing(services: Services, key: CacheKey, *, claimed: bool) -> Iterator[None]:
    """Hold ``key``'s lock from naming the step's snapshot until its record is written.

    The start-up sweep removes a step snapshot its key's record does not keep unless that key's
    lock is held (``builder.cache.leftovers``). A cached miss holds the lock already (``_claimed``);
    a --no-cache run takes it here, which also gives concurrent re-runs of the key distinct names.
    """
    if claimed:
        yield
        return
    with key_locked(services.root, key):
        yield


def _same_as_earlier(services: Services, committed: CommittedLayer, chain: tuple[str, ...],
                     earlier: CacheRecord | None) -> CommittedLayer:
    """A re-run that made the very filesystem the earlier run made keeps the earlier snapshot, not a copy.

    The whole layer chain must match, not only the new layer: the same layer on the files of
    another run of the steps below is another filesystem.
    """
    if earlier is None or committed.layer is None or committed.snapshot == earlier.snapshot \
            or earlier.chain != chain or parse_step_name(earlier.snapshot) is None \
            or not snapshot_exists(services.snapshotter, earlier.snapshot):
        return committed
    services.snapshotter.remove(committed.snapshot, background=True)
    return replace(committed, snapshot=earlier.snapshot)


def _drop_replaced(services: Services, key: CacheKey, replaced: CacheRecord | None, record: CacheRecord,
                   standing_on: CacheRecord | None) -> None:
    """Remove the re-run snapshot ``record`` took the place of (key lock held): re-runs do not pile up.

    ``step-<key>`` stays (the sweeps keep it while the key has a record). So does a snapshot this
    build stands on (two stages with the same step: the next start's sweep takes it) and one that
    has children (``SnapshotError``). The replaced snapshot of the step before usually had one, the
    snapshot removed here: with it gone, so are superseded re-runs' snapshots below it, so the
    next start finds nothing to walk the records for.
    """
    if replaced is None or replaced.snapshot in (record.snapshot, step_snapshot(key)) \
            or parse_step_name(replaced.snapshot) is None \
            or (standing_on is not None and standing_on.snapshot == replaced.snapshot):
        return
    name: str | None = replaced.snapshot
    while name is not None:
        try:
            parent = services.snapshotter.stat(name).parent
            services.snapshotter.remove(name, background=True)
        except SnapshotError:
            return  # it has children: the sweeps take it after them
        name = parent if parent is not None and _superseded_rerun(services, parent) else None


def _superseded_rerun(services: Services, name: str) -> bool:
    """A re-run's snapshot that its key's record no longer names and this build does not stand on.

    No publisher can be about to record it: a re-run's name is never chosen twice.
    """
    step = parse_step_name(name)
    if step is None or step.rerun is None:
        return False
    current = services.cache.get(CacheKey(step.key_hex))
    used = services.cache.used.get(step.key_hex)
    return (current is None or current.snapshot != name) and (used is None or used.snapshot != name)


@contextlib.contextmanager
def _claimed(services: Services, key: CacheKey, use_cache: bool) -> Iterator[CacheRecord | None]:
    """A usable record of ``key``; or None, with the key locked until the block has published the step.

    Another build may be running the same step: waiting for its lock and looking again turns
    its work into a hit here (``builder.cache.locks``).
    """
    record = services.cache.get(key) if use_cache else None
    if not use_cache or (record is not None and _usable(services, record)):
        yield record
        return
    with key_locked(services.root, key):
        record = services.cache.get(key)
        yield record if record is not None and _usable(services, record) else None


def _usable(services: Services, record: CacheRecord) -> bool:
    """A hit needs only its layer blob: a missing snapshot is rebuilt from the layers when needed."""
    if record.diff_id is None:
        return True
    try:
        return services.store.exists(Digest.parse(record.diff_id))
    except RegistryError:
        return False


def _with_record(services: Services, state: StageState, key: CacheKey, record: CacheRecord) -> StageState:
    if record.diff_id is None:  # nothing changed: same filesystem, new key
        return replace(state, key=key)
    digest = Digest.parse(record.diff_id)
    layer = LayerRef(Descriptor(UNCOMPRESSED_LAYER, digest, record.size), digest)
    config = replace(state.config, diff_ids=(*state.config.diff_ids, digest))
    # The record names its snapshot: a --no-cache re-run's result is not at ``step_snapshot(key)``.
    name = record.snapshot if record.snapshot.startswith("step-") else step_snapshot(key)
    state = replace(state, stage=replace(state.stage, config=config), layers=(*state.layers, layer), key=key,
                    created=record.created, step_snapshots=(*state.step_snapshots, (name, layer)))
    if state.pending is None and state.materialized == name:  # just committed by this build
        return state
    if snapshot_exists(services.snapshotter, name):
        return replace(state, materialized=name, pending=None)
    pending = state.pending or PendingLayers(services.store, services.snapshotter, state.materialized)
    return replace(state, pending=pending.plus(name, layer))


Pinned = TypeVar("Pinned")
_RECOVERIES = 3  # each failure needs another build to remove a snapshot in the instant before the pin


def pinned(services: Services, state: StageState,
           pin: Callable[[str | None], Pinned]) -> tuple[Pinned, StageState]:
    """``pin`` (prepare or view a child) on the state's snapshot; and the state, materialized where it pinned.

    A child keeps a snapshot from removal, but until it exists the snapshot named by a record this
    build read may vanish: a --no-cache re-run of that key removes the re-run snapshot its old
    record named, or another build's start-up sweep takes it once no record names it. Then the
    files are found again, or made again, as ``_recovered`` says: never an error to the user.
    """
    try:
        snapshot = state.snapshot
        return pin(snapshot), replace(state, materialized=snapshot, pending=None)
    except SnapshotError:
        if all(snapshot_exists(services.snapshotter, name) for name, _ in state.step_snapshots):
            raise  # nothing vanished
    failures = 0
    while True:
        top = parse_step_name(state.step_snapshots[-1][0])
        # The top snapshot's key lock: a re-run of that key removes snapshots under it, and the
        # start-up sweep leaves the key's snapshots alone while it is held, so the snapshot found
        # or made stays until the pin holds it. A missing step takes it holding its own key's
        # lock: waits go from a step to keys published before it (what it reads), never back.
        with key_locked(services.root, CacheKey(top.key_hex)) if top else contextlib.nullcontext():
            state = _recovered(services, state)
            try:
                return pin(state.materialized), state
            except SnapshotError:
                failures += 1
                if failures == _RECOVERIES:
                    raise


def _recovered(services: Services, state: StageState) -> StageState:
    """The state with every snapshot of its files there: a vanished one replaced or made again.

    Replaced by the snapshot its key's record names now, if that holds the same layer chain
    (the same files: a later re-run made the very layer again); else made again from the layer
    of the record this build read, under the name it had, as ``_with_record`` makes a cache
    hit's missing snapshot (the sweeps take it once nothing stands on it). A record naming
    other files cannot stand in: the layers of this build's image say what the files are.
    """
    chain = diff_id_chain(state.config)
    below = len(chain) - len(state.step_snapshots)
    found = tuple((name if snapshot_exists(services.snapshotter, name)
                   else _recorded_now(services, name, chain[:depth]) or name, layer)
                  for depth, (name, layer) in enumerate(state.step_snapshots, start=below + 1))
    top = PendingLayers(services.store, services.snapshotter, state.base_snapshot, found).materialize()
    return replace(state, materialized=top, pending=None, step_snapshots=found)


def _recorded_now(services: Services, name: str, chain: tuple[str, ...]) -> str | None:
    """The snapshot the record of ``name``'s key names now, if it exists and holds ``chain``."""
    step = parse_step_name(name)
    record = services.cache.get(CacheKey(step.key_hex)) if step is not None else None
    if record is None or record.diff_id is None or tuple(record.chain) != chain \
            or not snapshot_exists(services.snapshotter, record.snapshot):
        return None
    return record.snapshot


LINK_BASE = key_for(None, {"op": "scratch"})  # the empty filesystem a --link layer is made on


def link_step(services: Services, state: StageState, material: dict[str, Any], execute: Execute,
              options: StepOptions, content_material: ContentMaterial | None = None) -> tuple[StageState, bool]:
    """``COPY --link``: BuildKit's FileOp on scratch, then a MergeOp onto ``state``.

    The layer is made (or found in the cache) on an empty filesystem, so neither its content
    nor its key depends on the layers below: when they change, the same layer blob is stacked
    on the new state again. ``material`` must therefore not depend on ``state`` either.
    """
    empty = replace(state, stage=replace(state.stage, config=replace(state.config, diff_ids=())), layers=(),
                    materialized=None, pending=None, key=LINK_BASE, base_snapshot=None, step_snapshots=())
    held: list[StepCached] = []

    def hold_cached(event: object) -> None:
        if isinstance(event, StepCached) and event.step_id == options.step_id:
            held.append(event)
        else:
            services.emit(event)

    linked, layer_added = layer_step(replace(services, emit=hold_cached), empty, material, execute, options,
                                     content_material=content_material)
    key = key_for(state.key, {"op": "merge", "layer": linked.key.hex})
    # BuildKit shows the copy and its merge as one progress group, CACHED only when both are:
    # a linked layer stacked on a changed stage is DONE, not CACHED.
    if held and options.use_cache and services.cache.get(key) is not None:
        services.emit(held[0])
    if not layer_added:  # the copy wrote nothing: BuildKit's merge of an empty layer changes nothing
        services.cache.put(key, CacheRecord("", None, 0, linked.created, state.key.hex,
                                            diff_id_chain(state.config)))
        return replace(state, key=key), False
    layer = linked.layers[-1]
    record = CacheRecord(step_snapshot(key), str(layer.diff_id), layer.descriptor.size, linked.created,
                         state.key.hex, (*(str(d) for d in state.config.diff_ids), str(layer.diff_id)))
    services.cache.put(key, record)
    return _with_record(services, state, key, record), True
