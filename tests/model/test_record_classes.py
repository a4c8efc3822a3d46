"""The records are plain slotted classes (issue 14: no dataclass decoration
at import); they must behave as the frozen dataclasses they replace."""

from __future__ import annotations

import copy
import inspect
import pickle

import pytest

from pmemctl.cli.render import doc
from pmemctl.model import discover, records, tiers
from pmemctl.model.records import FrozenRecordError, MemoryBlock, Record, Topology, replace
from pmemctl.ops import views
from pmemctl.ops.backends import ndctl
from pmemctl.sysfs import abi, door

#: every Record class of the modules that used to hold frozen dataclasses
RECORD_CLASSES = sorted(
    {c for m in (records, views, doc, tiers, discover, abi, door, ndctl) for c in vars(m).values()
     if isinstance(c, type) and issubclass(c, Record) and c is not Record},
    key=lambda c: c.__qualname__,
)


def _sample(cls: type[Record], tag: str) -> Record:
    """An instance whose every field holds a distinct, recognisable value."""
    return cls(**{name: f"{tag}-{name}" for name in cls._fields})


def test_every_record_class_is_found() -> None:
    names = {c.__name__ for c in RECORD_CLASSES}
    assert {"MemoryBlock", "Topology", "Namespace", "DaxDevice", "ListView", "BlockRange", "Column", "Document",
            "WeightedInterleave", "BootMemory", "Personality", "ToolResult", "NdctlResult"} <= names
    assert len(names) == 33


@pytest.mark.parametrize("cls", RECORD_CLASSES, ids=lambda c: c.__name__)
def test_fields_slots_init_and_annotations_agree(cls: type[Record]) -> None:
    if "_fields" not in vars(cls):  # a subclass that adds behaviour only (NdctlResult)
        assert cls.__slots__ == ()
        return
    assert cls._fields == cls.__slots__
    params = list(inspect.signature(cls.__init__).parameters)[1:]
    assert params == list(cls._fields)
    own = [n for n in inspect.get_annotations(cls) if not n.startswith("_")]
    assert own == list(cls._fields)


@pytest.mark.parametrize("cls", RECORD_CLASSES, ids=lambda c: c.__name__)
def test_init_stores_each_argument_in_its_own_field(cls: type[Record]) -> None:
    rec = _sample(cls, "a")
    for name in cls._fields:
        assert getattr(rec, name) == f"a-{name}"
    positional = cls(*(f"a-{n}" for n in cls._fields))
    assert positional == rec


@pytest.mark.parametrize("cls", RECORD_CLASSES, ids=lambda c: c.__name__)
def test_value_semantics_as_a_frozen_dataclass(cls: type[Record]) -> None:
    a, b, c = _sample(cls, "a"), _sample(cls, "a"), _sample(cls, "c")
    assert a == b and hash(a) == hash(b) and a is not b
    assert a != c
    assert a != tuple(getattr(a, n) for n in cls._fields)  # never equal to another type
    fields = ", ".join(f"{n}={getattr(a, n)!r}" for n in cls._fields)
    assert repr(a) == f"{cls.__qualname__}({fields})"
    with pytest.raises(AttributeError):
        setattr(a, cls._fields[0], "x")
    with pytest.raises(FrozenRecordError):
        delattr(a, cls._fields[-1])
    with pytest.raises(AttributeError):
        a.not_a_field = 1  # type: ignore[attr-defined]
    assert not hasattr(a, "__dict__")
    assert copy.copy(a) == a and copy.deepcopy(a) == a
    assert pickle.loads(pickle.dumps(a)) == a


def test_replace_changes_only_the_named_fields() -> None:
    block = MemoryBlock(7, records.BlockState.OFFLINE, ("Movable",), True, 1, "dax0.0")
    moved = replace(block, state=records.BlockState.ONLINE, node=2)
    assert moved == MemoryBlock(7, records.BlockState.ONLINE, ("Movable",), True, 2, "dax0.0")
    assert block.state is records.BlockState.OFFLINE  # the original is untouched
    assert type(moved) is MemoryBlock
    with pytest.raises(TypeError, match="no field 'colour'"):
        replace(block, colour="red")


def test_topology_defaults() -> None:
    topo = Topology("/", None, (), (), (), (), (), (), (), (), ())  # type: ignore[arg-type]
    assert topo.possible_nodes == () and topo.stranded == ()
