"""Immutable records without the dataclass decorator: the :class:`Record`
base of every snapshot record (:mod:`pmemctl.model.records`), view and
document, and :func:`replace`.

Why not ``@dataclass(frozen=True)``: the decorator generates and compiles its
methods at every import, 0.25-0.4 ms a class, and a ``pmemctl list`` imports
some thirty of them (issue 14: start-up).  A record written out as a plain
class is compiled once, into the byte-code cache.  A base module: any room
may import it.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any, ClassVar, TypeVar

_set = object.__setattr__

class FrozenRecordError(AttributeError):
    """A field of a record was assigned or deleted: records never change."""


class Record:
    """Base of the records: immutable, slotted, compared and hashed by value.

    What ``@dataclass(frozen=True, slots=True)`` gave, written out: a
    record lists its fields in ``__slots__`` and ``_fields`` (the order of
    its ``__init__``, which fills them with ``object.__setattr__``); this
    base gives equality and hashing by value within one class, the repr,
    refusal of assignment, and copy/pickle support.
    """

    __slots__ = ()
    #: the fields, in order: what __eq__, __hash__, __repr__ and :func:`replace` use
    _fields: ClassVar[tuple[str, ...]] = ()
    #: record -> the tuple of its field values, in C (set for each class from its _fields)
    _key: ClassVar[Any] = staticmethod(lambda record: ())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = cls.__dict__.get("_fields")
        if fields is not None:  # a class that only adds behaviour keeps its base's fields
            cls._key = attrgetter(*fields) if len(fields) > 1 else _one_tuple(fields[0])

    def _values(self) -> tuple[Any, ...]:
        return self._key(self)  # type: ignore[no-any-return]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(self._key(self) == self._key(other))

    def __hash__(self) -> int:
        return hash(self._key(self))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenRecordError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenRecordError(f"cannot delete field {name!r}")

    # copy and pickle go through these (a slotted class has no __dict__)
    def __getstate__(self) -> tuple[Any, ...]:
        return self._values()

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self._fields, state, strict=True):
            _set(self, name, value)


#: bound to the class itself, not to its name: a name would be compiled as a
#: forward reference at import, the process's first compile() (1 ms; issue 14)
R = TypeVar("R", bound=Record)


def _one_tuple(name: str) -> Any:
    get = attrgetter(name)
    return staticmethod(lambda record: (get(record),))


def replace(record: R, **changes: Any) -> R:
    """A copy of ``record`` with some fields changed (as ``dataclasses.replace``)."""
    unknown = sorted(set(changes) - set(record._fields))
    if unknown:
        raise TypeError(f"{record.__class__.__qualname__} has no field {unknown[0]!r}")
    values = {name: changes.get(name, getattr(record, name)) for name in record._fields}
    make: Any = record.__class__
    return make(**values)  # type: ignore[no-any-return]
