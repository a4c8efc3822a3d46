"""Read-side services: what the read commands show, computed from a snapshot.

The CLI calls exactly one of these per command and hands the result to a
renderer.  Nothing here touches files: it works on a Topology (discovery is
the model room's job).
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

from pmemctl.commandline import command_line
from pmemctl.errors import Unsupported, UsageError
from pmemctl.model.discover import BLOCK_FIELDS, discover, find_object_error
from pmemctl.model.records import (
    BlockState,
    DaxDevice,
    MemoryBlock,
    Namespace,
    NdBus,
    NodeKind,
    NumaNode,
    Region,
    Topology,
)
from pmemctl.model.tiers import read_weighted_interleave
from pmemctl.ops.views import BlockRange as BlockRange
from pmemctl.ops.views import BlocksView as BlocksView
from pmemctl.ops.views import BusView as BusView
from pmemctl.ops.views import ListFilter as ListFilter
from pmemctl.ops.views import ListView as ListView
from pmemctl.ops.views import NodeLists as NodeLists
from pmemctl.ops.views import RegionView as RegionView
from pmemctl.ops.views import TopologyView as TopologyView
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import format_cpulist

# --------------------------------------------------------------------------
# list


NAMESPACE_MODES = ("raw", "sector", "fsdax", "devdax")
DAX_MODES = ("devdax", "system-ram", "disabled")


def _region_name(value: str) -> str:
    return value if value.startswith("region") else f"region{value}"


#: no filter: everything (records are immutable, so one instance serves every call)
_NO_FILTER = ListFilter()


def list_view(door: SysfsRoot, flt: ListFilter = _NO_FILTER) -> ListView:
    """Everything, nested bus → region → namespace → dax device, filtered.

    The view's topology holds only the blocks inside dax devices' ranges
    (what the MEMORY column counts): boot memory is not read, and its nodes'
    block counts are not filled in."""
    _check_mode(flt.mode)
    # Only the blocks inside dax devices' ranges: the MEMORY column counts them.
    topo = discover(door, block_fields=frozenset({"state"}), block_scope="devices")
    region_filter = _region_name(flt.region) if flt.region else None
    _check_list_objects(topo, flt, region_filter)
    narrowing = any((flt.namespace, flt.device, flt.mode))
    buses: list[BusView] = []
    for bus in topo.buses:
        if flt.bus and flt.bus not in (bus.name, bus.provider):
            continue
        regions = _region_views(topo, bus, flt, region_filter, narrowing)
        if regions or not (narrowing or region_filter):
            buses.append(BusView(bus, tuple(regions)))
    return ListView(topo, tuple(buses), _standalone_devices(topo, flt, region_filter))


def _check_mode(mode: Optional[str]) -> None:
    if mode is not None and mode not in NAMESPACE_MODES + DAX_MODES:
        raise UsageError(
            f"unknown mode {mode!r}",
            hint=f"use one of {', '.join(NAMESPACE_MODES + ('system-ram', 'disabled'))}",
        )


def _check_list_objects(topo: Topology, flt: ListFilter, region_filter: Optional[str]) -> None:
    """Every object the filter names must exist (NotFound with suggestions)."""
    if flt.bus and not any(b.name == flt.bus or b.provider == flt.bus for b in topo.buses):
        raise find_object_error("bus", flt.bus, (b.name for b in topo.buses))
    if region_filter and topo.region(region_filter) is None:
        raise find_object_error("region", flt.region or "", (r.name for r in topo.regions))
    if flt.namespace and topo.namespace(flt.namespace) is None:
        raise find_object_error("namespace", flt.namespace, (n.name for n in topo.namespaces))
    if flt.device and topo.dax_device(flt.device) is None:
        raise find_object_error("dax device", flt.device, (d.name for d in topo.dax_devices))


def _device_matches(flt: ListFilter, dev: Optional[DaxDevice]) -> bool:
    if flt.device and (dev is None or dev.name != flt.device):
        return False
    if flt.mode in DAX_MODES and (dev is None or dev.mode.value != flt.mode):
        return False
    return True


def _namespace_matches(flt: ListFilter, ns: Namespace, dev: Optional[DaxDevice]) -> bool:
    if flt.namespace and ns.name != flt.namespace:
        return False
    if flt.mode in NAMESPACE_MODES and ns.mode.value != flt.mode:
        return False
    return _device_matches(flt, dev)


def _region_views(
    topo: Topology, bus: NdBus, flt: ListFilter, region_filter: Optional[str], narrowing: bool
) -> list[RegionView]:
    """The bus's regions the filter keeps, each with its matching namespaces;
    a region left with none is dropped when the filter narrows."""
    regions: list[RegionView] = []
    for rname in bus.regions:
        region = topo.region(rname)
        if region is None or (region_filter and region.name != region_filter):
            continue
        pairs = _namespace_pairs(topo, region, flt)
        if pairs or not narrowing:
            regions.append(RegionView(region, tuple(pairs)))
    return regions


def _namespace_pairs(topo: Topology, region: Region, flt: ListFilter) -> list[tuple[Namespace, Optional[DaxDevice]]]:
    pairs: list[tuple[Namespace, Optional[DaxDevice]]] = []
    for nsname in region.namespaces:
        ns = topo.namespace(nsname)
        if ns is None:
            continue
        dev = topo.dax_device(ns.dax_device) if ns.dax_device else None
        if _namespace_matches(flt, ns, dev):
            pairs.append((ns, dev))
    return pairs


def _standalone_devices(topo: Topology, flt: ListFilter, region_filter: Optional[str]) -> tuple[DaxDevice, ...]:
    """Dax devices with no namespace; a bus, region, namespace or namespace-mode filter excludes them all."""
    if flt.bus or region_filter or flt.namespace or flt.mode in NAMESPACE_MODES:
        return ()
    return tuple(d for d in topo.dax_devices if d.namespace is None and _device_matches(flt, d))


# --------------------------------------------------------------------------
# blocks


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


#: What merged blocks must agree on: state, zones, removable, node, device
#: (None for a column not shown).
_RangeKey = tuple[BlockState, Optional[tuple[str, ...]], Optional[bool], Optional[int], Optional[str]]


def merge_ranges(blocks: Sequence[MemoryBlock], columns: Iterable[str], per_block: bool) -> list[BlockRange]:
    """Merge index-adjacent blocks equal in every shown column (lsmem's rule)."""
    cols = set(columns)
    use_zone = "zone" in cols
    use_rem = "removable" in cols
    use_node = "node" in cols
    use_dev = "device" in cols
    out: list[BlockRange] = []
    first = last = 0
    cur: Optional[_RangeKey] = None
    for b in blocks:
        key: _RangeKey = (
            b.state,
            b.zones if use_zone else None,
            b.removable if use_rem else None,
            b.node if use_node else None,
            b.device if use_dev else None,
        )
        if cur is not None and not per_block and last == b.index - 1 and cur == key:
            last = b.index
            continue
        if cur is not None:
            out.append(BlockRange(first, last, *cur))
        first = last = b.index
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
    """lsmem-like view: ranges merged by state, zone, node and owning device."""
    if state is not None and state not in ("online", "offline", "going-offline"):
        raise UsageError(f"unknown state {state!r}", hint="use online or offline")
    topo = discover(door, with_nd=False, block_fields=_block_fields(columns, device, node))
    block_size = _hotplug_block_size(door, topo)
    if device is not None and topo.dax_device(device) is None:
        raise find_object_error("dax device", device, (d.name for d in topo.dax_devices))
    if node is not None and topo.node(node) is None and node not in {b.node for b in topo.blocks}:
        raise find_object_error("node", str(node), (str(n.id) for n in topo.nodes))
    selected = [
        b
        for b in topo.blocks
        if (device is None or b.device == device)
        and (node is None or b.node == node)
        and (state is None or b.state.value == state)
    ]
    ranges = merge_ranges(selected, columns, per_block)
    return BlocksView(topo, block_size, tuple(columns), tuple(selected), tuple(ranges), per_block)


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


# --------------------------------------------------------------------------
# topology


def node_lists(nodes: Sequence[NumaNode]) -> NodeLists:
    def ids(kind: Optional[NodeKind]) -> str:
        return format_cpulist(
            n.id for n in nodes if (kind is None or n.kind == kind) and (n.blocks_online or n.has_memory)
        )

    return NodeLists(ids(NodeKind.DRAM), ids(NodeKind.PMEM), ids(NodeKind.CXL), ids(None))


def topology_view(door: SysfsRoot) -> TopologyView:
    """Nodes, distances, tiers, HMAT, node kinds and placement hints.

    Where /proc/zoneinfo exists, the view's topology holds only the blocks
    inside dax devices' ranges; boot memory is counted per node, not read."""
    # Zone mix needs the zones of online blocks only; the node directories
    # name the blocks, so /sys/devices/system/memory is never listed.
    topo = discover(door, block_fields=frozenset({"state", "online_zones"}), block_scope="nodes")
    warnings = _tier_warnings(topo) + _movable_only_warnings(topo) + _stranded_warnings(topo)
    return TopologyView(topo, topo.nodes, node_lists(topo.nodes), tuple(warnings), read_weighted_interleave(door))


def _tier_warnings(topo: Topology) -> list[str]:
    """Demotion that cannot happen: one tier for every kind, or demotion off."""
    warnings: list[str] = []
    tiers_with_nodes = [t for t in topo.tiers if t.nodes]
    kinds = {n.kind for n in topo.nodes if n.blocks_online}
    if len(tiers_with_nodes) == 1 and len(kinds) > 1:
        warnings.append(
            f"all memory nodes are in one memory tier (memory_tier{tiers_with_nodes[0].id}): "
            "demotion between DRAM and PMEM/CXL cannot happen"
        )
    if topo.policy.demotion_enabled is False and any(
        n.kind in (NodeKind.PMEM, NodeKind.CXL) and n.blocks_online for n in topo.nodes
    ):
        warnings.append(
            "demotion is disabled (/sys/kernel/mm/numa/demotion_enabled is false): "
            "cold pages will not move from DRAM to slower nodes"
        )
    return warnings


def _movable_only_warnings(topo: Topology) -> list[str]:
    return [
        f"node {n.id} has only ZONE_MOVABLE memory: kernel allocations cannot use it (it serves user pages only)"
        for n in topo.nodes
        if n.kind in (NodeKind.PMEM, NodeKind.CXL) and n.blocks_online and not n.has_normal_memory
    ]


def _stranded_warnings(topo: Topology) -> list[str]:
    warnings: list[str] = []
    online = {b.index for b in topo.blocks if b.online}
    for st in topo.stranded:
        what = f"memory of {st.device} ({st.start:#x}-{st.end:#x})"
        in_use = [i for i in st.blocks if i in online]
        if in_use:
            warnings.append(
                f"{what} is stranded: blocks {format_cpulist(in_use)} are online as System RAM with no kmem "
                "device holding them (a driver was unbound while they were online), and the range stays "
                "claimed until reboot; '"
                + command_line("offline", "--blocks", format_cpulist(in_use), sysroot=topo.sysroot)
                + "' takes them out of use"
            )
        else:
            warnings.append(
                f"{what} stays claimed by kmem until reboot (a driver was unbound while it was "
                "online); it is offline and not in use"
            )
    return warnings
