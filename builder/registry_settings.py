"""Where registries are reached from: flags plus a dockerd-style ``daemon.json``.

The file is ``$PYBUILD_CONFIG`` if set, else ``<root>/config.json`` if present, and uses
dockerd's keys: ``registry-mirrors`` (docker.io only, tried in order, then Docker Hub),
``insecure-registries`` (hosts, ``host:port`` or CIDRs; plain HTTP allowed) and
``max-concurrent-downloads``. Flags come first: a ``--registry-mirror`` is tried before the
file's mirrors. Loopback is always insecure, as in dockerd.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from grammar import record
from registry_client import RegistryClient, RegistryOptions

from builder.errors import UsageError

CONFIG_ENV = "PYBUILD_CONFIG"


@record
class RegistrySettings:
    insecure_registries: tuple[str, ...] = ()
    mirrors: tuple[str, ...] = ()
    max_concurrent_downloads: int | None = None

    def options(self) -> RegistryOptions:
        defaults = RegistryOptions()
        return RegistryOptions(
            insecure_registries=defaults.insecure_registries + self.insecure_registries,
            mirrors=self.mirrors,
            max_concurrent_downloads=self.max_concurrent_downloads or defaults.max_concurrent_downloads,
        )

    def client(self) -> RegistryClient:
        return RegistryClient(self.options())


def config_path(root: Path) -> Path | None:
    if env := os.environ.get(CONFIG_ENV):
        return Path(env)
    candidate = root / "config.json"
    return candidate if candidate.is_file() else None


def load_settings(root: Path, *, insecure: tuple[str, ...] = (), mirrors: tuple[str, ...] = ()) -> RegistrySettings:
    """Flags merged with the config file (if any)."""
    path = config_path(root)
    document = read_config(path) if path is not None else {}
    downloads = document.get("max-concurrent-downloads")
    if downloads is not None and (not isinstance(downloads, int) or downloads < 1):
        raise UsageError(f"{path}: max-concurrent-downloads must be a positive integer")
    return RegistrySettings(
        insecure_registries=_unique(insecure + _strings(document, "insecure-registries", path)),
        mirrors=_unique(mirrors + _strings(document, "registry-mirrors", path)),
        max_concurrent_downloads=downloads,
    )


def read_config(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"registry configuration {path} does not exist (from ${CONFIG_ENV})") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read registry configuration {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise UsageError(f"{path} must hold a JSON object")
    return document


def _strings(document: dict[str, Any], key: str, path: Path | None) -> tuple[str, ...]:
    values = document.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise UsageError(f"{path}: {key} must be a list of strings")
    return tuple(v.rstrip("/") for v in values)


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
