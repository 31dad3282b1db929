"""NamedTuple and Protocol for the modules of the post-render path, which does not import typing.

Helm runs the post-renderer once per render. Importing typing and making classes with
typing.NamedTuple took 24 M of the run's instructions, a sixth of them (valgrind; docs/performance.md).
For the type checker these are typing's own (mypy reads `class Rule(NamedTuple)` as ever). At runtime
NamedTuple makes the class collections.namedtuple makes (a tuple with fields, _make, _replace, _asdict,
its repr, pickling), without reading the annotations (they stay strings: `from __future__ import
annotations`) and without compiling a __new__ for each class as collections.namedtuple does; Protocol
is a plain base class (nothing checks a protocol at runtime here). tests/test_typed.py holds it to
typing.NamedTuple.

The rule for a module that the post-render path imports (core/, reports/, cli.py), kept by
tests/test_startup.py: `from __future__ import annotations`, NamedTuple and Protocol from here, and
any other typing name under `if TYPE_CHECKING:` (TYPE_CHECKING from here).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
    from typing import Protocol as Protocol
else:  # (mypy reads only the branch above)
    from operator import itemgetter

    try:
        from _collections import _tuplegetter  # what collections.namedtuple's fields are
    except ImportError:  # not CPython
        def _tuplegetter(index: int, doc: str) -> property:
            return property(itemgetter(index), doc=doc)

    Protocol = object

    # typing.NamedTupleMeta: what a class body may not define, and what it never copies.
    _PROHIBITED = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults",
                             "_make", "_replace", "_asdict", "_source"})
    _SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})

    def _bind(cls: type, args: tuple, keywords: dict) -> tuple:
        """The fields from positional and keyword arguments and the defaults, as a call binds them."""
        fields, defaults = cls._fields, cls._field_defaults
        if len(args) > len(fields):
            raise TypeError(f"{cls.__name__}() takes {len(fields)} arguments but {len(args)} were given")
        values = list(args)
        for field in fields[len(args):]:
            if field in keywords:
                values.append(keywords.pop(field))
            elif field in defaults:
                values.append(defaults[field])
            else:
                raise TypeError(f"{cls.__name__}() missing argument: {field!r}")
        if keywords:
            taken = [name for name in keywords if name in fields]
            problem = "got multiple values for" if taken else "got an unexpected keyword argument"
            raise TypeError(f"{cls.__name__}() {problem} {(taken or list(keywords))[0]!r}")
        return tuple(values)

    # The methods collections.namedtuple writes for each class, written once for all.
    def _new(cls: type, /, *args: object, **keywords: object) -> tuple:
        if keywords or len(args) != len(cls._fields):
            args = _bind(cls, args, keywords)
        return tuple.__new__(cls, args)

    def _make(cls: type, iterable: object) -> tuple:
        result = tuple.__new__(cls, iterable)
        if len(result) != len(cls._fields):
            raise TypeError(f"Expected {len(cls._fields)} arguments, got {len(result)}")
        return result

    def _replace(self: tuple, /, **keywords: object) -> tuple:
        result = self._make(map(keywords.pop, self._fields, self))
        if keywords:
            raise ValueError(f"Got unexpected field names: {list(keywords)!r}")
        return result

    def _repr(self: tuple) -> str:
        return f"{type(self).__name__}({', '.join(f'{name}={value!r}' for name, value in zip(self._fields, self))})"

    def _asdict(self: tuple) -> dict:
        return dict(zip(self._fields, self))

    def _getnewargs(self: tuple) -> tuple:
        return tuple(self)

    class _NamedTupleMeta(type):
        def __new__(cls, name: str, bases: tuple, namespace: dict) -> type:
            if namespace.get("__module__") == __name__:  # NamedTuple itself
                return super().__new__(cls, name, bases, namespace)
            annotations = namespace.get("__annotations__", {})
            fields = tuple(annotations)
            defaults = {field: namespace[field] for field in fields if field in namespace}
            if any(field in namespace for field in fields[: len(fields) - len(defaults)]):
                raise TypeError(f"{name}: a field without a default follows a field with one")
            body = {"__doc__": f"{name}({', '.join(fields)})", "__slots__": (), "_fields": fields,
                    "_field_defaults": defaults, "__new__": _new, "_make": classmethod(_make), "_replace": _replace,
                    "__repr__": _repr, "_asdict": _asdict, "__getnewargs__": _getnewargs, "__match_args__": fields,
                    "__annotations__": annotations, "__module__": namespace["__module__"]}
            body.update((field, _tuplegetter(index, f"Alias for field number {index}")) for index, field in enumerate(fields))
            for key, value in namespace.items():
                if key in _PROHIBITED:
                    raise AttributeError(f"Cannot overwrite NamedTuple attribute {key}")
                if key not in _SPECIAL and key not in fields:
                    body[key] = value
            return type(name, (tuple,), body)

    class NamedTuple(metaclass=_NamedTupleMeta):
        """typing.NamedTuple's class syntax, making what collections.namedtuple makes."""
