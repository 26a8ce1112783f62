"""``grammar.records.record`` behaves as ``@dataclass(frozen=True, slots=True)`` does."""
from __future__ import annotations

import copy
import inspect
import dataclasses
import importlib
import pickle
import pkgutil
from dataclasses import FrozenInstanceError, dataclass, field
from typing import ClassVar

import pytest

import grammar
from grammar.ast import Flag, Span
from grammar.records import _record_eq, record


def _pair(**options: object) -> tuple[type, type]:
    """The same class body under ``@record`` and under the stock decorator."""

    def body(decorate):  # noqa: ANN001, ANN202
        @decorate
        class Sample:
            name: str
            count: int = 0
            hidden: tuple[str, ...] = field(default=(), repr=False)
            note: str = field(default="", compare=False)
            tag: str = field(default="", hash=False)

        return Sample

    return body(record), body(dataclass(frozen=True, slots=True, **options))


VALUES = [("a",), ("a", 1), ("a", 1, ("x",)), ("a", 1, ("x",), "n"), ("a", 1, (), "", "t"), ("b", 2, ("y", "z"), "m", "u")]


@pytest.mark.parametrize("args", VALUES)
def test_repr_eq_hash_match_the_stock_dataclass(args: tuple) -> None:
    ours, stock = _pair()
    mine, theirs = ours(*args), stock(*args)
    assert repr(mine) == repr(theirs)
    assert hash(mine) == hash(theirs)
    for other in VALUES:
        assert (mine == ours(*other)) == (theirs == stock(*other))
        assert (mine != ours(*other)) == (theirs != stock(*other))
    assert mine != theirs  # different classes never compare equal
    assert mine.__eq__(object()) is NotImplemented


def test_record_is_a_frozen_slotted_dataclass() -> None:
    ours, _ = _pair()
    instance = ours("a", 1)
    assert dataclasses.is_dataclass(ours) and ours.__dataclass_params__.frozen
    assert "__slots__" in ours.__dict__ and not hasattr(instance, "__dict__")
    with pytest.raises(FrozenInstanceError):
        instance.name = "b"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del instance.name  # type: ignore[misc]
    assert dataclasses.replace(instance, count=5) == ours("a", 5)
    assert dataclasses.asdict(instance)["count"] == 1
    assert ours.__match_args__ == ("name", "count", "hidden", "note", "tag")


def test_pickle_and_copy() -> None:
    span = Span(1, 2, 3, 4)
    flag = Flag("from", "build", span)
    for value in (span, flag):
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.deepcopy(value) == value and copy.copy(value) == value
    assert repr(flag) == "Flag(name='from', value='build', span=Span(line=1, column=2, end_line=3, end_column=4))"
    assert {span, Span(1, 2, 3, 4)} == {span}


def _custom_classes(decorate):  # noqa: ANN001, ANN202
    class Custom:
        value: int

        def __repr__(self) -> str:
            return "custom"

        def __eq__(self, other: object) -> bool:
            return True

    class NoHash:
        value: int

        def __hash__(self) -> int:
            raise TypeError("unhashable on purpose")

    class OnlyEq:
        value: int

        def __eq__(self, other: object) -> bool:
            return isinstance(other, OnlyEq)

        __hash__ = None  # type: ignore[assignment]

    return [decorate(cls) for cls in (Custom, NoHash, OnlyEq)]


def _outcome(call):  # noqa: ANN001, ANN202
    try:
        return call()
    except TypeError as error:
        return type(error)


def test_methods_a_class_writes_itself_follow_the_dataclass_rules() -> None:
    for ours, stock in zip(_custom_classes(record), _custom_classes(dataclass(frozen=True, slots=True))):
        assert repr(ours(1)).replace(ours.__qualname__, "X") == repr(stock(1)).replace(stock.__qualname__, "X")
        assert (ours(1) == ours(2)) == (stock(1) == stock(2))
        assert _outcome(lambda: hash(ours(1))) == _outcome(lambda: hash(stock(1)))


