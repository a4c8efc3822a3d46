"""discover(door) -> Topology: read the kernel's objects into one snapshot.

Readers per kind (nd, dax, memory blocks, nodes, tiers, policy) each return
records; nothing here writes.  Attribute formats are in
../shared/reference/kernel-abi.md §7 (and Documentation/ABI/testing/
sysfs-bus-nd, sysfs-bus-dax, sysfs-devices-memory, sysfs-devices-node).
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Optional, Sequence, TypeVar

from pmemctl.errors import BadAttribute, NotFound
from pmemctl.model.attrs import bus_of as _bus_of
from pmemctl.model.attrs import enabled as _enabled
from pmemctl.model.attrs import node_id as _node_id
from pmemctl.model.attrs import opt as _opt
from pmemctl.model.attrs import opt_int as _opt_int
from pmemctl.model.attrs import opt_str as _opt_str
from pmemctl.model.blocks import MEMORY_LINE_RE, MEMORY_OTHER_SUBDIRS, block_indexes, node_links, read_block_table
from pmemctl.model.nd import read_namespace as _read_namespace
from pmemctl.model.records import (
    AccessClass,
    BlockState,
    DaxDevice,
    DaxMappingRange,
    DaxRegion,
    Dimm,
    MemoryBlock,
    MemoryTier,
    Namespace,
    NdBus,
    NodeKind,
    NumaNode,
    Policy,
    Record,
    Region,
    RegionMapping,
    StrandedMemory,
    Topology,
    dax_ranges,
    kmem_blocks,
    replace,
)
from pmemctl.model.zoneinfo import ZoneInfo, read_zoneinfo
from pmemctl.sysfs import paths
from pmemctl.sysfs.abi import DAX_DEVICE_RE
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import (
    parse_bool01,
    parse_cpulist,
)

T = TypeVar("T")
_set = object.__setattr__  # fills a record's read-only slots in __init__

#: The per-block attributes a caller may ask for ("state" is always read).
#: "online_zones": valid_zones of online blocks only (their zone; what zone
#: ratios need), leaving offline blocks' zones None; "online_removable":
#: likewise removable (what offlining needs), offline blocks' None;
#: "sampled_removable": as "online_removable", read from one block where the
#: kernel shows every block the same (model/blocks.py ``_sample_removable``).
BLOCK_FIELDS = frozenset({"state", "zones", "online_zones", "removable", "online_removable", "node", "device"})

_NODE_DIR_RE = re.compile(r"^node(\d+)$")
_TIER_DIR_RE = re.compile(r"^memory_tier(\d+)$")
_DAX_NAME_RE = DAX_DEVICE_RE
_KB = 1024



# --------------------------------------------------------------------------
# policy


def _parse_cmdline(cmdline: Optional[str]) -> tuple[Optional[str], bool]:
    if not cmdline:
        return None, False
    memhp: Optional[str] = None
    movable_node = False
    for word in cmdline.split():
        if word.startswith("memhp_default_state="):
            memhp = word.split("=", 1)[1]
        elif word == "movable_node":
            movable_node = True
    return memhp, movable_node


#: The smallest memory block any kernel has.  memory_dev_init()
#: (drivers/base/memory.c) panics at boot unless the block size
#: is_power_of_2() and is at least MIN_MEMORY_BLOCK_SIZE, which is one memory
#: section, ``1 << SECTION_SIZE_BITS`` (include/linux/memory.h).  A section is
#: 2**27 = 128 MiB on x86-64, arm64 (4K and 16K pages) and riscv, 2**28 on
#: s390; powerpc's 2**24 = 16 MiB is the smallest of any architecture with
#: memory hotplug, so a tree from any machine passes and nothing smaller does.
MIN_BLOCK_SIZE = 1 << 24

#: ``%lx``: what the kernel prints into block_size_bytes (no ``0x``, no sign).
_BLOCK_SIZE_RE = re.compile(r"^[0-9a-fA-F]{1,16}$")


def block_size_problem(text: str) -> Optional[str]:
    """Why ``text`` is not a block size the kernel could have printed, or None."""
    if not _BLOCK_SIZE_RE.match(text):
        return "it is not a hex number as the kernel prints it"
    value = int(text, 16)
    if value & (value - 1) or value == 0:
        return f"{value:#x} is not a power of two"
    if value < MIN_BLOCK_SIZE:
        return f"{value:#x} is smaller than one memory section"
    return None


def read_block_size(door: SysfsRoot) -> Optional[int]:
    """block_size_bytes, checked as the kernel checks it at boot; None when
    the kernel has no memory blocks (no memory hotplug).

    Everything that turns addresses into block numbers depends on it, so a
    value no kernel could hold (damaged tree, wrong file) is a BadAttribute
    naming the file, never a guess: a wrong block size makes the blocks of a
    dax device look offline and would let kmem be unbound under online memory.
    """
    text = door.read_optional(paths.BLOCK_SIZE_BYTES)
    if text is None:
        return None
    problem = block_size_problem(text)
    if problem is not None:
        raise BadAttribute(
            paths.BLOCK_SIZE_BYTES, text,
            f"a hex number: the memory block size, a power of two of at least "
            f"{MIN_BLOCK_SIZE:x} (16 MiB, one memory section); {problem}",
        )
    return int(text, 16)


def read_policy(door: SysfsRoot, first_block: Optional[int]) -> Policy:
    block_size = read_block_size(door)
    cmdline = door.read_optional(paths.PROC_CMDLINE)
    memhp, movable_node = _parse_cmdline(cmdline)
    demotion = door.read_optional(paths.DEMOTION_ENABLED)
    params = paths.MEMORY_HOTPLUG_PARAMS
    # valid_zones only exists with CONFIG_MEMORY_HOTREMOVE (kernel-abi.md §7.2).
    hotremove: Optional[bool] = None
    if first_block is not None:
        hotremove = door.exists(f"{paths.memory_block(first_block)}/valid_zones")
    return Policy(
        block_size=block_size,
        auto_online_blocks=_opt_str(door, paths.AUTO_ONLINE_BLOCKS),
        memhp_default_state=memhp,
        movable_node=movable_node,
        demotion_enabled=None if demotion is None else demotion.strip() in ("true", "1"),
        online_policy=_opt_str(door, params + "/online_policy"),
        auto_movable_ratio=_opt_int(door, params + "/auto_movable_ratio"),
        memmap_on_memory=_opt_str(door, params + "/memmap_on_memory"),
        kmem_driver=door.is_dir(paths.dax_driver("kmem")),
        device_dax_driver=door.is_dir(paths.dax_driver("device_dax")),
        hotremove=hotremove,
        kernel_cmdline=cmdline.strip() if cmdline else None,
    )


# --------------------------------------------------------------------------
# nd bus: buses, dimms, regions, namespaces


class _NdScan:
    buses: list[NdBus]
    dimms: list[Dimm]
    regions: list[Region]
    namespaces: list[Namespace]
    #: nd dax device path (regionR/daxR.M) -> namespace name, to tie dax bus devices
    nd_dax_owner: dict[str, str]

    __slots__ = ("buses", "dimms", "regions", "namespaces", "nd_dax_owner")

    def __init__(self, buses: list[NdBus], dimms: list[Dimm], regions: list[Region], namespaces: list[Namespace],
                 nd_dax_owner: dict[str, str]) -> None:
        self.buses = buses
        self.dimms = dimms
        self.regions = regions
        self.namespaces = namespaces
        self.nd_dax_owner = nd_dax_owner


def _natural_key(name: str) -> tuple[object, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _read_region_mappings(door: SysfsRoot, rpath: str) -> tuple[RegionMapping, ...]:
    count = _opt_int(door, rpath + "/mappings") or 0
    out: list[RegionMapping] = []
    for i in range(count):
        kpath = f"{rpath}/mapping{i}"
        text = door.read_optional(kpath)
        if text is None:
            continue
        # "nmemN,<dpa offset>,<length>,<position>" (drivers/nvdimm/region_devs.c)
        parts = text.strip().split(",")
        try:
            out.append(RegionMapping(parts[0], int(parts[1], 0), int(parts[2], 0), int(parts[3], 0)))
        except (IndexError, ValueError) as err:
            raise BadAttribute(kpath, text, "nmemN,offset,length,position") from err
    return tuple(out)


def _read_region(door: SysfsRoot, name: str, rpath: str, namespaces: tuple[str, ...]) -> Region:
    devtype = _opt_str(door, rpath + "/devtype")
    size = _opt_int(door, rpath + "/size")
    if size is None:
        raise BadAttribute(rpath + "/size", "", "a region size (attribute missing)")
    read_only = door.read_parsed(rpath + "/read_only", parse_bool01, "0 or 1")
    return Region(
        name=name,
        path=rpath,
        bus=_bus_of(rpath),
        id=int(name[len("region"):]),
        type="volatile" if devtype == "nd_volatile" else "pmem",
        size=size,
        available_size=_opt_int(door, rpath + "/available_size"),
        max_available_extent=_opt_int(door, rpath + "/max_available_extent"),
        align=_opt_int(door, rpath + "/align"),
        numa_node=_node_id(_opt_int(door, rpath + "/numa_node")),
        target_node=_node_id(_opt_int(door, rpath + "/target_node")),
        resource=_opt_int(door, rpath + "/resource"),
        nstype=_opt_int(door, rpath + "/nstype"),
        persistence_domain=_opt_str(door, rpath + "/persistence_domain"),
        read_only=read_only,
        enabled=_enabled(door, rpath),
        mappings=_read_region_mappings(door, rpath),
        namespace_seed=_opt_str(door, rpath + "/namespace_seed"),
        dax_seed=_opt_str(door, rpath + "/dax_seed"),
        pfn_seed=_opt_str(door, rpath + "/pfn_seed"),
        btt_seed=_opt_str(door, rpath + "/btt_seed"),
        namespaces=namespaces,
    )


def read_nd(door: SysfsRoot) -> _NdScan:
    entries = sorted(door.listdir(paths.ND_DEVICES), key=_natural_key)
    resolved = {name: door.resolve(f"{paths.ND_DEVICES}/{name}") for name in entries}
    bus_names = [n for n in entries if n.startswith("ndbus")]
    dimm_names = [n for n in entries if n.startswith("nmem")]
    region_names = [n for n in entries if re.fullmatch(r"region\d+", n)]
    ns_names = [n for n in entries if n.startswith("namespace")]

    dimms: list[Dimm] = []
    for name in dimm_names:
        dpath = resolved[name]
        dimms.append(
            Dimm(
                name=name,
                path=dpath,
                bus=_bus_of(dpath),
                id=_opt_str(door, dpath + "/nfit/id"),
                handle=_opt(door, dpath + "/nfit/handle", lambda t: int(t, 0), "an integer"),
                phys_id=_opt(door, dpath + "/nfit/phys_id", lambda t: int(t, 0), "an integer"),
                state=_opt_str(door, dpath + "/state"),
                security=_opt_str(door, dpath + "/security"),
                enabled=_enabled(door, dpath),
            )
        )

    owner: dict[str, str] = {}
    namespaces: list[Namespace] = []
    ns_by_region: dict[str, list[str]] = {}
    for name in ns_names:
        npath = resolved[name]
        region_path = npath.rsplit("/", 1)[0]
        ns = _read_namespace(door, name, npath, region_path, owner)
        namespaces.append(ns)
        ns_by_region.setdefault(ns.region, []).append(name)

    regions = [
        _read_region(door, name, resolved[name], tuple(ns_by_region.get(name, ())))
        for name in region_names
    ]
    buses: list[NdBus] = []
    for name in bus_names:
        bpath = resolved[name]
        buses.append(
            NdBus(
                name=name,
                path=bpath,
                provider=_opt_str(door, bpath + "/provider"),
                dimms=tuple(d.name for d in dimms if d.bus == name),
                regions=tuple(r.name for r in regions if r.bus == name),
            )
        )
    return _NdScan(buses, dimms, regions, namespaces, owner)


# --------------------------------------------------------------------------
# dax bus


def _dax_source(dpath: str) -> str:
    if "/ndbus" in dpath:
        return "nvdimm"
    if "/cxl" in dpath or "/dax_region" in dpath:
        return "cxl"
    if "hmem" in dpath:
        return "hmem"
    return "unknown"


def _iomem_resources(door: SysfsRoot) -> dict[str, int]:
    """Name → start for /proc/iomem lines, used when dax ``resource`` is unreadable."""
    out: dict[str, int] = {}
    for _depth, start, _end, name in iomem_entries(door.read_optional(paths.PROC_IOMEM)):
        if start:  # without root the kernel shows every address as 0: unknown, not 0
            out.setdefault(name, start)
    return out


def iomem_entries(text: Optional[str]) -> list[tuple[int, int, int, str]]:
    """(depth, start, end inclusive, name) of each /proc/iomem line; a
    resource nests under its parent by two spaces of indent per level
    (kernel/resource.c r_show).  An address that does not parse reads 0, as
    every address does without root."""
    out: list[tuple[int, int, int, str]] = []
    for line in (text or "").splitlines():
        rng, sep, name = line.partition(" : ")
        if not sep:
            continue
        depth = (len(rng) - len(rng.lstrip(" "))) // 2
        try:
            lo, hi = (int(x, 16) for x in rng.strip().split("-", 1))
        except ValueError:
            lo = hi = 0
        out.append((depth, lo, hi, name.strip()))
    return out


def _read_dax_mappings(door: SysfsRoot, dpath: str) -> tuple[DaxMappingRange, ...]:
    out: list[DaxMappingRange] = []
    names = sorted((e for e in door.listdir(dpath) if re.fullmatch(r"mapping\d+", e)), key=_natural_key)
    for entry in names:
        mpath = f"{dpath}/{entry}"
        start = _opt_int(door, mpath + "/start")
        end = _opt_int(door, mpath + "/end")
        if start is None or end is None:
            continue
        out.append(DaxMappingRange(start, end, _opt_int(door, mpath + "/page_offset") or 0))
    return tuple(out)


_IOMEM_SOURCE = (("Persistent Memory", "nvdimm"), ("Soft Reserved", "hmem"), ("CXL Window", "cxl"))


def read_stranded(door: SysfsRoot, devices: list[DaxDevice], blocks: list[MemoryBlock],
                  block_size: Optional[int]) -> list[StrandedMemory]:
    """``System RAM (kmem)`` claims in /proc/iomem whose ``daxX.Y`` is not
    bound to kmem any more: stranded memory (see :class:`StrandedMemory`),
    with the blocks of ``blocks`` inside each."""
    present = {b.index for b in blocks}
    return [
        StrandedMemory(s.device, s.start, s.end, s.source, tuple(i for i in s.blocks if i in present))
        for s in stranded_claims(door, devices, block_size)
    ]


def stranded_claims(door: SysfsRoot, devices: list[DaxDevice], block_size: Optional[int]) -> list[StrandedMemory]:
    """The stranded ``System RAM (kmem)`` claims of /proc/iomem, each with every
    block index its range covers (present or not): discovery reads those
    blocks too, whatever else it skips (they belong to no dax device now).

    /proc/iomem nests a resource under its parent by two spaces of indent;
    without root its addresses read as zeros, and nothing is reported."""
    held = {d.name for d in devices if d.driver == "kmem"}
    out: list[StrandedMemory] = []
    stack: list[tuple[int, str]] = []  # (depth, name) of the enclosing resources
    for depth, lo, hi, name in iomem_entries(door.read_optional(paths.PROC_IOMEM)):
        del stack[depth:]
        if name == "System RAM (kmem)" and stack and _DAX_NAME_RE.match(stack[-1][1]) and stack[-1][1] not in held:
            if hi > 0:
                top = stack[0][1]
                source = next((src for label, src in _IOMEM_SOURCE if top.startswith(label)), "unknown")
                claimed = kmem_blocks([(lo, hi + 1)], block_size) if block_size else []  # no block size: unknown
                out.append(StrandedMemory(stack[-1][1], lo, hi, source, tuple(claimed)))
        stack.append((depth, name))
    return out


def read_dax_ranges(door: SysfsRoot, name: str) -> tuple[tuple[int, int], ...]:
    """One dax device's physical ranges, read now (start, end-exclusive):
    for checks made while a plan runs, when the snapshot may be stale."""
    dpath = f"{paths.DAX_DEVICES}/{name}"
    return dax_ranges(_read_dax_mappings(door, dpath), _opt_int(door, dpath + "/resource"),
                      _opt_int(door, dpath + "/size"))


def read_dax(door: SysfsRoot, nd_dax_owner: dict[str, str]) -> tuple[list[DaxRegion], list[DaxDevice]]:
    names = sorted(
        (n for n in door.listdir(paths.DAX_DEVICES) if _DAX_NAME_RE.match(n)), key=_natural_key
    )
    iomem: Optional[dict[str, int]] = None
    devices: list[DaxDevice] = []
    regions: dict[str, DaxRegion] = {}
    region_devices: dict[str, list[str]] = {}
    for name in names:
        dpath = door.resolve(f"{paths.DAX_DEVICES}/{name}")
        parent = dpath.rsplit("/", 1)[0]
        size = _opt_int(door, dpath + "/size")
        if size is None:
            raise BadAttribute(dpath + "/size", "", "a dax device size (attribute missing)")
        resource = _opt_int(door, dpath + "/resource")
        if resource is None:
            # resource is 0400 (root only); daxctl falls back to /proc/iomem.
            if iomem is None:
                iomem = _iomem_resources(door)
            resource = iomem.get(name)
        region_id: Optional[int] = _opt_int(door, parent + "/dax_region/id")
        if parent not in regions:
            dyn = door.exists(parent + "/dax_region/create")
            regions[parent] = DaxRegion(
                id=region_id if region_id is not None else int(_DAX_NAME_RE.match(name).group(1)),  # type: ignore[union-attr]
                path=parent,
                size=_opt_int(door, parent + "/dax_region/size"),
                align=_opt_int(door, parent + "/dax_region/align"),
                available_size=_opt_int(door, parent + "/dax_region/available_size") if dyn else None,
                dynamic=dyn,
                devices=(),
            )
        region_devices.setdefault(parent, []).append(name)
        memmap = door.read_optional(dpath + "/memmap_on_memory")
        devices.append(
            DaxDevice(
                name=name,
                path=dpath,
                region_id=region_id,
                region_path=parent,
                size=size,
                resource=resource,
                align=_opt_int(door, dpath + "/align"),
                target_node=_node_id(_opt_int(door, dpath + "/target_node")),
                numa_node=_node_id(_opt_int(door, dpath + "/numa_node")),
                driver=door.link_basename(dpath + "/driver"),
                dev=_opt_str(door, dpath + "/dev"),
                source=_dax_source(dpath),
                namespace=nd_dax_owner.get(parent),
                mappings=_read_dax_mappings(door, dpath),
                memmap_on_memory=None if memmap is None else memmap.strip() in ("1", "Y", "y"),
                blocks=(),
            )
        )
    region_list = [
        DaxRegion(r.id, r.path, r.size, r.align, r.available_size, r.dynamic, tuple(region_devices[p]))
        for p, r in regions.items()
    ]
    return region_list, devices


# --------------------------------------------------------------------------
# memory blocks


def node_ids(door: SysfsRoot) -> list[int]:
    out = []
    for entry in door.listdir(paths.NODE):
        m = _NODE_DIR_RE.match(entry)
        if m:
            out.append(int(m.group(1)))
    out.sort()
    return out


def read_blocks(
    door: SysfsRoot,
    indexes: list[int],
    block_size: Optional[int],
    devices: list[DaxDevice],
    nodes: list[int],
    fields: frozenset[str] = BLOCK_FIELDS,
    node_links: Optional[dict[int, int]] = None,
    detail_device: Optional[str] = None,
    zone_info: Optional[ZoneInfo] = None,
) -> list[MemoryBlock]:
    """Read the blocks ``indexes`` (a vanished one is left out) as records.
    ``node_links``: block → node already read from the node directories (else
    listed here).  ``detail_device``: the attributes other than state are read
    only for that dax device's blocks.  The walk itself is
    :func:`pmemctl.model.blocks.read_block_table`."""
    return read_block_table(door, indexes, block_size, devices, nodes, fields, node_links,
                            detail_device=detail_device, zone_info=zone_info).records()


# --------------------------------------------------------------------------
# nodes and tiers


def read_tiers(door: SysfsRoot) -> list[MemoryTier]:
    tiers = []
    for entry in door.listdir(paths.MEMORY_TIERING):
        m = _TIER_DIR_RE.match(entry)
        if not m:
            continue
        tpath = f"{paths.MEMORY_TIERING}/{entry}"
        nodes = _opt(door, tpath + "/nodelist", parse_cpulist, "a node list") or ()
        tiers.append(MemoryTier(int(m.group(1)), tpath, nodes))
    tiers.sort(key=lambda t: t.id)
    return tiers


def _parse_meminfo(text: str) -> dict[str, int]:
    """``Node 0 MemTotal:        6777044 kB`` lines → {key: bytes}."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "Node":
            key = parts[2].rstrip(":")
            scale = _KB if len(parts) >= 5 and parts[4] == "kB" else 1
            out[key] = int(parts[3]) * scale
    return out


