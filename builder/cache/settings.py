"""The build cache's settings in ``<root>/config.json`` (or ``$PYBUILD_CONFIG``), next to the registry keys.

::

    {
      "gc": {"enabled": true, "keep-storage": "20GB", "keep-duration": "720h"},
      "cache": {"normalize-modes": true}
    }

``gc``: after every successful build, entries unused for ``keep-duration`` go, then the least
recently used ones until the cache's layers take at most ``keep-storage`` (see
``builder.cache.gc``). Defaults follow BuildKit's GC policy: keep 10% of the state root's
filesystem, at most 10 GB, and entries used in the last 60 days (BuildKit's
``reservedSpace`` and its "unused for 60 days" rule). ``"enabled": false`` turns it off.

``cache.normalize-modes``: COPY/ADD cache keys see context file modes as if umask 022 had
applied (``builder.context.local``), so a CI runner with umask 022 and a laptop with 002 share cache.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from builder.errors import UsageError
from builder.registry_settings import config_path, read_config
from grammar import record

DEFAULT_KEEP_FRACTION = 0.10
DEFAULT_KEEP_CAP = 10 << 30
DEFAULT_KEEP_DURATION = 60 * 86400.0
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?", re.IGNORECASE)  # docker's RAMInBytes: 1024-based
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@record
class GcPolicy:
    enabled: bool
    keep_storage: int  # bytes of layers the cache may keep
    keep_duration: float | None  # seconds an unused entry survives; None: forever


@record
class CacheSettings:
    gc: GcPolicy
    normalize_modes: bool = False


def load_cache_settings(root: Path) -> CacheSettings:
    path = config_path(root)
    document = read_config(path) if path is not None else {}
    gc = _section(document, "gc", path)
    cache = _section(document, "cache", path)
    enabled = _flag(gc, "enabled", True, path, "gc")
    keep_storage = gc.get("keep-storage")
    keep_duration = gc.get("keep-duration")
    try:
        storage = default_keep_storage(root) if keep_storage is None else (
            keep_storage if isinstance(keep_storage, int) and keep_storage >= 0 else parse_size(str(keep_storage)))
        duration = DEFAULT_KEEP_DURATION if keep_duration is None else parse_duration(str(keep_duration))
    except UsageError as exc:
        raise UsageError(f"{path}: gc: {exc}") from None
    policy = GcPolicy(enabled, storage, duration or None)
    return CacheSettings(policy, _flag(cache, "normalize-modes", False, path, "cache"))


def default_keep_storage(root: Path) -> int:
    """10% of the filesystem holding ``root``, at most 10 GB (BuildKit's default reserved space)."""
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return min(int(shutil.disk_usage(probe).total * DEFAULT_KEEP_FRACTION), DEFAULT_KEEP_CAP)


def parse_size(text: str) -> int:
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"invalid size {text!r}: expected e.g. 512MB or 10GB")
    power = " kmgt".index(match.group(2).lower() or " ")
    return int(float(match.group(1)) * (1024 ** power))


def parse_duration(text: str) -> float:
    """Seconds in ``24h``, ``1h30m``, ``7d``; ``0`` means none."""
    parts = _DURATION.findall(text)
    if text == "0":
        return 0.0
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise UsageError(f"invalid duration {text!r}: expected e.g. 24h, 90m or 7d")
    return sum(float(number) * _SECONDS[unit] for number, unit in parts)


def _section(document: dict[str, Any], name: str, path: Path | None) -> dict[str, Any]:
    section = document.get(name) or {}
    if not isinstance(section, dict):
        raise UsageError(f"{path}: {name} must be a JSON object")
    return section


def _flag(section: dict[str, Any], key: str, default: bool, path: Path | None, name: str) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise UsageError(f"{path}: {name}.{key} must be true or false")
    return value
