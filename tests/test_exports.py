"""Each package's ``__all__`` lists exactly the names its ``__init__`` imports from its own modules.

A package may load its exports lazily (``grammar`` does, PEP 562): then its
``__init__`` imports them only under ``if TYPE_CHECKING:``, and a module-level
``_EXPORTS`` table (name -> submodule) drives its ``__getattr__``. The table, the
``TYPE_CHECKING`` imports and ``__all__`` must all agree.
"""
from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("grammar", "registry_client", "runtime", "builder")
LAZY_PACKAGES = tuple(p for p in PACKAGES if "_EXPORTS" in (ROOT / p / "__init__.py").read_text())
# builder's subpackages with an ``_EXPORTS`` table follow the same rules.
LAZY_SUBPACKAGES = tuple(f"builder.{init.parent.name}" for init in sorted((ROOT / "builder").glob("*/__init__.py"))
                         if "_EXPORTS" in init.read_text())


def _is_type_checking_block(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def imports_from_submodules(package: str) -> dict[str, str]:
    """name -> the submodule it is imported from, at top level or under ``if TYPE_CHECKING:``."""
    tree = ast.parse((ROOT / package.replace(".", "/") / "__init__.py").read_text())
    statements: list[ast.stmt] = []
    for node in tree.body:
        statements.extend(node.body if _is_type_checking_block(node) else [node])
    names: dict[str, str] = {}
    for node in statements:
        if not isinstance(node, ast.ImportFrom):
            continue
        module = node.module or ""
        if node.level == 1:
            module = f"{package}.{module}" if module else package
        elif not module.startswith(f"{package}."):
            continue
        for alias in node.names:
            names[alias.asname or alias.name] = module
    return names


def names_imported_from_submodules(package: str) -> set[str]:
    return set(imports_from_submodules(package))


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_re_exported_names(name: str) -> None:
    package = importlib.import_module(name)
    assert set(package.__all__) == names_imported_from_submodules(name)
    assert len(package.__all__) == len(set(package.__all__)), "duplicates in __all__"


@pytest.mark.parametrize("name", LAZY_PACKAGES + LAZY_SUBPACKAGES)
def test_lazy_export_table_agrees_with_the_imports(name: str) -> None:
    package = importlib.import_module(name)
    table = package._EXPORTS
    assert table == imports_from_submodules(name)
    assert set(table) == set(package.__all__)


@pytest.mark.parametrize("name", PACKAGES + LAZY_SUBPACKAGES)
def test_every_exported_name_resolves(name: str) -> None:
    package = importlib.import_module(name)
    for member in package.__all__:
        assert getattr(package, member, None) is not None, member
    table = getattr(package, "_EXPORTS", {})
    for member, module in table.items():
        assert getattr(package, member) is getattr(importlib.import_module(module), member), member
    assert set(package.__all__) <= set(dir(package))


def test_lazy_package_imports_only_what_is_asked_for() -> None:
    code = ("import sys, grammar; from grammar import Lexer; "
            "print(sorted(m for m in sys.modules if m.startswith('grammar')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = set(ast.literal_eval(result.stdout))
    assert "grammar.words" in loaded
    assert not loaded & {"grammar.ast", "grammar.parser", "grammar.dockerignore", "grammar.gitref"}


def test_builder_subpackages_load_no_module_until_asked() -> None:
    """``pybuild --check`` imports builder.frontend.check; no subpackage __init__ may drag in its modules."""
    packages = ", ".join(LAZY_SUBPACKAGES)
    code = (f"import sys, builder.frontend.check, {packages}; "
            "print(sorted(m for m in sys.modules if m.startswith(('builder.', 'runtime', 'registry_client'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = set(ast.literal_eval(result.stdout))
    assert {"builder.cache", "builder.copy", "builder.frontend.plan"} <= loaded
    modules_outside_frontend = {m for m in loaded - set(LAZY_SUBPACKAGES)
                                if not m.startswith("builder.frontend.")} - {"builder.errors", "builder.lazy"}
    assert modules_outside_frontend == set()


def test_unknown_attribute_raises_attribute_error() -> None:
    import grammar

    with pytest.raises(AttributeError):
        grammar.no_such_name  # noqa: B018
    from grammar import ast as grammar_ast  # a submodule still imports normally

    assert grammar_ast.__name__ == "grammar.ast"