def test_every_grammar_record_uses_the_shared_methods() -> None:
    """Each frozen dataclass of the package is a ``@record`` (no class pays for generated methods)."""
    plain = []
    for info in pkgutil.iter_modules(grammar.__path__):
        if info.name.startswith("_lark"):
            continue
        module = importlib.import_module(f"grammar.{info.name}")
        for value in vars(module).values():
            if (isinstance(value, type) and value.__module__ == module.__name__ and dataclasses.is_dataclass(value)
                    and value.__dataclass_params__.frozen and value.__eq__ is not _record_eq):
                plain.append(f"{module.__name__}.{value.__qualname__}")
    assert plain == []


def _init_pair():  # noqa: ANN202
    """Classes that exercise every ``__init__`` feature a record supports, under both decorators."""

    def body(decorate):  # noqa: ANN001, ANN202
        @decorate
        class Options:
            escape: str = "\\"
            items: list = field(default_factory=list)
            fixed: int = field(default=7, init=False)
            made: tuple = field(default_factory=tuple, init=False)
            _: dataclasses.KW_ONLY
            strict: bool = False
            name: str = field(default="", repr=False)

            def __post_init__(self) -> None:
                if len(self.escape) != 1:
                    raise ValueError("escape")

        @decorate
        class Selfish:
            self: int
            other: str

        @decorate
        class Empty:
            pass

        return Options, Selfish, Empty

    return body(record), body(dataclass(frozen=True, slots=True))


def test_init_behaves_as_the_generated_one() -> None:
    import inspect

    for ours, stock in zip(*_init_pair()):
        assert ours.__doc__.replace(ours.__name__, "X") == stock.__doc__.replace(stock.__name__, "X")
        assert ours.__match_args__ == stock.__match_args__
        assert ours.__dataclass_params__.init and ours.__dataclass_params__.frozen
        assert "__init__" in ours.__dict__
    (options, selfish, empty), (stock_options, stock_selfish, stock_empty) = _init_pair()
    assert repr(options()).replace(options.__qualname__, "X") == repr(stock_options()).replace(
        stock_options.__qualname__, "X")
    assert options("x", [1], strict=True, name="n").items == [1] and options().items is not options().items
    assert options().fixed == 7 and options().made == ()
    with pytest.raises(ValueError):
        options("ab")
    with pytest.raises(TypeError):
        options("x", [], True)  # keyword-only
    assert selfish(1, "a") == selfish(self=1, other="a")
    assert repr(empty()).endswith("Empty()") and empty() == empty()
    assert str(inspect.signature(options)) == str(inspect.signature(stock_options))
    assert str(inspect.signature(selfish)) == str(inspect.signature(stock_selfish))
    with pytest.raises(TypeError, match="non-default argument"):
        @record
        class Wrong:
            first: int = 0
            second: int  # type: ignore[misc]


def test_frozen_errors_and_copies_match_the_stock_dataclass() -> None:
    ours, stock = _pair()
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'other'"):
        ours("a").other = 1  # type: ignore[attr-defined]  # (the stock class fails here: CPython gh-90562)
    for cls in (ours, stock):
        instance = cls("a")
        with pytest.raises(FrozenInstanceError, match="cannot assign to field 'name'"):
            instance.name = "b"  # type: ignore[misc]
        with pytest.raises(FrozenInstanceError, match="cannot delete field 'name'"):
            del instance.name  # type: ignore[misc]
        copied = copy.deepcopy(instance)  # through __getstate__/__setstate__, as pickling
        assert copied == instance and copied.hidden == () and copy.copy(instance) == instance


CALLS = [((), {}), (("x",), {}), (("x", [1]), {"strict": True}), ((), {"name": "n", "escape": "y"}), (("ab",), {}),
         (("x", [], True), {}), ((), {"fixed": 1}), ((), {"nope": 1}), (("x",), {"escape": "y"}), ((1,), {"self": 2}),
         ((1, "a"), {}), ((), {"self": 1, "other": "a"}), ((1,), {}), ((1, "a", 2), {})]


def _made(cls: type, args: tuple, kwargs: dict):  # noqa: ANN202
    try:
        instance = cls(*args, **kwargs)
    except (TypeError, ValueError) as error:
        return type(error), str(error).replace(cls.__qualname__, "X")
    return repr(instance).replace(cls.__qualname__, "X"), [getattr(instance, f.name) for f in dataclasses.fields(cls)]


