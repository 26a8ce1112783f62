"""The words of a cache-miss explanation: what differs between two steps' inputs.

Pure functions over the JSON material a cache key hashes (see ``builder.cache.keys``) and the
context-file fingerprints recorded with it; ``builder.cache.explain`` decides which steps to compare.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from builder.copy.source_keys import SourceKey

MAX_NAMES = 5  # paths / variables named in one reason before "and N more"
MAX_VALUE = 40  # characters of an ENV/ARG value shown


_FLAG_NAMES = {"argv": "command", "script": "command", "sources": "sources", "dest": "destination",
               "inline": "heredoc", "path": "path"}


def material_changes(old: Mapping[str, Any], new: Mapping[str, Any], old_files: Mapping[str, Any],
                     new_files: Mapping[str, Any], sources: Mapping[str, SourceKey],
                     missed: Mapping[str, int]) -> list[str]:
    """``sources``: the step's --from/from= sources by what they add to ``new``; ``missed``: the keys
    (hex) of this build's missed steps."""
    reasons: list[str] = []
    if old.get("op") != new.get("op"):
        return ["instruction changed"]
    instruction: list[str] = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after or name in ("op", "context", "env", "mounts", "from"):
            continue
        if name == "cwd":
            reasons.append(f"workdir changed: {before} -> {after}")
        elif name == "user":
            reasons.append(f"user changed: {before} -> {after}")
        elif name in ("network", "security"):
            reasons.append(f"{name} changed: {before} -> {after}")
        else:
            instruction.append(_FLAG_NAMES.get(name, name))
    if old.get("from") != new.get("from"):
        reasons.append(_source_change(old.get("from"), new.get("from"), sources, missed))
    env = _env_changes(old.get("env") or [], new.get("env") or [])
    if env:
        reasons.append(env)
    old_mounts, new_mounts = old.get("mounts") or [], new.get("mounts") or []
    if _without_content(old_mounts) != _without_content(new_mounts):
        instruction.append("mounts")
    if old.get("context") != new.get("context"):
        reasons.append(_file_changes(old_files.get("context"), new_files.get("context")))
    for index, (before, after) in enumerate(zip(old_mounts, new_mounts)):
        if before.get("context") != after.get("context") and "context" in after:
            slot = f"mount:{index}"
            reasons.append(_file_changes(old_files.get(slot), new_files.get(slot), f" (RUN --mount {after['target']})"))
        if before.get("from") != after.get("from") and "from" in after:
            reasons.append(_source_change(before.get("from"), after["from"], sources, missed, after["target"]))
    if instruction:
        reasons.insert(0, f"instruction changed ({', '.join(dict.fromkeys(instruction))})")
    return [reason for reason in reasons if reason]


def _source_change(before: Any, after: Any, sources: Mapping[str, SourceKey], missed: Mapping[str, int],
                   mount_target: str | None = None) -> str:
    """Why what a COPY --from (or a RUN --mount from= at ``mount_target``) source adds to the key changed.

    "" when that is said elsewhere (``because stage X missed``) or cannot be known.
    """
    source = sources.get(after) if isinstance(after, str) else None
    if source is not None and source.by_files and isinstance(before, str):
        if source.stage_key in missed:
            return ""  # "because stage X missed" says it
        if before.partition(":")[0] != after.partition(":")[0]:
            return ""  # the files by their layers before, by their checksum now: nothing to compare
        where = f"--from={source.ref}" if mount_target is None else f"RUN --mount from={source.ref} {mount_target}"
        return f"selected files changed ({where})"
    what = "--from source" if mount_target is None else "mount source"
    return f"{what} changed: {_source_name(before)} -> {_source_name(after)}"


def identity(material: Mapping[str, Any]) -> tuple[Any, ...]:
    """What names an instruction regardless of its inputs: the op and its command, sources or path."""
    return (material.get("op"), material.get("argv"), material.get("script"), material.get("sources"),
            material.get("dest"), material.get("inline"), material.get("path"))


def _env_changes(old: Iterable[str], new: Iterable[str]) -> str:
    before = dict(item.partition("=")[::2] for item in old)
    after = dict(item.partition("=")[::2] for item in new)
    changes = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            changes.append(f"{name} unset")
        elif name not in before:
            changes.append(f"{name}={_value(after[name])} set")
        elif before[name] != after[name]:
            changes.append(f"{name}={_value(before[name])} -> {_value(after[name])}")
    return f"build arg / env changed: {_names(changes)}" if changes else ""


def _file_changes(old: Mapping[str, str] | None, new: Mapping[str, str] | None, where: str = "") -> str:
    if old is None or new is None:
        return f"context files changed{where}"
    changed = [path for path in sorted(set(old) & set(new)) if old[path] != new[path]]
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    parts = []
    for label, paths in (("changed", changed), ("added", added), ("removed", removed)):
        if paths:
            noun = "context file" if len(paths) == 1 else "context files"
            parts.append(f"{noun} {label}: {_names(paths)}")
    return "; ".join(parts) + where if parts else f"context files changed{where}"


def context_inputs(material: Mapping[str, Any], context: Any) -> list[tuple[str, str, list[str] | None]]:
    """(slot, digest, context paths) for each part of ``material`` hashed from the context."""
    inputs: list[tuple[str, str, list[str] | None]] = []
    if material.get("context"):
        paths = None
        if context is not None:
            from builder.copy.step import context_selection

            paths = context_selection(context, material.get("sources", []))
        inputs.append(("context", material["context"], paths))
    for index, mount in enumerate(material.get("mounts") or []):
        if isinstance(mount, Mapping) and mount.get("context"):
            inputs.append((f"mount:{index}", mount["context"], [mount.get("source") or ""]))
    return inputs


def context_digest(material: Mapping[str, Any], slot: str) -> str | None:
    if slot == "context":
        return material.get("context")
    mounts = material.get("mounts") or []
    index = int(slot.split(":", 1)[1])
    return mounts[index].get("context") if index < len(mounts) else None


def _without_content(mounts: list[Any]) -> list[Any]:
    return [{k: v for k, v in m.items() if k not in ("context", "from")} if isinstance(m, Mapping) else m
            for m in mounts]


def _source_name(source: Any) -> str:
    if not isinstance(source, str):
        return "none"
    kind, _, value = source.partition(":")
    if kind == "content":  # the files a --from reads (builder.copy.source_digest)
        return f"files {short(value)}"
    if kind == "layers":  # the same, named by the source's layers (builder.copy.source_keys)
        return f"layers {value[:12]}…"
    return short(value)


def base_name(base: Mapping[str, str]) -> str:
    if base.get("kind") == "image":
        return f"{base.get('ref')} {short(base.get('digest', ''))}".strip()
    return base.get("ref") or base.get("kind", "")


def short(digest: str) -> str:
    if not digest:
        return "(unknown)"
    algorithm, _, value = digest.partition(":")
    return f"{algorithm}:{value[:12]}…" if value else digest[:12]


def _value(text: str) -> str:
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…"


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_NAMES])
    return shown + (f" and {len(items) - MAX_NAMES} more" if len(items) > MAX_NAMES else "")


# ---------------------------------------------------------------------- summary (--explain)
