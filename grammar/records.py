"""``@record``: the project's typed, frozen, slotted dataclass, cheaper to define.

``@record`` makes exactly what ``@dataclass(frozen=True, slots=True)`` makes: a
real dataclass (``dataclasses.fields``, ``replace``, ``asdict`` and pickling work)
whose instances compare by value, hash by value and refuse assignment.

Why not the plain decorator: ``dataclasses`` writes each generated method as
source text and compiles it (``exec``), six compiles per frozen class
(``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``,
``__delattr__``), about 0.6 ms a class even with the shared methods below, and
``pybuild --check`` defines some 60 of them at start-up. So ``@record`` compiles
nothing when a class is defined:

* ``__repr__``, ``__eq__`` and ``__hash__`` need no per-class code: they are
  written once here and read the class's fields;
* the frozen ``__setattr__``/``__delattr__`` are closures over the class, with
  the generated methods' logic;
* ``__init__`` is the one method that must be compiled to stay fast, from the
  same source ``dataclasses`` would write; but compiling costs ~0.2 ms, the time
  of a hundred calls of a shared, interpreted ``__init__``. So a class's first
  ``COMPILE_AFTER`` instances are made by that shared one (``_InitPlan``), and
  its ``__init__`` is compiled only if it is called more: ``pybuild --check``
  makes few instances of most of its classes, a long Dockerfile makes many;
* the doc string ``dataclasses`` gives a class without one (its signature) is
  written when it is first read.

``dataclasses`` still does the rest (fields, defaults, ``KW_ONLY``, slots,
``__match_args__``), through a shortcut for the usual class (``_slotted_dataclass``). The methods behave as the generated ones do
(tests/grammar/test_records.py compares them). ``InitVar`` fields are not
supported (no record uses them); a class with one gets the stock decorator.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import MISSING, FrozenInstanceError, dataclass, fields
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
    if not _plain_fields(cls):
        return dataclass(frozen=True, slots=True, repr=False, eq=False)(cls)
    for name in ("__setattr__", "__delattr__"):
        if name in own:  # as dataclass(frozen=True) says
            raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
    if not cls.__doc__:
        cls.__doc__ = cls.__name__  # not empty, so dataclasses does not build the signature with inspect
        has_doc = False
    else:
        has_doc = True
    own_init = "__init__" in own
    cls = _slotted_dataclass(cls)  # compiles nothing
    cls.__dataclass_params__.init = True
    cls.__dataclass_params__.frozen = True
    if not own_init:
        _check_default_order(cls)
        cls.__init__ = _lazy_init(cls)
        cls.__signature__ = _Signature(cls, cls.__init__)
    if not has_doc:
        cls.__doc__ = _Doc()
    cls.__setattr__, cls.__delattr__ = _frozen_methods(cls)
    own = cls.__dict__
    if "__getstate__" not in own:  # as dataclasses does for frozen slotted classes: pickling needs these
        cls.__getstate__ = _getstate
    if "__setstate__" not in own:
        cls.__setstate__ = _setstate
    return cls


def _slotted_dataclass(cls: type) -> type:
    """``dataclass(init=False, repr=False, eq=False, slots=True)(cls)``, which then adds no method.

    On Python 3.11, whose ``dataclasses`` internals this follows, a class whose
    annotations are all strings (``from __future__ import annotations``) naming
    plain fields takes a shortcut: ``dataclasses`` spends most of its time on
    telling ``ClassVar``, ``InitVar`` and ``KW_ONLY`` pseudo-fields apart, three
    module look-ups per field. Any class the shortcut is not sure about, or that
    ``dataclasses`` would reject, goes to ``dataclasses`` itself.
    """
    made = _plain_slotted_dataclass(cls) if _DATACLASS_SHORTCUT else None
    return made if made is not None else dataclass(init=False, repr=False, eq=False, slots=True)(cls)


_DATACLASS_SHORTCUT = sys.version_info[:2] == (3, 11)


def _plain_slotted_dataclass(cls: type) -> type | None:
    """What ``dataclasses._process_class`` (3.11) makes of a class of plain fields, or None for another class."""
    import dataclasses
    import types

    own = cls.__dict__
    annotations = own.get("__annotations__", {})
    module = sys.modules.get(cls.__module__)
    if "__slots__" in own or module is None:
        return None
    namespace = module.__dict__
    made = {}
    for name, annotation in annotations.items():
        if not isinstance(annotation, str) or _may_be_pseudo_field(annotation, namespace):
            return None
        default = getattr(cls, name, MISSING)
        if isinstance(default, dataclasses.Field):
            made_field = default
        else:
            if isinstance(default, types.MemberDescriptorType):
                default = MISSING
            made_field = dataclasses.field(default=default)
        if made_field.default.__class__.__hash__ is None:
            return None  # a mutable default: dataclasses raises its error
        made[name] = made_field
    if any(isinstance(value, dataclasses.Field) and name not in annotations for name, value in own.items()):
        return None  # a field() without annotation: dataclasses raises its error
    for name, made_field in made.items():
        made_field.name, made_field.type = name, annotations[name]
        made_field._field_type = dataclasses._FIELD  # type: ignore[attr-defined]
        if made_field.kw_only is MISSING:
            made_field.kw_only = False
        if isinstance(getattr(cls, name, None), dataclasses.Field):
            if made_field.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, made_field.default)
    cls.__dataclass_params__ = dataclasses._DataclassParams(  # type: ignore[attr-defined]
        False, False, False, False, False, False)  # init, repr, eq, order, unsafe_hash, frozen
    cls.__dataclass_fields__ = made
    if "__match_args__" not in own:
        cls.__match_args__ = tuple(name for name, f in made.items() if f.init and not f.kw_only)
    import abc

    return abc.update_abstractmethods(dataclasses._add_slots(cls, False, False))  # type: ignore[attr-defined]


def _may_be_pseudo_field(annotation: str, namespace: dict[str, Any]) -> bool:
    """Whether dataclasses might read ``annotation`` as ``ClassVar``, ``InitVar`` or ``KW_ONLY``.

    dataclasses resolves the annotation's leading (optionally dotted) name in the
    class's module; so does this, and says yes to whatever resolves to one of those.
    """
    import dataclasses
    import typing

    match = dataclasses._MODULE_IDENTIFIER_RE.match(annotation)  # type: ignore[attr-defined]
    if match is None:
        return False
    module_name, name = match.groups()
    found = namespace.get(name) if not module_name else getattr(namespace.get(module_name), name, None)
    return (found is typing.ClassVar or found is dataclasses.InitVar or found is dataclasses.KW_ONLY
            or isinstance(found, dataclasses.InitVar) or getattr(found, "__origin__", None) is typing.ClassVar)


def _plain_fields(cls: type) -> bool:
    """No ``InitVar`` pseudo-fields and no frozen-dataclass bases that ``@record`` would have to check."""
    for base in cls.__mro__[1:]:
        if "__dataclass_fields__" in base.__dict__:
            return False  # inheriting from a dataclass: let dataclasses do its checks
    annotations = cls.__dict__.get("__annotations__", {})
    return not any("InitVar" in str(annotation) for annotation in annotations.values())


def _init_fields(cls: type) -> tuple[list, list]:
    """(positional, keyword-only) ``__init__`` fields, as dataclasses orders them."""
    found = [f for f in fields(cls) if f.init]
    return [f for f in found if not f.kw_only], [f for f in found if f.kw_only]


def _check_default_order(cls: type) -> None:
    seen_default = False
    for f in _init_fields(cls)[0]:
        if not (f.default is MISSING and f.default_factory is MISSING):
            seen_default = True
        elif seen_default:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")


class _Factory:
    def __repr__(self) -> str:
        return "<factory>"


_HAS_DEFAULT_FACTORY = _Factory()


def _init_source(cls: type) -> tuple[str, dict[str, Any]]:
    """The ``__init__`` that ``dataclass(frozen=True, slots=True)`` compiles, and its namespace."""
    self_name = "__dataclass_self__" if "self" in cls.__dataclass_fields__ else "self"
    namespace: dict[str, Any] = {"_HAS_DEFAULT_FACTORY": _HAS_DEFAULT_FACTORY, "__dataclass_builtins_object__": object}
    body = []
    for f in fields(cls):
        default = f"_dflt_{f.name}"
        if f.default_factory is not MISSING:
            namespace[default] = f.default_factory
            value = f"{default}() if {f.name} is _HAS_DEFAULT_FACTORY else {f.name}" if f.init else f"{default}()"
        elif f.init:
            if f.default is not MISSING:
                namespace[default] = f.default
            value = f.name
        elif f.default is not MISSING:
            namespace[default] = f.default
            value = default
        else:
            continue
        body.append(f"  __dataclass_builtins_object__.__setattr__({self_name},{f.name!r},{value})")
    if hasattr(cls, "__post_init__"):
        body.append(f"  {self_name}.__post_init__()")

    def param(f: Any) -> str:
        if f.default_factory is not MISSING:
            return f"{f.name}=_HAS_DEFAULT_FACTORY"
        return f.name if f.default is MISSING else f"{f.name}=_dflt_{f.name}"

    positional, keyword = _init_fields(cls)
    params = [self_name, *map(param, positional), *(["*", *map(param, keyword)] if keyword else [])]
    return f"def __init__({', '.join(params)}):\n" + ("\n".join(body) or "  pass") + "\n", namespace


def _compile_init(cls: type) -> Callable[..., None]:
    """Compile the class's ``__init__`` (as dataclasses does) and put it in place."""
    source, namespace = _init_source(cls)
    exec(source, namespace)  # noqa: S102 - the source is built from the class's field names
    real = namespace["__init__"]
    real.__qualname__ = f"{cls.__qualname__}.__init__"
    real.__annotations__ = {**{f.name: f.type for f in fields(cls) if f.init}, "return": None}
    cls.__init__ = real
    return real


