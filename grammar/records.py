"""``@record``: the project's typed, frozen, slotted dataclass, cheaper to define.

``@record`` makes exactly what ``@dataclass(frozen=True, slots=True)`` makes: a
real dataclass (``dataclasses.fields``, ``replace``, ``asdict`` and pickling work)
whose instances compare by value, hash by value and refuse assignment.

Why not the plain decorator: ``dataclasses`` writes each generated method as
source text and compiles it (``exec``), six compiles per frozen class
(``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``,
``__delattr__``), about 1 ms a class on the CI machine. ``pybuild --check``
defines some 60 of them at start-up. ``__repr__``, ``__eq__`` and ``__hash__``
need no per-class code, so they are written once here and read the class's
fields; ``dataclasses`` still generates ``__init__`` and the frozen
``__setattr__``/``__delattr__``. That halves the cost of a class. The methods
behave as the generated ones do (tests/grammar/test_records.py compares them).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform

_T = TypeVar("_T", bound=type)
_Getter = Callable[[Any], tuple[Any, ...]]
# class -> (field values compared by __eq__, hashed by __hash__, shown by __repr__) getters and repr names
_ACCESSORS: dict[type, tuple[_Getter, _Getter, _Getter, tuple[str, ...]]] = {}


@dataclass_transform(frozen_default=True)
def record(cls: _T) -> _T:
    """``@dataclass(frozen=True, slots=True)`` with shared ``__repr__``/``__eq__``/``__hash__``."""
    own = cls.__dict__
    if "__repr__" not in own:
        cls.__repr__ = _record_repr  # type: ignore[assignment]
    if "__eq__" not in own:
        cls.__eq__ = _record_eq  # type: ignore[assignment]
    # dataclasses' rule for eq=True, frozen=True: add __hash__ unless the class wrote its own
    class_hash = own.get("__hash__", MISSING)
    if class_hash is MISSING or (class_hash is None and "__eq__" in own):
        cls.__hash__ = _record_hash  # type: ignore[assignment]
    return dataclass(frozen=True, slots=True, repr=False, eq=False)(cls)


def _getter(names: tuple[str, ...]) -> _Getter:
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        single = attrgetter(names[0])
        return lambda instance: (single(instance),)
    return lambda instance: ()


def _accessors(cls: type) -> tuple[_Getter, _Getter, _Getter, tuple[str, ...]]:
    found = _ACCESSORS.get(cls)
    if found is None:
        all_fields = fields(cls)
        compared = tuple(f.name for f in all_fields if f.compare)
        hashed = tuple(f.name for f in all_fields if (f.compare if f.hash is None else f.hash))
        shown = tuple(f.name for f in all_fields if f.repr)
        found = _ACCESSORS[cls] = (_getter(compared), _getter(hashed), _getter(shown), shown)
    return found


def _record_eq(self: Any, other: Any) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    compared = _accessors(self.__class__)[0]
    return compared(self) == compared(other)


def _record_hash(self: Any) -> int:
    return hash(_accessors(self.__class__)[1](self))


def _record_repr(self: Any) -> str:
    _, _, shown, names = _accessors(self.__class__)
    values = ", ".join(f"{name}={value!r}" for name, value in zip(names, shown(self)))
    return f"{self.__class__.__qualname__}({values})"
