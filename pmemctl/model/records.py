"""Immutable records of kernel objects: one discovery = one consistent snapshot.

Every field an older kernel may lack is Optional and None when absent.  Sizes
and addresses are raw integers (bytes).  Each record carries its kernel path
(``path``) so plans and messages can name it.
"""

from __future__ import annotations

from enum import Enum
from typing import Iterable, Mapping, Optional

from pmemctl.immutable import FrozenRecordError as FrozenRecordError
from pmemctl.immutable import Record as Record
from pmemctl.immutable import replace as replace

_set = object.__setattr__  # fills a record's read-only slots in __init__


class BlockState(str, Enum):
    ONLINE = "online"
    OFFLINE = "offline"
    GOING_OFFLINE = "going-offline"  # transient (drivers/base/memory.c)
    UNKNOWN = "unknown"


class DaxMode(str, Enum):
    DEVDAX = "devdax"  # bound to device_dax: /dev/daxX.Y usable
    SYSTEM_RAM = "system-ram"  # bound to kmem: memory blocks hot-added
    DISABLED = "disabled"  # bound to no driver


class NamespaceMode(str, Enum):
    RAW = "raw"
    SECTOR = "sector"  # btt ("safe")
    FSDAX = "fsdax"  # pfn ("memory")
    DEVDAX = "devdax"  # dax ("dax")


class NodeKind(str, Enum):
    DRAM = "dram"
    PMEM = "pmem"  # memory hot-added by kmem from an NVDIMM namespace
    CXL = "cxl"  # memory hot-added by kmem from CXL or soft-reserved (hmem) memory
    UNKNOWN = "unknown"


class NdBus(Record):
    name: str  # ndbus0
    path: str
    provider: Optional[str]  # ACPI.NFIT, e820, nfit_test.0, of_pmem
    dimms: tuple[str, ...]
    regions: tuple[str, ...]

    __slots__ = ("name", "path", "provider", "dimms", "regions")
    _fields = __slots__

    def __init__(
        self,
        name: str,
        path: str,
        provider: Optional[str],
        dimms: tuple[str, ...],
        regions: tuple[str, ...],
    ) -> None:
        _set(self, "name", name)
        _set(self, "path", path)
        _set(self, "provider", provider)
        _set(self, "dimms", dimms)
        _set(self, "regions", regions)


class Dimm(Record):
    name: str  # nmem0
    path: str
    bus: str
    id: Optional[str]  # nfit/id
    handle: Optional[int]
    phys_id: Optional[int]
    state: Optional[str]  # idle / active
    security: Optional[str]
    enabled: bool  # driver link present

    __slots__ = ("name", "path", "bus", "id", "handle", "phys_id", "state", "security", "enabled")
    _fields = __slots__

    def __init__(
        self,
        name: str,
        path: str,
        bus: str,
        id: Optional[str],
        handle: Optional[int],
        phys_id: Optional[int],
        state: Optional[str],
        security: Optional[str],
        enabled: bool,
    ) -> None:
        _set(self, "name", name)
        _set(self, "path", path)
        _set(self, "bus", bus)
        _set(self, "id", id)
        _set(self, "handle", handle)
        _set(self, "phys_id", phys_id)
        _set(self, "state", state)
        _set(self, "security", security)
        _set(self, "enabled", enabled)


class RegionMapping(Record):
    dimm: str
    offset: int  # DPA offset
    length: int
    position: int

    __slots__ = ("dimm", "offset", "length", "position")
    _fields = __slots__

    def __init__(self, dimm: str, offset: int, length: int, position: int) -> None:
        _set(self, "dimm", dimm)
        _set(self, "offset", offset)
        _set(self, "length", length)
        _set(self, "position", position)


