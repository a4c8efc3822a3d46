"""``pmemctl blocks``: the lsmem-like view of memory blocks (issue 14).

The blocks are read as columns (:mod:`pmemctl.model.blocks`), only the
attributes the shown columns and the filters need, and merged into ranges
from the columns; a record per block is built only when asked for
(:attr:`BlocksView.blocks`).  Apart from the pmemctl.ops.read views so that the
command imports no more than it runs.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

from pmemctl.errors import Unsupported, UsageError
from pmemctl.immutable import Record
from pmemctl.model.blocks import BlockTable, read_block_table, walk_indexes
from pmemctl.model.discover import BLOCK_FIELDS, discover, find_object_error, node_ids
from pmemctl.model.records import BlockState, MemoryBlock, Topology
from pmemctl.sysfs.door import SysfsRoot

_set = object.__setattr__  # fills a record's read-only slots in __init__

#: Columns of `pmemctl blocks` and the per-block fields each needs.
BLOCK_COLUMNS: dict[str, frozenset[str]] = {
    "range": frozenset(),
    "size": frozenset(),
    "state": frozenset({"state"}),
    "zone": frozenset({"zones"}),
    "removable": frozenset({"removable"}),
    "block": frozenset(),
    "node": frozenset({"node"}),
    "device": frozenset({"device"}),
}
DEFAULT_BLOCK_COLUMNS = ("range", "size", "state", "zone", "removable", "block", "node", "device")


class BlockRange:
    """Contiguous blocks that agree on every shown attribute.  A plain slotted
    class, not a frozen record: a per-block view of 196,608 blocks builds as
    many, and a frozen record's __init__ costs a setattr call per field.
    Compared by value; nothing changes one after the view is built."""

    __slots__ = ("first", "last", "state", "zones", "removable", "node", "device")
    _fields = __slots__  # records.replace works on it too

    def __init__(self, first: int, last: int, state: BlockState, zones: Optional[tuple[str, ...]],
                 removable: Optional[bool], node: Optional[int], device: Optional[str]) -> None:
        self.first = first
        self.last = last
        self.state = state
        self.zones = zones
        self.removable = removable
        self.node = node
        self.device = device

    def _values(self) -> tuple[Any, ...]:
        return (self.first, self.last, self.state, self.zones, self.removable, self.node, self.device)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BlockRange):
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "BlockRange(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def start(self, block_size: int) -> int:
        return self.first * block_size

    def end(self, block_size: int) -> int:
        """Inclusive end address, as lsmem prints it."""
        return (self.last + 1) * block_size - 1


class BlocksView(Record):
    #: the machine without its memory blocks (they are in ``table``)
    topology: Topology
    block_size: int
    columns: tuple[str, ...]
    #: the selected blocks, as columns
    table: BlockTable
    ranges: tuple[BlockRange, ...]
    per_block: bool

    __slots__ = ("topology", "block_size", "columns", "table", "ranges", "per_block")
    _fields = __slots__

    def __init__(self, topology: Topology, block_size: int, columns: tuple[str, ...], table: BlockTable,
                 ranges: tuple[BlockRange, ...], per_block: bool) -> None:
        _set(self, "topology", topology)
        _set(self, "block_size", block_size)
        _set(self, "columns", columns)
        _set(self, "table", table)
        _set(self, "ranges", ranges)
        _set(self, "per_block", per_block)

    @property
    def blocks(self) -> tuple[MemoryBlock, ...]:
        """The selected blocks as records (built on demand)."""
        return tuple(self.table.records())

    @property
    def online_bytes(self) -> int:
        return sum(r.count for r in self.ranges if r.state == BlockState.ONLINE) * self.block_size

    @property
    def offline_bytes(self) -> int:
        return sum(r.count for r in self.ranges if r.state != BlockState.ONLINE) * self.block_size


def parse_columns(text: Optional[str]) -> tuple[str, ...]:
    if not text:
        return DEFAULT_BLOCK_COLUMNS
    cols = tuple(c.strip().lower() for c in text.split(",") if c.strip())
    unknown = [c for c in cols if c not in BLOCK_COLUMNS]
    if unknown or not cols:
        raise UsageError(
            f"unknown column {unknown[0]!r}" if unknown else "no columns given",
            hint=f"choose from {','.join(BLOCK_COLUMNS)}",
        )
    return cols


def merge_ranges(blocks: Sequence[MemoryBlock], columns: Iterable[str], per_block: bool) -> list[BlockRange]:
    """Merge index-adjacent blocks equal in every shown column (lsmem's rule)."""
    return merge_table(
        BlockTable([b.index for b in blocks], [b.state for b in blocks], [b.zones for b in blocks],
                   [b.removable for b in blocks], [b.node for b in blocks], [b.device for b in blocks]),
        columns, per_block)


def merge_table(table: BlockTable, columns: Iterable[str], per_block: bool) -> list[BlockRange]:
    """Merge index-adjacent blocks equal in every shown column (lsmem's rule):
    state, zones, removable, node, device (None for a column not shown)."""
    cols = set(columns)
    unshown = [None] * len(table)
    keys = zip(
        table.states,
        table.zones if "zone" in cols else unshown,
        table.removable if "removable" in cols else unshown,
        table.nodes if "node" in cols else unshown,
        table.devices if "device" in cols else unshown,
        strict=True,
    )
    if per_block:
        return [BlockRange(i, i, *key) for i, key in zip(table.indexes, keys, strict=True)]
    out: list[BlockRange] = []
    first = last = -2
    cur: Optional[tuple[BlockState, Any, Any, Any, Any]] = None
    for idx, key in zip(table.indexes, keys, strict=True):
        if idx == last + 1 and key == cur:
            last = idx
            continue
        if cur is not None:
            out.append(BlockRange(first, last, *cur))
        first = last = idx
        cur = key
    if cur is not None:
        out.append(BlockRange(first, last, *cur))
    return out


def blocks_view(
    door: SysfsRoot,
    *,
    columns: Sequence[str] = DEFAULT_BLOCK_COLUMNS,
    per_block: bool = False,
    device: Optional[str] = None,
    node: Optional[int] = None,
    state: Optional[str] = None,
) -> BlocksView:
    """lsmem-like view: ranges merged by state, zone, node and owning device.
    The blocks are read as columns, only the attributes the columns and
    filters need (:func:`pmemctl.model.blocks.read_block_table`)."""
    if state is not None and state not in ("online", "offline", "going-offline"):
        raise UsageError(f"unknown state {state!r}", hint="use online or offline")
    topo = discover(door, with_nd=False, with_blocks=False)
    block_size = _hotplug_block_size(door, topo)
    if device is not None and topo.dax_device(device) is None:
        raise find_object_error("dax device", device, (d.name for d in topo.dax_devices))
    fields = _block_fields(columns, device, node)
    nids = node_ids(door)
    indexes, links = walk_indexes(door, nids, "node" in fields)
    table = read_block_table(door, indexes, block_size, topo.dax_devices, nids, fields, links)
    if node is not None and topo.node(node) is None and node not in set(table.nodes):
        raise find_object_error("node", str(node), (str(n.id) for n in topo.nodes))
    if device is not None or node is not None or state is not None:
        table = table.where([
            (device is None or d == device) and (node is None or n == node) and (state is None or s.value == state)
            for s, n, d in zip(table.states, table.nodes, table.devices, strict=True)
        ])
    ranges = merge_table(table, columns, per_block)
    return BlocksView(topo, block_size, tuple(columns), table, tuple(ranges), per_block)


def _block_fields(columns: Sequence[str], device: Optional[str], node: Optional[int]) -> frozenset[str]:
    """The per-block fields to read: the state, what the columns show, what the filters test."""
    fields: set[str] = {"state"}
    for c in columns:
        fields |= BLOCK_COLUMNS[c]
    if node is not None:
        fields.add("node")
    if device is not None:
        fields.add("device")
    return frozenset(fields) & BLOCK_FIELDS


def _hotplug_block_size(door: SysfsRoot, topo: Topology) -> int:
    if topo.policy.block_size is None:
        raise Unsupported(
            f"{door.host_path('/sys/devices/system/memory')} does not exist: this kernel has no memory hotplug support",
            hint="build the kernel with CONFIG_MEMORY_HOTPLUG, or check --sysroot",
        )
    return topo.policy.block_size