def test_shared_init_makes_what_the_generated_one_makes() -> None:
    """Before its ``__init__`` is compiled, a record's instances (and errors) are the stock dataclass's."""
    for ours, stock in zip(*_init_pair()):
        assert str(inspect.signature(ours)) == str(inspect.signature(stock))
        for args, kwargs in CALLS:
            assert _made(ours, args, kwargs) == _made(stock, args, kwargs), (ours, args, kwargs)
        assert ours.__doc__.replace(ours.__name__, "X") == stock.__doc__.replace(stock.__name__, "X")
    options = _init_pair()[0][0]
    assert options().items is not options().items  # a fresh default_factory value each time


def test_init_is_compiled_when_a_class_is_used_a_lot() -> None:
    from grammar.records import COMPILE_AFTER

    options, stock = _init_pair()[0][0], _init_pair()[1][0]
    shared = options.__dict__["__init__"]
    for _ in range(COMPILE_AFTER):
        options("x")
    assert options.__dict__["__init__"] is shared
    assert _made(options, ("y",), {"name": "n"}) == _made(stock, ("y",), {"name": "n"})
    compiled = options.__dict__["__init__"]
    assert compiled is not shared and compiled.__qualname__.endswith("Options.__init__")
    assert str(inspect.signature(options)) == str(inspect.signature(stock))
    assert _made(options, ("x", [], True), {}) == _made(stock, ("x", [], True), {})


ClassVarAlias = ClassVar


def _field_facts(cls: type) -> list[tuple]:
    return [(f.name, f.type, f.default, f.default_factory, f.init, f.repr, f.hash, f.compare, dict(f.metadata),
             f.kw_only, f._field_type) for f in dataclasses.fields(cls)]


def _class_facts(cls: type) -> tuple:
    params = cls.__dataclass_params__
    defaults = {name: getattr(cls, name, "no attribute") for name in cls.__dataclass_fields__}
    return (_field_facts(cls), cls.__match_args__, cls.__slots__, cls.__qualname__.rsplit(".", 1)[-1],
            (params.init, params.repr, params.eq, params.order, params.unsafe_hash, params.frozen),
            {name: value for name, value in defaults.items() if not hasattr(value, "__get__")},
            sorted(name for name in vars(cls) if not name.startswith("__")))


def _shapes(decorate):  # noqa: ANN001, ANN202
    """Class bodies for the dataclass shortcut of ``@record``: plain ones, and ones it must leave to dataclasses."""

    class Plain:
        name: str
        count: int = 0
        items: list = field(default_factory=list)
        hidden: str = field(default="h", repr=False, compare=False, metadata={"why": 1})
        later: int = field(default=1, init=False)
        bare: str = field(init=False)

    class WithKwOnly:
        first: int
        _: dataclasses.KW_ONLY
        second: int = 2

    class WithClassVar:
        kept: int
        shared: ClassVar[int] = 3
        aliased: ClassVarAlias[int] = 4

    class Base:
        inherited: int = 5

    class Derived(Base):
        own: str = "x"
        extra: int = field(default=0, kw_only=True)

    return [decorate(cls) for cls in (Plain, WithKwOnly, WithClassVar, Derived)]


def test_dataclass_shortcut_makes_what_dataclasses_makes() -> None:
    from grammar.records import _slotted_dataclass

    ours = _shapes(_slotted_dataclass)
    stock = _shapes(dataclass(init=False, repr=False, eq=False, slots=True))
    for mine, theirs in zip(ours, stock):
        assert _class_facts(mine) == _class_facts(theirs), mine


def test_dataclass_shortcut_is_taken_for_plain_classes_only() -> None:
    from grammar.records import _DATACLASS_SHORTCUT, _plain_slotted_dataclass

    if not _DATACLASS_SHORTCUT:
        pytest.skip("the shortcut follows Python 3.11's dataclasses")
    made = _shapes(_plain_slotted_dataclass)
    assert [cls is not None for cls in made] == [True, False, False, True]

    class Mutable:
        items: list = []  # noqa: RUF012 - dataclasses rejects this, so the shortcut leaves it alone

    assert _plain_slotted_dataclass(Mutable) is None
    with pytest.raises(ValueError, match="mutable default"):
        record(Mutable)
