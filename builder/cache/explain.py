"""Why a step missed the cache: compare its inputs with the last build of the same Dockerfile and target.

After each build a small record is written to ``<root>/cache/explain/<sha256(dockerfile, target)>.json``:
per stage its base image (reference, digest, key) and per layer step (the steps that look up the
cache: RUN, COPY/ADD, WORKDIR) its position, parent key, key, material (the JSON the key hashes) and a
fingerprint of every context file that fed it. On a miss the step is matched with the step of the
last build that followed the same parent (else the one at the same position) and the difference
becomes a short reason::

    no previous build
    context file changed: src/app.py
    build arg / env changed: VERSION=1 -> 2
    base image changed: busybox:local sha256:ab12… -> sha256:cd34…
    instruction changed
    because step #3 missed
    because stage build missed (step #2)
    selected files changed (--from=build)

A miss cascades: every step after a miss misses too, and says only ``because step #N missed``
(N being the first miss of the chain), plus any change of its own. A ``COPY --from`` or
``RUN --mount from=`` that reads a stage which missed says so, naming the stage; one whose source
stage was cached says that the files it reads changed. Secrets never appear: the material holds
only their ids.

Nothing here may fail a build: any error becomes an ``explain failed`` reason.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.cache.keys import CacheKey
from builder.cache.missreasons import (
    base_name,
    context_digest,
    context_inputs,
    identity,
    material_changes,
    short,
)

if TYPE_CHECKING:
    from builder.copy.source_keys import SourceKey

RECORD_VERSION = 1


def record_path(root: Path, dockerfile: str, target: str) -> Path:
    name = hashlib.sha256(f"{dockerfile}\0{target}".encode("utf-8", "surrogateescape")).hexdigest()
    return root / "cache" / "explain" / f"{name}.json"


def open_explainer(services: Any, request: Any) -> CacheExplainer:
    """The explainer of a ``builder.solve`` build: keyed by the Dockerfile's path (stdin: the context) and
    the requested target."""
    source = request.source
    dockerfile = str(Path(source.path).resolve()) if source.path is not None else f"stdin:{request.context}"
    target = request.plan.target or ""

    def resolve_image(reference: str) -> str:
        entry = services.images.resolve(reference)
        return str(entry.digest) if entry is not None else ""

    return CacheExplainer.open(services.root, dockerfile, target, resolve_image)


class CacheExplainer:
    """One build's view of the last build; ``observe`` each layer step, ``save`` when the build ends."""

    def __init__(self, path: Path | None, dockerfile: str, target: str, previous: Mapping[str, Any] | None,
                 resolve_image: Callable[[str], str] | None = None) -> None:
        self._path = path
        self._dockerfile = dockerfile
        self._target = target
        self._previous = previous
        self._resolve_image = resolve_image
        self._context: Any = None  # the build's BuildContext, for per-file fingerprints
        self._lock = threading.Lock()  # stages built in parallel observe their steps from several threads
        self._bases: dict[int, dict[str, str]] = {}
        self._steps: list[dict[str, Any]] = []
        self._missed: dict[str, int] = {}  # key hex of a step that missed -> the first miss of its chain
        self._hits: dict[str, int] = {}  # key hex of a cached step -> its step id
        steps = previous.get("steps", []) if previous else []
        self._prev_by_position = {(s["stage"], s["number"]): s for s in steps}
        self._prev_by_parent: dict[str, list[dict[str, Any]]] = {}
        for step in steps:
            self._prev_by_parent.setdefault(step["parent"], []).append(step)
        self._prev_bases = {int(k): v for k, v in (previous or {}).get("bases", {}).items()}

    @classmethod
    def open(cls, root: Path, dockerfile: str, target: str,
             resolve_image: Callable[[str], str] | None = None) -> CacheExplainer:
        path = record_path(root, dockerfile, target)
        previous = None
        with contextlib.suppress(OSError, ValueError):
            document = json.loads(path.read_text())
            if isinstance(document, dict) and document.get("version") == RECORD_VERSION:
                previous = document
        return cls(path, dockerfile, target, previous, resolve_image)

    # ------------------------------------------------------------------ inputs

    def use_context(self, context: Any) -> None:
        self._context = context

    def stage_base(self, stage: int, kind: str, reference: str, key: CacheKey, platform: str = "") -> None:
        """Where stage ``stage`` starts: an image (its digest is resolved here), a stage, or scratch."""
        digest = ""
        if kind == "image" and self._resolve_image is not None:
            with contextlib.suppress(Exception):
                digest = self._resolve_image(reference)
        with self._lock:
            self._bases[stage] = {"kind": kind, "ref": reference, "digest": digest, "key": key.hex,
                                  "platform": platform}

    def observe(self, options: Any, parent: CacheKey, key: CacheKey, material: Mapping[str, Any],
                hit: bool, sources: Sequence[SourceKey] = ()) -> str:
        """Record the step; on a miss return why it missed ("" on a hit).

        ``sources``: what the step's ``--from``/``from=`` sources add to ``material`` (a miss reads them all).
        """
        try:
            with self._lock:
                return self._observe(options, parent, key, material, hit, sources)
        except Exception as exc:  # explaining is a courtesy: never fail the build for it
            return "" if hit else f"explain failed: {type(exc).__name__}: {exc}"

    def _observe(self, options: Any, parent: CacheKey, key: CacheKey, material: Mapping[str, Any],
                 hit: bool, sources: Sequence[SourceKey]) -> str:
        stage, number = options.position
        counterpart = self._counterpart(stage, number, parent.hex)
        if counterpart is None or counterpart["parent"] != parent.hex:
            counterpart = self._similar(stage, number, material, counterpart)
        if hit and counterpart is not None and counterpart["key"] == key.hex:
            # Same key, same inputs: keep the material that names the files read by their checksum,
            # which a hit through the fast key (the source's layers) never computes.
            material = counterpart["material"]
        files = self._files(material, counterpart)
        self._steps.append({"id": options.step_id, "stage": stage, "number": number, "parent": parent.hex,
                            "key": key.hex, "material": material, "files": files})
        if hit:
            self._hits[key.hex] = options.step_id
            return ""
        reason, root = self._reason(options, stage, parent.hex, key.hex, material, files, counterpart, sources)
        self._missed[key.hex] = root
        return reason

    def _counterpart(self, stage: int, number: int, parent: str) -> dict[str, Any] | None:
        at_position = self._prev_by_position.get((stage, number))
        if at_position is not None and at_position["parent"] == parent:
            return at_position
        same_parent = self._prev_by_parent.get(parent)
        if same_parent:
            return min(same_parent, key=lambda s: (s["stage"] != stage, abs(s["number"] - number)))
        return at_position

    def _similar(self, stage: int, number: int, material: Mapping[str, Any],
                 at_position: dict[str, Any] | None) -> dict[str, Any] | None:
        """For a step whose parent is new: the same instruction of the stage if it moved (a step was
        inserted or removed above it), else the step at the same position."""
        if at_position is not None and identity(at_position["material"]) == identity(material):
            return at_position
        moved = [s for s in self._prev_by_position.values()
                 if s["stage"] == stage and identity(s["material"]) == identity(material)]
        if moved:
            return min(moved, key=lambda s: abs(s["number"] - number))
        return at_position

    def _files(self, material: Mapping[str, Any], counterpart: Mapping[str, Any] | None) -> dict[str, Any]:
        """Fingerprints of the context files behind each context digest of ``material``."""
        files: dict[str, Any] = {}
        old_material = counterpart["material"] if counterpart else {}
        old_files = counterpart.get("files", {}) if counterpart else {}
        for slot, digest, paths in context_inputs(material, self._context):
            if context_digest(old_material, slot) == digest and slot in old_files:
                files[slot] = old_files[slot]  # same digest, same files: no need to look again
            elif self._context is not None and paths is not None:
                files[slot] = self._context.fingerprints(paths) if paths else {}
        return files

    # ------------------------------------------------------------------ reasons

    def _reason(self, options: Any, stage: int, parent: str, key: str, material: Mapping[str, Any],
                files: Mapping[str, Any], counterpart: Mapping[str, Any] | None,
                sources: Sequence[SourceKey]) -> tuple[str, int]:
        """(reason, first miss of the chain this miss belongs to)."""
        if not options.use_cache:
            return "cache disabled (--no-cache)", options.step_id
        if self._previous is None:
            return "no previous build", options.step_id
        reasons: list[str] = []
        root = options.step_id
        upstream = self._upstream_miss(parent, sources)
        if upstream is not None:
            root, why = upstream
            reasons.append(why)
        elif counterpart is None or counterpart["parent"] != parent:
            reasons += filter(None, [self._parent_changed(stage, parent)])
        if counterpart is not None:
            reasons += material_changes(counterpart["material"], material, counterpart.get("files", {}), files,
                                        {source.material: source for source in sources}, self._missed)
        elif not any(reason.startswith("base image") for reason in reasons):
            reasons.append("instruction changed (no such step in the previous build)")
        if not reasons:
            if counterpart is not None and counterpart["key"] == key:
                reasons.append("inputs unchanged, but the cache entry is gone (pruned or not imported)")
            else:
                reasons.append("inputs changed")
        return "; ".join(dict.fromkeys(reasons)), root

    def _upstream_miss(self, parent: str, sources: Sequence[SourceKey]) -> tuple[int, str] | None:
        """(first miss of the chain, why) when the step below or a stage read with --from/from= missed."""
        if parent in self._missed:
            root = self._missed[parent]
            return root, f"because step #{root} missed"
        for source in sources:  # the stage ran again, and what the step reads of it changed
            if source.stage_key in self._missed:
                root = self._missed[source.stage_key]
                return root, f"because stage {source.ref} missed (step #{root})"
        return None

    def _parent_changed(self, stage: int, parent: str) -> str:
        """Why the step's parent is not the one it had last time ("" if that is not the cause)."""
        base = self._bases.get(stage)
        if base is not None and base["key"] == parent:
            old = self._prev_bases.get(stage)
            if old is None:
                return ""
            if old.get("key") == parent:
                return ""  # same base as last time: the step itself is what changed
            if old.get("ref") != base["ref"] or old.get("kind") != base["kind"]:
                return f"base image changed: {base_name(old)} -> {base_name(base)}"
            if old.get("platform", "") != base.get("platform", ""):
                return f"platform changed: {old.get('platform') or '(unknown)'} -> {base.get('platform')}"
            if base["kind"] != "image":
                return f"{base_name(base)} changed"  # an earlier stage's result, or a named context
            return f"base image changed: {base['ref']} {short(old.get('digest', ''))} -> {short(base['digest'])}"
        if parent in self._hits:
            return f"step #{self._hits[parent]} changed (its result came from an older cache entry)"
        return "an earlier step changed"

    # ------------------------------------------------------------------ record

    def save(self, *, complete: bool) -> None:
        """Write this build's record; a failed build only updates the steps it reached."""
        if self._path is None:
            return
        steps = self._steps
        bases = dict(self._bases)
        if not complete and self._previous is not None:
            reached = {(s["stage"], s["number"]) for s in steps}
            steps = [*[s for s in self._previous.get("steps", []) if (s["stage"], s["number"]) not in reached],
                     *steps]
            bases = {**self._prev_bases, **bases}
        document = {"version": RECORD_VERSION, "dockerfile": self._dockerfile, "target": self._target,
                    "bases": {str(k): v for k, v in bases.items()}, "steps": steps}
        with contextlib.suppress(OSError, TypeError, ValueError):
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self._path.parent, prefix=".explain-")
            try:
                with os.fdopen(fd, "w") as handle:  # dumps: dump() takes the pure-Python encoder
                    handle.write(json.dumps(document, separators=(",", ":"), ensure_ascii=False))
                os.replace(temporary, self._path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise


# ---------------------------------------------------------------------- material comparison

class ExplainSummary:
    """An event sink that collects misses and, as a context manager, prints them when the build ends."""

    def __init__(self, console: Any, enabled: bool) -> None:
        import threading

        self._console = console
        self._enabled = enabled
        self._lock = threading.Lock()
        self._titles: dict[int, str] = {}
        self._misses: list[tuple[int, str]] = []

    def __call__(self, event: Any) -> None:
        kind = type(event).__name__
        with self._lock:
            if kind == "StepStarted":
                self._titles[event.step_id] = event.title
            elif kind == "StepCacheMiss":
                self._misses.append((event.step_id, event.reason))

    def __enter__(self) -> ExplainSummary:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._enabled:
            return
        for line in self.lines():
            self._console.info(line)

    def lines(self) -> list[str]:
        with self._lock:
            misses = list(self._misses)
        if not misses:
            return ["cache misses: none"]
        return [f"cache misses ({len(misses)}):",
                *(f"#{step} {self._titles.get(step, '')}: {reason}" for step, reason in misses)]
