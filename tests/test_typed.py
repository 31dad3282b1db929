"""core/typed.py's runtime NamedTuple behaves as typing.NamedTuple does, for what a class of ours can do."""

from __future__ import annotations

import copy
import pickle
import typing

import pytest

from postrender.core import typed


def define(base: type) -> type:
    class Place(base):  # type: ignore[misc, valid-type]
        """Where something is."""

        file: str
        line: int | None = None
        column: int = 1

        @property
        def where(self) -> str:
            return f"{self.file}:{self.line}"

        def shifted(self, by: int) -> Place:
            return self._replace(line=(self.line or 0) + by)

    return Place


OURS, TYPING = define(typed.NamedTuple), define(typing.NamedTuple)
CALLS = [((), {}), (("a",), {}), (("a", 3),), (("a", 3, 4), {}), (("a", 3, 4, 5), {}), ((), {"file": "a"}),
         (("a",), {"column": 7}), (("a",), {"file": "b"}), (("a",), {"colour": 1}), ((), {"line": 2}),
         (("a", None), {"line": 2}), ((), {"file": "a", "line": 2, "column": 3})]


def outcome(cls: type, args: tuple, kwargs: dict | None = None) -> object:
    try:
        made = cls(*args, **(kwargs or {}))
    except TypeError:
        return TypeError
    return (tuple(made), repr(made).replace(cls.__qualname__, "Place"), made.where, made._asdict(), made.shifted(2),
            hash(made) == hash(tuple(made)))


@pytest.mark.parametrize("call", CALLS)
def test_construction_and_errors_as_typing_namedtuple(call):
    assert outcome(OURS, *call) == outcome(TYPING, *call)


def test_the_class_and_its_instances_as_typing_namedtuple():
    ours, theirs = OURS("a", 1), TYPING("a", 1)
    assert ours == theirs == ("a", 1, 1) and isinstance(ours, tuple)
    for attribute in ("_fields", "_field_defaults", "__match_args__", "__doc__", "__qualname__", "__module__"):
        assert getattr(OURS, attribute) == getattr(TYPING, attribute), attribute
    assert OURS._make(["b", 2, 3]) == TYPING._make(["b", 2, 3])
    with pytest.raises(TypeError):
        OURS._make(["b"])
    with pytest.raises(ValueError):
        ours._replace(colour=1)
    with pytest.raises(AttributeError):
        ours.file = "b"  # type: ignore[misc]
    assert not hasattr(ours, "__dict__")
    assert copy.copy(ours) == ours and copy.deepcopy(ours) == ours
    match ours:
        case OURS(file, line):
            assert (file, line) == ("a", 1)


def test_instances_pickle_by_module_and_name():
    assert pickle.loads(pickle.dumps(PICKLED("x"))) == PICKLED("x")


class PICKLED(typed.NamedTuple):  # pickle finds a class by its module and name
    name: str


def test_what_typing_refuses_it_refuses():
    with pytest.raises(TypeError):
        class Gap(typed.NamedTuple):
            first: int = 0
            second: int
    with pytest.raises(AttributeError):
        class Overwrite(typed.NamedTuple):
            value: int

            def _replace(self):  # type: ignore[override]
                return self