class _InitPlan:
    """What the generated ``__init__`` of a class does, run by one shared interpreted ``__init__``.

    ``assign`` takes only calls that bind without an error (the generated
    ``__init__``'s parameters, keyword-only ones by keyword, no argument twice or
    missing) and then sets the fields exactly as the generated ``__init__`` does:
    in field order, defaults and ``default_factory`` calls included, then calls
    ``__post_init__``. For any other call it returns False before doing anything,
    and the compiled ``__init__`` raises the error the stock one raises.
    """

    __slots__ = ("positional", "accepted", "required", "steps", "post_init")

    def __init__(self, cls: type) -> None:
        positional, keyword = _init_fields(cls)
        self.positional = tuple(f.name for f in positional)
        self.accepted = frozenset(f.name for f in positional + keyword)
        self.required = tuple(f.name for f in positional + keyword
                              if f.default is MISSING and f.default_factory is MISSING)
        steps = []  # (name, taken from the arguments?, default factory or None, default)
        for f in fields(cls):
            if f.default_factory is not MISSING:
                steps.append((f.name, f.init, f.default_factory, None))
            elif f.init or f.default is not MISSING:
                steps.append((f.name, f.init, None, f.default))
        self.steps = tuple(steps)
        self.post_init = hasattr(cls, "__post_init__")

    def assign(self, instance: Any, args: tuple, kwargs: dict[str, Any]) -> bool:
        positional = self.positional
        if len(args) > len(positional):
            return False
        given = dict(zip(positional, args))
        for name in kwargs:
            if name in given or name not in self.accepted:
                return False
        given.update(kwargs)
        for name in self.required:
            if name not in given:
                return False
        for name, init, factory, default in self.steps:
            if init and name in given:
                value = given[name]
            else:
                value = default if factory is None else factory()
            object.__setattr__(instance, name, value)
        if self.post_init:
            instance.__post_init__()
        return True