def _read_access(door: SysfsRoot, npath: str, cls: str) -> Optional[AccessClass]:
    ipath = f"{npath}/{cls}/initiators"
    if not door.is_dir(ipath):
        return None
    initiators = tuple(
        sorted(int(m.group(1)) for e in door.listdir(ipath) if (m := _NODE_DIR_RE.match(e)))
    )
    return AccessClass(
        initiators=initiators,
        read_latency=_opt_int(door, ipath + "/read_latency"),
        write_latency=_opt_int(door, ipath + "/write_latency"),
        read_bandwidth=_opt_int(door, ipath + "/read_bandwidth"),
        write_bandwidth=_opt_int(door, ipath + "/write_bandwidth"),
    )


def _classify(
    nid: int,
    cpus: tuple[int, ...],
    node_blocks: list[MemoryBlock],
    backing: list[DaxDevice],
    tier: Optional[int],
    access0: Optional[AccessClass],
    stranded: Sequence[StrandedMemory] = (),
    boot_count: int = 0,
) -> tuple[NodeKind, tuple[str, ...]]:
    """DRAM / PMEM / CXL / unknown, with the evidence.  The kernel does not
    label nodes (hwloc#498), so this is inferred from who owns the memory
    (stranded kmem memory still counts as its device's kind)."""
    evidence: list[str] = []
    stranded_of = {i: s for s in stranded for i in s.blocks}
    boot = boot_count + sum(1 for b in node_blocks if b.device is None and b.index not in stranded_of)
    here = {stranded_of[b.index].device: stranded_of[b.index] for b in node_blocks if b.index in stranded_of}
    for s in here.values():
        evidence.append(f"{len(s.blocks)} memory block(s) stranded from {s.device} (System RAM (kmem) in "
                        "/proc/iomem, no longer held by kmem)")
    kmem_devs = [d for d in backing if d.driver == "kmem"]
    if cpus:
        evidence.append(f"has CPUs {','.join(map(str, cpus[:8]))}{'...' if len(cpus) > 8 else ''}")
    if boot:
        evidence.append(f"{boot} memory block(s) not owned by any dax device (boot memory)")
    for dev in kmem_devs:
        origin = f"namespace {dev.namespace}" if dev.namespace else f"{dev.source} memory"
        evidence.append(f"{dev.name} ({origin}) is bound to kmem and hot-adds memory here")
    for dev in backing:
        if dev.driver != "kmem":
            evidence.append(f"{dev.name} targets this node but is in {dev.mode.value} mode")
    if tier is not None:
        evidence.append(f"in memory_tier{tier}")
    if access0 is not None and access0.read_latency is not None:
        evidence.append(f"HMAT read latency {access0.read_latency} ns")
    if boot or (cpus and not kmem_devs and not here):
        return NodeKind.DRAM, tuple(evidence)
    sources = ({d.source for d in kmem_devs} | {s.source for s in here.values()}) or {d.source for d in backing}
    if sources == {"nvdimm"}:
        return NodeKind.PMEM, tuple(evidence)
    if sources and sources <= {"cxl", "hmem"}:
        return NodeKind.CXL, tuple(evidence)
    return NodeKind.UNKNOWN, tuple(evidence)


