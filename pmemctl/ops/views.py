"""The views the read services return (:mod:`pmemctl.ops.read`): what a
read command shows, before a renderer turns it into text or JSON.

Immutable records in the style of :mod:`pmemctl.model.records` (plain
slotted classes, no dataclass decoration at import: start-up, issue 14).
They are importable from :mod:`pmemctl.ops.read` too.
"""

from __future__ import annotations

from typing import Optional

from pmemctl.immutable import Record
from pmemctl.model.records import (
    BlockState,
    DaxDevice,
    MemoryBlock,
    Namespace,
    NdBus,
    NumaNode,
    Region,
    Topology,
)
from pmemctl.model.tiers import WeightedInterleave

_set = object.__setattr__  # fills a record's read-only slots in __init__

# --------------------------------------------------------------------------
# list


class ListFilter(Record):
    bus: Optional[str]
    region: Optional[str]
    namespace: Optional[str]
    device: Optional[str]
    mode: Optional[str]  # devdax / system-ram / disabled / fsdax / sector / raw

    __slots__ = ("bus", "region", "namespace", "device", "mode")
    _fields = __slots__

    def __init__(
        self,
        bus: Optional[str] = None,
        region: Optional[str] = None,
        namespace: Optional[str] = None,
        device: Optional[str] = None,
        mode: Optional[str] = None,
    ) -> None:
        _set(self, "bus", bus)
        _set(self, "region", region)
        _set(self, "namespace", namespace)
        _set(self, "device", device)
        _set(self, "mode", mode)


class RegionView(Record):
    region: Region
    namespaces: tuple[tuple[Namespace, Optional[DaxDevice]], ...]

    __slots__ = ("region", "namespaces")
    _fields = __slots__

    def __init__(self, region: Region, namespaces: tuple[tuple[Namespace, Optional[DaxDevice]], ...]) -> None:
        _set(self, "region", region)
        _set(self, "namespaces", namespaces)


class BusView(Record):
    bus: NdBus
    regions: tuple[RegionView, ...]

    __slots__ = ("bus", "regions")
    _fields = __slots__

    def __init__(self, bus: NdBus, regions: tuple[RegionView, ...]) -> None:
        _set(self, "bus", bus)
        _set(self, "regions", regions)


class ListView(Record):
    topology: Topology
    buses: tuple[BusView, ...]
    standalone: tuple[DaxDevice, ...]  # dax devices with no nd namespace (hmem, CXL)

    __slots__ = ("topology", "buses", "standalone")
    _fields = __slots__

    def __init__(self, topology: Topology, buses: tuple[BusView, ...], standalone: tuple[DaxDevice, ...]) -> None:
        _set(self, "topology", topology)
        _set(self, "buses", buses)
        _set(self, "standalone", standalone)


# --------------------------------------------------------------------------
# blocks


class BlockRange(Record):
    """Contiguous blocks that agree on every shown attribute."""

    first: int
    last: int
    state: BlockState
    zones: Optional[tuple[str, ...]]
    removable: Optional[bool]
    node: Optional[int]
    device: Optional[str]

    __slots__ = ("first", "last", "state", "zones", "removable", "node", "device")
    _fields = __slots__

    def __init__(
        self,
        first: int,
        last: int,
        state: BlockState,
        zones: Optional[tuple[str, ...]],
        removable: Optional[bool],
        node: Optional[int],
        device: Optional[str],
    ) -> None:
        _set(self, "first", first)
        _set(self, "last", last)
        _set(self, "state", state)
        _set(self, "zones", zones)
        _set(self, "removable", removable)
        _set(self, "node", node)
        _set(self, "device", device)

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def start(self, block_size: int) -> int:
        return self.first * block_size

    def end(self, block_size: int) -> int:
        """Inclusive end address, as lsmem prints it."""
        return (self.last + 1) * block_size - 1


class BlocksView(Record):
    topology: Topology
    block_size: int
    columns: tuple[str, ...]
    blocks: tuple[MemoryBlock, ...]
    ranges: tuple[BlockRange, ...]
    per_block: bool

    __slots__ = ("topology", "block_size", "columns", "blocks", "ranges", "per_block")
    _fields = __slots__

    def __init__(
        self,
        topology: Topology,
        block_size: int,
        columns: tuple[str, ...],
        blocks: tuple[MemoryBlock, ...],
        ranges: tuple[BlockRange, ...],
        per_block: bool,
    ) -> None:
        _set(self, "topology", topology)
        _set(self, "block_size", block_size)
        _set(self, "columns", columns)
        _set(self, "blocks", blocks)
        _set(self, "ranges", ranges)
        _set(self, "per_block", per_block)

    @property
    def online_bytes(self) -> int:
        return sum(r.count for r in self.ranges if r.state == BlockState.ONLINE) * self.block_size

    @property
    def offline_bytes(self) -> int:
        return sum(r.count for r in self.ranges if r.state != BlockState.ONLINE) * self.block_size


# --------------------------------------------------------------------------
# topology


class NodeLists(Record):
    """Ready-to-use node lists for numactl --membind / cpuset.mems."""

    dram: str
    pmem: str
    cxl: str
    all_memory: str

    __slots__ = ("dram", "pmem", "cxl", "all_memory")
    _fields = __slots__

    def __init__(self, dram: str, pmem: str, cxl: str, all_memory: str) -> None:
        _set(self, "dram", dram)
        _set(self, "pmem", pmem)
        _set(self, "cxl", cxl)
        _set(self, "all_memory", all_memory)


class TopologyView(Record):
    topology: Topology
    nodes: tuple[NumaNode, ...]
    node_lists: NodeLists
    warnings: tuple[str, ...]
    #: weighted-interleave weights (6.9+); None where the kernel has none
    interleave: Optional[WeightedInterleave]

    __slots__ = ("topology", "nodes", "node_lists", "warnings", "interleave")
    _fields = __slots__

    def __init__(
        self,
        topology: Topology,
        nodes: tuple[NumaNode, ...],
        node_lists: NodeLists,
        warnings: tuple[str, ...],
        interleave: Optional[WeightedInterleave] = None,
    ) -> None:
        _set(self, "topology", topology)
        _set(self, "nodes", nodes)
        _set(self, "node_lists", node_lists)
        _set(self, "warnings", warnings)
        _set(self, "interleave", interleave)