class Region(Record):
    name: str  # region0
    path: str
    bus: str
    id: int
    type: str  # "pmem" (nd_pmem) or "volatile" (nd_volatile)
    size: int
    available_size: Optional[int]
    max_available_extent: Optional[int]
    align: Optional[int]
    numa_node: Optional[int]
    target_node: Optional[int]
    resource: Optional[int]
    nstype: Optional[int]  # 4 label-less io, 5 labelled pmem
    persistence_domain: Optional[str]
    read_only: Optional[bool]
    enabled: bool
    mappings: tuple[RegionMapping, ...]
    namespace_seed: Optional[str]
    dax_seed: Optional[str]
    pfn_seed: Optional[str]
    btt_seed: Optional[str]
    namespaces: tuple[str, ...]

    __slots__ = (
        "name", "path", "bus", "id", "type", "size", "available_size", "max_available_extent", "align", "numa_node",
        "target_node", "resource", "nstype", "persistence_domain", "read_only", "enabled", "mappings", "namespace_seed",
        "dax_seed", "pfn_seed", "btt_seed", "namespaces",
    )
    _fields = __slots__

    def __init__(
        self,
        name: str,
        path: str,
        bus: str,
        id: int,
        type: str,
        size: int,
        available_size: Optional[int],
        max_available_extent: Optional[int],
        align: Optional[int],
        numa_node: Optional[int],
        target_node: Optional[int],
        resource: Optional[int],
        nstype: Optional[int],
        persistence_domain: Optional[str],
        read_only: Optional[bool],
        enabled: bool,
        mappings: tuple[RegionMapping, ...],
        namespace_seed: Optional[str],
        dax_seed: Optional[str],
        pfn_seed: Optional[str],
        btt_seed: Optional[str],
        namespaces: tuple[str, ...],
    ) -> None:
        _set(self, "name", name)
        _set(self, "path", path)
        _set(self, "bus", bus)
        _set(self, "id", id)
        _set(self, "type", type)
        _set(self, "size", size)
        _set(self, "available_size", available_size)
        _set(self, "max_available_extent", max_available_extent)
        _set(self, "align", align)
        _set(self, "numa_node", numa_node)
        _set(self, "target_node", target_node)
        _set(self, "resource", resource)
        _set(self, "nstype", nstype)
        _set(self, "persistence_domain", persistence_domain)
        _set(self, "read_only", read_only)
        _set(self, "enabled", enabled)
        _set(self, "mappings", mappings)
        _set(self, "namespace_seed", namespace_seed)
        _set(self, "dax_seed", dax_seed)
        _set(self, "pfn_seed", pfn_seed)
        _set(self, "btt_seed", btt_seed)
        _set(self, "namespaces", namespaces)


class Namespace(Record):
    name: str  # namespace0.0
    path: str
    region: str
    bus: str
    mode: NamespaceMode
    size: int  # raw namespace size (the kernel's namespace size attribute)
    usable_size: Optional[int]  # pfn/dax/btt size after the info block (what ndctl shows)
    uuid: Optional[str]  # the namespace (label) uuid: ndctl's raw_uuid
    holder_uuid: Optional[str]  # the pfn/dax/btt info-block uuid: ndctl's uuid
    alt_name: Optional[str]
    holder: Optional[str]  # pfnX.Y / daxX.Y / bttX.Y claiming it
    blockdev: Optional[str]  # pmem0, pmem0.1, pmem0s
    sector_size: Optional[int]
    align: Optional[int]
    enabled: bool
    resource: Optional[int]
    numa_node: Optional[int]
    target_node: Optional[int]
    nstype: Optional[int]
    dax_device: Optional[str]  # dax bus device name (dax0.0) when devdax

    __slots__ = (
        "name", "path", "region", "bus", "mode", "size", "usable_size", "uuid", "holder_uuid", "alt_name", "holder",
        "blockdev", "sector_size", "align", "enabled", "resource", "numa_node", "target_node", "nstype", "dax_device",
    )
    _fields = __slots__

    def __init__(
        self,
        name: str,
        path: str,
        region: str,
        bus: str,
        mode: NamespaceMode,
        size: int,
        usable_size: Optional[int],
        uuid: Optional[str],
        holder_uuid: Optional[str],
        alt_name: Optional[str],
        holder: Optional[str],
        blockdev: Optional[str],
        sector_size: Optional[int],
        align: Optional[int],
        enabled: bool,
        resource: Optional[int],
        numa_node: Optional[int],
        target_node: Optional[int],
        nstype: Optional[int],
        dax_device: Optional[str],
    ) -> None:
        _set(self, "name", name)
        _set(self, "path", path)
        _set(self, "region", region)
        _set(self, "bus", bus)
        _set(self, "mode", mode)
        _set(self, "size", size)
        _set(self, "usable_size", usable_size)
        _set(self, "uuid", uuid)
        _set(self, "holder_uuid", holder_uuid)
        _set(self, "alt_name", alt_name)
        _set(self, "holder", holder)
        _set(self, "blockdev", blockdev)
        _set(self, "sector_size", sector_size)
        _set(self, "align", align)
        _set(self, "enabled", enabled)
        _set(self, "resource", resource)
        _set(self, "numa_node", numa_node)
        _set(self, "target_node", target_node)
        _set(self, "nstype", nstype)
        _set(self, "dax_device", dax_device)

    @property
    def is_seed_idle(self) -> bool:
        """An unconfigured seed namespace (size 0, not enabled)."""
        return self.size == 0 and not self.enabled

    @property
    def holder_bound(self) -> bool:
        """Its pfn/dax/btt holder is bound to a driver (the namespace is enabled through it)."""
        return bool(self.holder) and self.enabled

    @property
    def ns_bound(self) -> bool:
        """The namespace itself is bound to nd_pmem (raw, no holder)."""
        return not self.holder and self.enabled