def read_nodes(
    door: SysfsRoot,
    ids: list[int],
    blocks: list[MemoryBlock],
    devices: list[DaxDevice],
    tiers: list[MemoryTier],
    blocks_read: bool,
    stranded: Sequence[StrandedMemory] = (),
    boot: Optional[Mapping[int, BootMemory]] = None,
) -> list[NumaNode]:
    """The nodes; ``boot``: boot memory per node summed from /proc/zoneinfo
    (its blocks are then not in ``blocks``)."""
    online = _opt(door, paths.NODE + "/online", parse_cpulist, "a node list") or tuple(ids)
    has_memory = set(_opt(door, paths.NODE + "/has_memory", parse_cpulist, "a node list") or ())
    has_normal = set(_opt(door, paths.NODE + "/has_normal_memory", parse_cpulist, "a node list") or ())
    tier_of = {n: t.id for t in tiers for n in t.nodes}
    by_node: dict[int, list[MemoryBlock]] = {}
    for b in blocks:
        if b.node is not None:
            by_node.setdefault(b.node, []).append(b)
    out: list[NumaNode] = []
    for nid in ids:
        npath = paths.node_dir(nid)
        cpus = _opt(door, npath + "/cpulist", parse_cpulist, "a cpu list") or ()
        meminfo_text = door.read_optional(npath + "/meminfo")
        meminfo = _parse_meminfo(meminfo_text) if meminfo_text else {}
        dist_text = door.read_optional(npath + "/distance")
        distances: dict[int, int] = {}
        if dist_text:
            values = dist_text.split()
            try:
                # One value per *online* node, in node order (drivers/base/node.c);
                # a count that disagrees is read as far as both go.
                distances = {n: int(v) for n, v in zip(online, values, strict=False)}
            except ValueError as err:
                raise BadAttribute(npath + "/distance", dist_text, "integers") from err
        node_blocks = by_node.get(nid, [])
        zone_blocks: dict[str, int] = {}
        online_count = 0
        for b in node_blocks:
            if b.state == BlockState.ONLINE:
                online_count += 1
                if b.zones:
                    zone_blocks[b.zones[0]] = zone_blocks.get(b.zones[0], 0) + 1
        own_boot = (boot or {}).get(nid, _NO_BOOT)
        online_count += own_boot.online
        for zone, count in own_boot.zones.items():
            zone_blocks[zone] = zone_blocks.get(zone, 0) + count
        # one pass over the node's blocks, not one per device (devices x blocks)
        holders = {b.device for b in node_blocks if b.device is not None}
        backing = [d for d in devices if d.target_node == nid or d.name in holders]
        access0 = _read_access(door, npath, "access0")
        access1 = _read_access(door, npath, "access1")
        kind, evidence = _classify(nid, cpus, node_blocks, backing, tier_of.get(nid), access0, stranded,
                                   own_boot.total - own_boot.devices)
        out.append(
            NumaNode(
                id=nid,
                path=npath,
                cpus=cpus,
                mem_total=meminfo.get("MemTotal"),
                mem_free=meminfo.get("MemFree"),
                distances=distances,
                access0=access0,
                access1=access1,
                memory_tier=tier_of.get(nid),
                blocks_total=len(node_blocks) + own_boot.total,
                blocks_online=online_count,
                zone_blocks=dict(sorted(zone_blocks.items())),
                dax_devices=tuple(d.name for d in backing),
                has_memory=nid in has_memory,
                has_normal_memory=nid in has_normal,
                kind=kind,
                evidence=evidence,
            )
        )
    return out