# Calls of a class's shared interpreted __init__ before its own is compiled (see the module doc).
COMPILE_AFTER = 40


def _lazy_init(cls: type) -> Callable[..., None]:
    plan: _InitPlan | None = None
    calls = 0

    def __init__(self: Any, /, *args: Any, **kwargs: Any) -> None:  # `self` may be a field's name
        nonlocal plan, calls
        calls += 1
        if calls <= COMPILE_AFTER:
            if plan is None:
                plan = _InitPlan(cls)
            if plan.assign(self, args, kwargs):
                return
        _compile_init(cls)(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


class _Signature:
    """``cls.__signature__`` while ``cls`` runs the shared ``__init__``, whose own is ``(*args, **kwargs)``:
    what ``inspect.signature(cls)`` gives once the generated ``__init__`` is in place."""

    def __init__(self, cls: type, shared_init: Callable[..., None]) -> None:
        self.cls = cls
        self.shared_init = shared_init

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if owner is not self.cls or owner.__dict__.get("__init__") is not self.shared_init:
            raise AttributeError("__signature__")  # inspect then reads the __init__ in place
        return _signature(owner, return_annotation=None)


class _Doc:
    """The doc string dataclasses gives a class without one, ``Name(field: 'type', ...)``, made when read."""

    def __get__(self, instance: Any, owner: type | None = None) -> str:
        cls = owner if owner is not None else type(instance)
        text = cls.__name__ + str(_signature(cls))
        cls.__doc__ = text
        return text


def _signature(cls: type, **options: Any) -> Any:
    """The ``inspect.Signature`` of the class's generated ``__init__``, without ``self``."""
    import inspect  # already imported by dataclasses

    def parameter(f: Any, kind: Any) -> Any:
        default = f.default if f.default_factory is MISSING else _HAS_DEFAULT_FACTORY
        return inspect.Parameter(f.name, kind, annotation=f.type,
                                 default=inspect.Parameter.empty if default is MISSING else default)

    positional, keyword = _init_fields(cls)
    parameters = [parameter(f, inspect.Parameter.POSITIONAL_OR_KEYWORD) for f in positional]
    parameters += [parameter(f, inspect.Parameter.KEYWORD_ONLY) for f in keyword]
    return inspect.Signature(parameters, **options)


def _frozen_methods(cls: type) -> tuple[Callable[..., None], Callable[..., None]]:
    """The ``__setattr__`` and ``__delattr__`` of ``dataclass(frozen=True)``."""
    names = tuple(f.name for f in fields(cls))

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    __setattr__.__qualname__ = f"{cls.__qualname__}.__setattr__"
    __delattr__.__qualname__ = f"{cls.__qualname__}.__delattr__"
    return __setattr__, __delattr__


def _getstate(self: Any) -> list[Any]:
    return [getattr(self, f.name) for f in fields(self)]


def _setstate(self: Any, state: list[Any]) -> None:
    for f, value in zip(fields(self), state):
        object.__setattr__(self, f.name, value)


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
