"""Each package's ``__all__`` lists exactly the names its ``__init__`` imports from its own modules."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("grammar", "registry_client", "runtime", "builder")


def names_imported_from_submodules(package: str) -> set[str]:
    tree = ast.parse((ROOT / package / "__init__.py").read_text())
    names: set[str] = set()
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom):
            continue
        own_module = node.level == 1 or (node.module or "").startswith(f"{package}.")
        if own_module:
            names.update(alias.asname or alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_re_exported_names(name: str) -> None:
    package = importlib.import_module(name)
    assert set(package.__all__) == names_imported_from_submodules(name)
    assert len(package.__all__) == len(set(package.__all__)), "duplicates in __all__"


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_resolves(name: str) -> None:
    package = importlib.import_module(name)
    for member in package.__all__:
        assert getattr(package, member, None) is not None, member
