"""Each package declares ``__all__`` and it matches what the package really exports."""
from __future__ import annotations

import importlib

import pytest

PACKAGES = ("grammar", "registry_client", "runtime", "builder")


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_public_members(name: str) -> None:
    package = importlib.import_module(name)
    exported = set(package.__all__)
    public = {
        member
        for member, value in vars(package).items()
        if not member.startswith("_") and getattr(value, "__module__", "").startswith(f"{name}.")
    }
    assert exported == public
    assert len(package.__all__) == len(exported), "duplicates in __all__"