class DaxMappingRange(Record):
    start: int
    end: int  # inclusive, as the kernel prints it
    page_offset: int

    __slots__ = ("start", "end", "page_offset")
    _fields = __slots__

    def __init__(self, start: int, end: int, page_offset: int) -> None:
        _set(self, "start", start)
        _set(self, "end", end)
        _set(self, "page_offset", page_offset)


class DaxDevice(Record):
    name: str  # dax0.0
    path: str  # kernel path of the device directory (resolved)
    region_id: Optional[int]
    region_path: Optional[str]  # parent device holding dax_region/
    size: int
    resource: Optional[int]  # start of the first range (0400: root only)
    align: Optional[int]
    target_node: Optional[int]
    numa_node: Optional[int]
    driver: Optional[str]  # device_dax, kmem, or None (unbound)
    dev: Optional[str]  # char major:minor
    source: str  # nvdimm, hmem, cxl, unknown
    namespace: Optional[str]  # owning nd namespace, for nvdimm devices
    mappings: tuple[DaxMappingRange, ...]
    memmap_on_memory: Optional[bool]  # 6.8+
    blocks: tuple[int, ...]  # memory block indexes inside the device's ranges

    __slots__ = (
        "name", "path", "region_id", "region_path", "size", "resource", "align", "target_node", "numa_node", "driver",
        "dev", "source", "namespace", "mappings", "memmap_on_memory", "blocks",
    )
    _fields = __slots__

    def __init__(
        self,
        name: str,
        path: str,
        region_id: Optional[int],
        region_path: Optional[str],
        size: int,
        resource: Optional[int],
        align: Optional[int],
        target_node: Optional[int],
        numa_node: Optional[int],
        driver: Optional[str],
        dev: Optional[str],
        source: str,
        namespace: Optional[str],
        mappings: tuple[DaxMappingRange, ...],
        memmap_on_memory: Optional[bool],
        blocks: tuple[int, ...],
    ) -> None:
        _set(self, "name", name)
        _set(self, "path", path)
        _set(self, "region_id", region_id)
        _set(self, "region_path", region_path)
        _set(self, "size", size)
        _set(self, "resource", resource)
        _set(self, "align", align)
        _set(self, "target_node", target_node)
        _set(self, "numa_node", numa_node)
        _set(self, "driver", driver)
        _set(self, "dev", dev)
        _set(self, "source", source)
        _set(self, "namespace", namespace)
        _set(self, "mappings", mappings)
        _set(self, "memmap_on_memory", memmap_on_memory)
        _set(self, "blocks", blocks)

    @property
    def mode(self) -> DaxMode:
        """system-ram iff bound to kmem; the driver link is the only truth."""
        if self.driver == "kmem":
            return DaxMode.SYSTEM_RAM
        if self.driver is None:
            return DaxMode.DISABLED
        return DaxMode.DEVDAX

    def ranges(self) -> tuple[tuple[int, int], ...]:
        """Physical ranges as (start, end-exclusive)."""
        return dax_ranges(self.mappings, self.resource, self.size)

    def hotplug_blocks(self, block_size: int) -> list[int]:
        """The memory blocks kmem hot-adds for this device (see :func:`kmem_blocks`)."""
        return kmem_blocks(self.ranges(), block_size)


