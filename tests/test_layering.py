"""The import rules between the four packages (ARCHITECTURE.md §3), checked with ``ast``."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("grammar", "registry_client", "runtime", "builder")
THIRD_PARTY_ALLOWED = {
    "grammar": {"lark"},
    "registry_client": {"requests", "urllib3", "zstandard", "isal", "zlib_ng"},
    "runtime": {"pyroute2", "zstandard", "isal", "zlib_ng"},
    "builder": {"lark", "requests", "rich", "zstandard", "isal", "zlib_ng"},
}
# Modules that may import a dependency the rest of their package must not touch.
ONLY_IN = {"pyroute2": {"runtime/network.py"}, "rich": {"builder/cli.py", "builder/console.py"}}
SIBLINGS = {
    "grammar": set(),
    "registry_client": set(),
    "runtime": set(),
    "builder": {"grammar", "registry_client", "runtime"},
}


def imported_modules(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
    return found


def violations(package: str) -> list[str]:
    problems = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for module, line in imported_modules(path):
            top = module.split(".")[0]
            where = f"{rel}:{line} imports {module}"
            if top == package or top in sys.stdlib_module_names or top == "__future__":
                continue
            if top in SIBLINGS[package]:
                if module != top:
                    problems.append(f"{where}: use the package's __init__ exports")
                continue
            if top in PACKAGES:
                problems.append(f"{where}: {package} must not import {top}")
            elif top not in THIRD_PARTY_ALLOWED[package]:
                problems.append(f"{where}: {top} is not allowed in {package}")
            elif top in ONLY_IN and rel not in ONLY_IN[top]:
                problems.append(f"{where}: {top} is only allowed in {sorted(ONLY_IN[top])}")
    return problems


@pytest.mark.parametrize("package", PACKAGES)
def test_package_respects_import_rules(package: str) -> None:
    assert violations(package) == []


def test_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import rich\nfrom builder import cli\n")
    modules = [m for m, _ in imported_modules(bad)]
    assert modules == ["rich", "builder"]
