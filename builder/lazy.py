"""PEP 562 lazy exports for builder's subpackages.

``pybuild --check`` and a replayed build import a handful of modules on purpose; a subpackage
``__init__`` that imported all its modules would load the cache, the runtime and the copier for
them. So a subpackage lists its exports in ``_EXPORTS`` (name -> module) and loads each on first
use::

    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, table: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, loading ``table``'s names when first asked for."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        from importlib import import_module

        value = getattr(import_module(module), name)
        vars(sys.modules[package])[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__