def dax_ranges(mappings: tuple[DaxMappingRange, ...], resource: Optional[int],
               size: Optional[int]) -> tuple[tuple[int, int], ...]:
    """A dax device's physical ranges as (start, end-exclusive): its
    ``mappingN`` ranges when it has them, else ``resource`` + ``size``."""
    if mappings:
        return tuple((m.start, m.end + 1) for m in mappings)
    if resource is not None and size is not None:
        return ((resource, resource + size),)
    return ()


def kmem_blocks(ranges: Iterable[tuple[int, int]], block_size: int) -> list[int]:
    """Memory blocks kmem hot-adds for physical ``ranges`` (start, end-exclusive):
    each range trimmed to whole blocks, [ALIGN_UP(start), ALIGN_DOWN(end))
    (drivers/dax/kmem.c, kernel-abi.md §7.6)."""
    out: list[int] = []
    for start, end in ranges:
        out.extend(range(-(-start // block_size), end // block_size))
    return out


class StrandedMemory(Record):
    """Memory kmem hot-added for a dax device that no longer holds it: kmem
    was unbound (or the device removed) while blocks were online, so
    remove_memory() failed and the range stays claimed -- ``daxX.Y`` /
    ``System RAM (kmem)`` in /proc/iomem -- until reboot (real-kernel-lab.md)."""

    device: str  # the daxX.Y the claim is named after
    start: int
    end: int  # inclusive, as /proc/iomem prints it
    source: str  # nvdimm, hmem, cxl, unknown (from the enclosing resource)
    blocks: tuple[int, ...]  # memory blocks in the range that still exist

    __slots__ = ("device", "start", "end", "source", "blocks")
    _fields = __slots__

    def __init__(self, device: str, start: int, end: int, source: str, blocks: tuple[int, ...]) -> None:
        _set(self, "device", device)
        _set(self, "start", start)
        _set(self, "end", end)
        _set(self, "source", source)
        _set(self, "blocks", blocks)


class DaxRegion(Record):
    id: int
    path: str
    size: Optional[int]
    align: Optional[int]
    available_size: Optional[int]  # dynamic (hmem/CXL) regions only
    dynamic: bool
    devices: tuple[str, ...]

    __slots__ = ("id", "path", "size", "align", "available_size", "dynamic", "devices")
    _fields = __slots__

    def __init__(
        self,
        id: int,
        path: str,
        size: Optional[int],
        align: Optional[int],
        available_size: Optional[int],
        dynamic: bool,
        devices: tuple[str, ...],
    ) -> None:
        _set(self, "id", id)
        _set(self, "path", path)
        _set(self, "size", size)
        _set(self, "align", align)
        _set(self, "available_size", available_size)
        _set(self, "dynamic", dynamic)
        _set(self, "devices", devices)


class MemoryBlock(Record):
    index: int  # N in memoryN == phys_index (the block id)
    state: BlockState
    zones: Optional[tuple[str, ...]]  # valid_zones; None when not read or absent
    removable: Optional[bool]
    node: Optional[int]
    device: Optional[str]  # owning dax device, None for boot memory

    __slots__ = ("index", "state", "zones", "removable", "node", "device")
    _fields = __slots__

    def __init__(
        self,
        index: int,
        state: BlockState,
        zones: Optional[tuple[str, ...]],
        removable: Optional[bool],
        node: Optional[int],
        device: Optional[str],
    ) -> None:
        _set(self, "index", index)
        _set(self, "state", state)
        _set(self, "zones", zones)
        _set(self, "removable", removable)
        _set(self, "node", node)
        _set(self, "device", device)

    @property
    def online(self) -> bool:
        return self.state == BlockState.ONLINE

    def start(self, block_size: int) -> int:
        return self.index * block_size

    @property
    def zone(self) -> Optional[str]:
        """For an online block, the zone it is in; for an offline one, the zone
        a plain 'online' would pick (first in valid_zones)."""
        if not self.zones:
            return None
        return self.zones[0]


class AccessClass(Record):
    """HMAT access class figures of a memory target (nodeX/accessY/initiators)."""

    initiators: tuple[int, ...]
    read_latency: Optional[int]  # ns
    write_latency: Optional[int]
    read_bandwidth: Optional[int]  # MiB/s
    write_bandwidth: Optional[int]

    __slots__ = ("initiators", "read_latency", "write_latency", "read_bandwidth", "write_bandwidth")
    _fields = __slots__

    def __init__(
        self,
        initiators: tuple[int, ...],
        read_latency: Optional[int],
        write_latency: Optional[int],
        read_bandwidth: Optional[int],
        write_bandwidth: Optional[int],
    ) -> None:
        _set(self, "initiators", initiators)
        _set(self, "read_latency", read_latency)
        _set(self, "write_latency", write_latency)
        _set(self, "read_bandwidth", read_bandwidth)
        _set(self, "write_bandwidth", write_bandwidth)


class NumaNode(Record):
    id: int
    path: str
    cpus: tuple[int, ...]
    mem_total: Optional[int]  # bytes, from nodeN/meminfo (online memory only)
    mem_free: Optional[int]
    distances: Mapping[int, int]  # node id -> SLIT distance
    access0: Optional[AccessClass]
    access1: Optional[AccessClass]
    memory_tier: Optional[int]
    blocks_total: int
    blocks_online: int
    zone_blocks: Mapping[str, int]  # zone -> online block count
    dax_devices: tuple[str, ...]  # dax devices whose memory lives on this node
    has_memory: bool
    has_normal_memory: bool
    kind: NodeKind
    evidence: tuple[str, ...]

    __slots__ = (
        "id", "path", "cpus", "mem_total", "mem_free", "distances", "access0", "access1", "memory_tier", "blocks_total",
        "blocks_online", "zone_blocks", "dax_devices", "has_memory", "has_normal_memory", "kind", "evidence",
    )
    _fields = __slots__

    def __init__(
        self,
        id: int,
        path: str,
        cpus: tuple[int, ...],
        mem_total: Optional[int],
        mem_free: Optional[int],
        distances: Mapping[int, int],
        access0: Optional[AccessClass],
        access1: Optional[AccessClass],
        memory_tier: Optional[int],
        blocks_total: int,
        blocks_online: int,
        zone_blocks: Mapping[str, int],
        dax_devices: tuple[str, ...],
        has_memory: bool,
        has_normal_memory: bool,
        kind: NodeKind,
        evidence: tuple[str, ...],
    ) -> None:
        _set(self, "id", id)
        _set(self, "path", path)
        _set(self, "cpus", cpus)
        _set(self, "mem_total", mem_total)
        _set(self, "mem_free", mem_free)
        _set(self, "distances", distances)
        _set(self, "access0", access0)
        _set(self, "access1", access1)
        _set(self, "memory_tier", memory_tier)
        _set(self, "blocks_total", blocks_total)
        _set(self, "blocks_online", blocks_online)
        _set(self, "zone_blocks", zone_blocks)
        _set(self, "dax_devices", dax_devices)
        _set(self, "has_memory", has_memory)
        _set(self, "has_normal_memory", has_normal_memory)
        _set(self, "kind", kind)
        _set(self, "evidence", evidence)


class MemoryTier(Record):
    id: int  # N of memory_tierN (abstract distance >> 7)
    path: str
    nodes: tuple[int, ...]

    __slots__ = ("id", "path", "nodes")
    _fields = __slots__

    def __init__(self, id: int, path: str, nodes: tuple[int, ...]) -> None:
        _set(self, "id", id)
        _set(self, "path", path)
        _set(self, "nodes", nodes)


class Policy(Record):
    block_size: Optional[int]  # None: no /sys/devices/system/memory (no hotplug)
    auto_online_blocks: Optional[str]  # offline / online / online_kernel / online_movable
    memhp_default_state: Optional[str]  # from /proc/cmdline
    movable_node: bool  # movable_node on /proc/cmdline
    demotion_enabled: Optional[bool]
    online_policy: Optional[str]  # memory_hotplug module parameter
    auto_movable_ratio: Optional[int]
    memmap_on_memory: Optional[str]
    kmem_driver: bool  # /sys/bus/dax/drivers/kmem present
    device_dax_driver: bool
    hotremove: Optional[bool]  # valid_zones exists ⇔ CONFIG_MEMORY_HOTREMOVE
    kernel_cmdline: Optional[str]

    __slots__ = (
        "block_size", "auto_online_blocks", "memhp_default_state", "movable_node", "demotion_enabled", "online_policy",
        "auto_movable_ratio", "memmap_on_memory", "kmem_driver", "device_dax_driver", "hotremove", "kernel_cmdline",
    )
    _fields = __slots__

    def __init__(
        self,
        block_size: Optional[int],
        auto_online_blocks: Optional[str],
        memhp_default_state: Optional[str],
        movable_node: bool,
        demotion_enabled: Optional[bool],
        online_policy: Optional[str],
        auto_movable_ratio: Optional[int],
        memmap_on_memory: Optional[str],
        kmem_driver: bool,
        device_dax_driver: bool,
        hotremove: Optional[bool],
        kernel_cmdline: Optional[str],
    ) -> None:
        _set(self, "block_size", block_size)
        _set(self, "auto_online_blocks", auto_online_blocks)
        _set(self, "memhp_default_state", memhp_default_state)
        _set(self, "movable_node", movable_node)
        _set(self, "demotion_enabled", demotion_enabled)
        _set(self, "online_policy", online_policy)
        _set(self, "auto_movable_ratio", auto_movable_ratio)
        _set(self, "memmap_on_memory", memmap_on_memory)
        _set(self, "kmem_driver", kmem_driver)
        _set(self, "device_dax_driver", device_dax_driver)
        _set(self, "hotremove", hotremove)
        _set(self, "kernel_cmdline", kernel_cmdline)


class Topology(Record):
    """One consistent snapshot of everything pmemctl knows about a machine."""

    sysroot: str
    policy: Policy
    buses: tuple[NdBus, ...]
    dimms: tuple[Dimm, ...]
    regions: tuple[Region, ...]
    namespaces: tuple[Namespace, ...]
    dax_regions: tuple[DaxRegion, ...]
    dax_devices: tuple[DaxDevice, ...]
    blocks: tuple[MemoryBlock, ...]
    nodes: tuple[NumaNode, ...]
    tiers: tuple[MemoryTier, ...]
    possible_nodes: tuple[int, ...]
    stranded: tuple[StrandedMemory, ...]

    __slots__ = (
        "sysroot", "policy", "buses", "dimms", "regions", "namespaces", "dax_regions", "dax_devices", "blocks", "nodes",
        "tiers", "possible_nodes", "stranded",
    )
    _fields = __slots__

    def __init__(
        self,
        sysroot: str,
        policy: Policy,
        buses: tuple[NdBus, ...],
        dimms: tuple[Dimm, ...],
        regions: tuple[Region, ...],
        namespaces: tuple[Namespace, ...],
        dax_regions: tuple[DaxRegion, ...],
        dax_devices: tuple[DaxDevice, ...],
        blocks: tuple[MemoryBlock, ...],
        nodes: tuple[NumaNode, ...],
        tiers: tuple[MemoryTier, ...],
        possible_nodes: tuple[int, ...] = (),
        stranded: tuple[StrandedMemory, ...] = (),
    ) -> None:
        _set(self, "sysroot", sysroot)
        _set(self, "policy", policy)
        _set(self, "buses", buses)
        _set(self, "dimms", dimms)
        _set(self, "regions", regions)
        _set(self, "namespaces", namespaces)
        _set(self, "dax_regions", dax_regions)
        _set(self, "dax_devices", dax_devices)
        _set(self, "blocks", blocks)
        _set(self, "nodes", nodes)
        _set(self, "tiers", tiers)
        _set(self, "possible_nodes", possible_nodes)
        _set(self, "stranded", stranded)

    # -- lookups (linear scans are fine: a few hundred objects at most, blocks
    #    are indexed on demand) ---------------------------------------------

    def region(self, name: str) -> Optional[Region]:
        return next((r for r in self.regions if r.name == name), None)

    def namespace(self, name: str) -> Optional[Namespace]:
        return next((n for n in self.namespaces if n.name == name), None)

    def dax_device(self, name: str) -> Optional[DaxDevice]:
        return next((d for d in self.dax_devices if d.name == name), None)

    def node(self, node_id: int) -> Optional[NumaNode]:
        return next((n for n in self.nodes if n.id == node_id), None)

    def block_map(self) -> dict[int, MemoryBlock]:
        return {b.index: b for b in self.blocks}

    def blocks_of(self, device: str) -> tuple[MemoryBlock, ...]:
        return tuple(b for b in self.blocks if b.device == device)