# --------------------------------------------------------------------------
# entry point


class BootMemory(Record):
    """One node's memory blocks that were not read, counted without reading
    them: ``total`` from the node directory, ``online`` and the zone mix from
    /proc/zoneinfo.  They are boot memory (outside every dax device's
    ranges), except ``devices`` of them: blocks of dax devices a discovery
    limited to one device (``only_device``) left unread."""

    total: int
    online: int
    zones: Mapping[str, int]
    devices: int

    __slots__ = ("total", "online", "zones", "devices")
    _fields = __slots__

    def __init__(self, total: int, online: int, zones: Mapping[str, int], devices: int = 0) -> None:
        _set(self, "total", total)
        _set(self, "online", online)
        _set(self, "zones", zones)
        _set(self, "devices", devices)


_NO_BOOT = BootMemory(0, 0, {})


def boot_memory(zoneinfo: Mapping[int, Mapping[str, int]], totals: Mapping[int, int],
                blocks: Iterable[MemoryBlock], block_size: int,
                unread_devices: Optional[Mapping[int, int]] = None) -> dict[int, BootMemory]:
    """Each node's memory not read (``totals``: its blocks outside the
    ranges read; ``unread_devices``: how many of them are dax devices' blocks
    left unread): the zone's present bytes less the device blocks read online
    in it.  A zone counts the blocks wholly inside it (a block spanning two
    zones reads ``none``, and has no zone); online counts every block with
    any present page."""
    present = {nid: dict(zones) for nid, zones in zoneinfo.items()}
    for b in blocks:
        if b.online and b.zones and b.node is not None and b.node in present:
            zone = present[b.node]
            zone[b.zones[0]] = zone.get(b.zones[0], 0) - block_size
    out: dict[int, BootMemory] = {}
    for nid, total in totals.items():
        zones = {z: n for z, n in present.get(nid, {}).items() if n > 0} if total else {}
        online = min(total, -(-sum(zones.values()) // block_size))
        out[nid] = BootMemory(total, online, {z: n // block_size for z, n in zones.items() if n >= block_size},
                              (unread_devices or {}).get(nid, 0))
    return out


#: Which memory blocks :func:`discover` reads (see its docstring).
BLOCK_SCOPES = ("all", "nodes", "devices")


def device_block_indexes(door: SysfsRoot, devices: Iterable[DaxDevice], block_size: Optional[int]) -> list[int]:
    """The block indexes inside dax devices' ranges that can exist: every
    range of a device bound to kmem, and the ranges of other devices whose
    first block exists (memory kmem left behind when it was unbound: kmem
    adds and removes memory a whole range at a time)."""
    if not block_size:
        return []
    out: set[int] = set()
    for dev in devices:
        for lo, hi in dev.ranges():
            idx = kmem_blocks([(lo, hi)], block_size)
            if idx and (dev.driver == "kmem" or door.exists(paths.memory_block(idx[0]))):
                out.update(idx)
    return sorted(out)


def node_block_indexes(door: SysfsRoot, nodes: Iterable[int]) -> list[int]:
    """The block indexes the node directories link, sorted."""
    return sorted(node_links(door, nodes))


class _Scope:
    """What :func:`discover` reads of the blocks, decided before reading them."""

    indexes: list[int]
    links: Optional[dict[int, int]]  # block → node, when the node directories were listed
    boot_totals: Optional[dict[int, int]]  # node → its blocks outside dax devices' ranges
    any_block: Optional[int]  # some block that exists
    unread_devices: dict[int, int]  # node → blocks of dax devices left unread (``only_device``)
    zone_info: Optional[ZoneInfo]  # set: boot memory comes from its present bytes; its spans name zones

    __slots__ = ("indexes", "links", "boot_totals", "any_block", "unread_devices", "zone_info")

    def __init__(self, indexes: list[int], links: Optional[dict[int, int]] = None,
                 zone_info: Optional[ZoneInfo] = None, boot_totals: Optional[dict[int, int]] = None,
                 any_block: Optional[int] = None, unread_devices: Optional[dict[int, int]] = None) -> None:
        self.indexes = indexes
        self.links = links
        self.zone_info = zone_info
        self.boot_totals = boot_totals
        self.any_block = any_block
        self.unread_devices = unread_devices or {}




def _block_scope(door: SysfsRoot, scope: str, devices: list[DaxDevice], nids: list[int],
                 only_device: Optional[str] = None) -> _Scope:
    """Block indexes to read for ``scope`` (see :func:`discover`)."""
    if scope == "all":
        return _Scope(block_indexes(door))
    block_size = read_block_size(door)
    # the dax devices' blocks, and those of memory stranded from a device
    # that no longer holds it (a kmem claim left in /proc/iomem)
    stranded = [s.blocks for s in stranded_claims(door, devices, block_size)
                if s.blocks and door.exists(paths.memory_block(s.blocks[0]))]
    chosen = devices if only_device is None else [d for d in devices if d.name == only_device]
    others = [] if only_device is None else [d for d in devices if d.name != only_device]
    owned = sorted(set(device_block_indexes(door, chosen, block_size)).union(*stranded))
    if scope == "devices":
        return _Scope(owned)
    zone_info = read_zoneinfo(door) if block_size else None
    if zone_info is not None and block_size:
        if not owned and not others:
            counted = _boot_counts_without_listing(door, zone_info.present, nids, block_size)
            if counted is not None:
                return _Scope([], {}, zone_info, counted, 0)
        unread = sorted(set(device_block_indexes(door, others, block_size)).difference(owned))
        read_scope = _zoneinfo_scope(door, zone_info, owned, nids, unread)
        if only_device is not None and read_scope.links is not None and len(read_scope.links) < len(owned):
            # a block of the device no node directory links (the kernel links
            # every one; a tree may not): a change must not skip it, so read them all
            return _Scope(block_indexes(door))
        return read_scope
    if only_device is not None:  # without zoneinfo, node figures need every block
        return _Scope(block_indexes(door))
    links = node_links(door, nids)
    if not links:  # a kernel without the nodeK/memoryN links
        return _Scope(block_indexes(door))
    return _Scope(sorted(links), links)




def _boot_counts_without_listing(door: SysfsRoot, zoneinfo: Mapping[int, Mapping[str, int]], nids: list[int],
                                 block_size: int) -> Optional[dict[int, int]]:
    """Each node's blocks when no dax device holds any and every block is
    online, known without listing a directory of blocks: the blocks counted
    from the link count of /sys/devices/system/memory (one per memoryN
    subdirectory; from /proc/iomem where that count is missing) equal the
    online blocks zoneinfo's present pages make.
    None when they differ (offline memory: the node directories must say
    whose) or either cannot be counted, or memory0 is absent."""
    if not door.exists(paths.memory_block(0)):
        return None
    subdirs = door.subdir_count(paths.MEMORY)
    if subdirs is not None:
        blocks: Optional[int] = subdirs - sum(door.exists(f"{paths.MEMORY}/{d}") for d in MEMORY_OTHER_SUBDIRS)
    else:
        blocks = _boot_ram_block_count(door, block_size)
    if blocks is None:
        return None
    online = {nid: -(-sum(zoneinfo.get(nid, {}).values()) // block_size) for nid in nids}
    return online if sum(online.values()) == blocks else None


def _boot_ram_block_count(door: SysfsRoot, block_size: int) -> Optional[int]:
    """The memory blocks boot RAM makes, counted from /proc/iomem where the
    directory's link count says nothing (a tree stored on ext4, which stops
    counting past 65,000 subdirectories, or btrfs): one block for every
    block-sized piece touched by a top-level ``System RAM`` resource.  The
    kernel registers that resource when the memory is added and keeps it
    while its blocks are offline (kernel/resource.c, mm/memory_hotplug.c),
    so an offline block is counted here but not in zoneinfo and the caller's
    comparison fails safe.  None when iomem is absent or zeroed (not root),
    or the highest block it implies has no directory."""
    spans: list[tuple[int, int]] = []
    for depth, lo, hi, name in iomem_entries(door.read_optional(paths.PROC_IOMEM)):
        if depth or name != "System RAM":
            continue
        if hi <= lo:  # zeroed addresses (read without root), or unreadable ones
            return None
        spans.append((lo // block_size, hi // block_size))
    if not spans:
        return None
    count, last = 0, -1
    for first, final in sorted(spans):
        first = max(first, last + 1)
        if final >= first:
            count += final - first + 1
            last = final
    return count if door.exists(paths.memory_block(last)) else None


def _zoneinfo_scope(door: SysfsRoot, zone_info: ZoneInfo, owned: list[int],
                    nids: list[int], unread: Sequence[int] = ()) -> _Scope:
    """Read only the blocks ``owned`` (dax devices'); count each node's
    others from its listing (a readdir, and a count in C: nothing per block
    in Python), and which of them are the ``unread`` dax devices' blocks."""
    links: dict[int, int] = {}
    counts: dict[int, int] = {}
    unread_devices: dict[int, int] = {}
    any_block: Optional[int] = None
    for nid in nids:
        text = "\n".join(door.listdir(paths.node_dir(nid)))
        found = MEMORY_LINE_RE.findall(text)
        counts[nid] = len(found)
        if found and any_block is None:
            any_block = int(found[0])
        if found and (owned or unread):
            names = set(found)
            links.update((i, nid) for i in owned if str(i) in names)
            if unread:
                unread_devices[nid] = len(names.intersection(map(str, unread)))
    if any_block is None:  # a kernel without the nodeK/memoryN links
        return _Scope(block_indexes(door))
    for nid in links.values():
        counts[nid] -= 1
    return _Scope(sorted(links), links, zone_info, counts, any_block, unread_devices)


def _first_block(door: SysfsRoot, scope: _Scope, name: str) -> Optional[int]:
    """A block whose directory tells whether valid_zones exists (any block does)."""
    if scope.any_block is not None:
        return scope.any_block
    if scope.links:
        return min(scope.links)
    if name == "all":
        return scope.indexes[0] if scope.indexes else None
    if door.exists(paths.memory_block(0)):
        return 0
    found = next((i for i in scope.indexes if door.exists(paths.memory_block(i))), None)
    if found is None:
        found = next(iter(node_block_indexes(door, node_ids(door))), None)
    return found


def discover(
    door: SysfsRoot,
    *,
    with_nd: bool = True,
    with_blocks: bool = True,
    block_fields: frozenset[str] = BLOCK_FIELDS,
    block_scope: str = "all",
    detail_device: Optional[str] = None,
    only_device: Optional[str] = None,
) -> Topology:
    """Read the whole machine (or the parts asked for) into a Topology.

    ``block_fields`` limits the per-block reads to what a view needs; state is
    always read.  ``block_scope`` limits which blocks are read:

    * ``all``: every memoryN;
    * ``nodes``: the blocks the node directories link, found without listing
      /sys/devices/system/memory.  Where /proc/zoneinfo exists only the blocks
      inside dax devices' ranges are read, and each node's boot memory is
      counted from zoneinfo (:func:`boot_memory`; those blocks are then not in
      ``Topology.blocks``).  A kernel without the node links falls back to ``all``;
    * ``devices``: only blocks inside dax devices' ranges (boot memory is left
      out, and so are the blocks' nodes unless asked for).

    ``detail_device``: a dax device whose blocks alone get the fields other
    than state (a change of that device needs no more); a name that is no
    dax device's reads them for every block.

    ``only_device`` (with ``nodes``): of the dax devices, only this one's
    blocks are read (a change of that device; issue 14: its cost no longer
    grows with the other devices' blocks).  The others' ``blocks`` are then
    empty, and their memory is counted in the node figures from zoneinfo
    with the boot memory (:class:`BootMemory` ``devices``).  Without
    zoneinfo every block is read; a name that is no dax device's reads every
    device's blocks.

    Raises NotASysfsTree when the sysroot has no /sys/devices.
    """
    door.require_sysfs()
    if block_scope not in BLOCK_SCOPES:
        raise ValueError(f"block_scope must be one of {BLOCK_SCOPES}")
    nd = read_nd(door) if with_nd else _NdScan([], [], [], [], {})
    dax_regions, devices = read_dax(door, nd.nd_dax_owner)
    nids = node_ids(door)
    if only_device is not None and not any(d.name == only_device for d in devices):
        only_device = None
    scope = _block_scope(door, block_scope, devices, nids, only_device) if with_blocks else _Scope([])
    policy = read_policy(door, _first_block(door, scope, block_scope) if with_blocks else None)
    forced = frozenset({"device"} if block_scope == "devices" else {"device", "node"})
    blocks = (
        read_blocks(door, scope.indexes, policy.block_size, devices, nids, block_fields | forced, scope.links,
                    detail_device, scope.zone_info)
        if with_blocks
        else []
    )
    if blocks:
        owned: dict[str, list[int]] = {}
        for b in blocks:
            if b.device is not None:
                owned.setdefault(b.device, []).append(b.index)
        devices = [
            _replace_blocks(d, tuple(owned.get(d.name, ()))) for d in devices
        ]
    tiers = read_tiers(door)
    stranded = read_stranded(door, devices, blocks, policy.block_size) if with_blocks else []
    boot = None
    if scope.zone_info is not None and scope.boot_totals is not None and policy.block_size:
        boot = boot_memory(scope.zone_info.present, scope.boot_totals, blocks, policy.block_size, scope.unread_devices)
    nodes = read_nodes(door, nids, blocks, devices, tiers, with_blocks, stranded, boot)
    possible = _opt(door, paths.NODE + "/possible", parse_cpulist, "a node list") or tuple(nids)
    return Topology(
        sysroot=door.root,
        policy=policy,
        buses=tuple(nd.buses),
        dimms=tuple(nd.dimms),
        regions=tuple(nd.regions),
        namespaces=tuple(nd.namespaces),
        dax_regions=tuple(dax_regions),
        dax_devices=tuple(devices),
        blocks=tuple(blocks),
        nodes=tuple(nodes),
        tiers=tuple(tiers),
        possible_nodes=possible,
        stranded=tuple(stranded),
    )


def _replace_blocks(dev: DaxDevice, blocks: tuple[int, ...]) -> DaxDevice:
    return replace(dev, blocks=blocks)


def find_object_error(kind: str, name: str, known: Iterable[str]) -> NotFound:
    """A NotFound naming the object and what exists instead."""
    names = sorted(known, key=_natural_key)
    listing = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "") if names else "none"
    return NotFound(f"no {kind} named {name!r}", hint=f"known: {listing}")
