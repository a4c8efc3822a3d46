"""Immutable records of kernel objects: one discovery = one consistent snapshot.

Every field an older kernel may lack is Optional and None when absent.  Sizes
and addresses are raw integers (bytes).  Each record carries its kernel path
(``path``) so plans and messages can name it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Mapping, Optional


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


@dataclass(frozen=True, slots=True)
class NdBus:
    name: str  # ndbus0
    path: str
    provider: Optional[str]  # ACPI.NFIT, e820, nfit_test.0, of_pmem
    dimms: tuple[str, ...]
    regions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Dimm:
    name: str  # nmem0
    path: str
    bus: str
    id: Optional[str]  # nfit/id
    handle: Optional[int]
    phys_id: Optional[int]
    state: Optional[str]  # idle / active
    security: Optional[str]
    enabled: bool  # driver link present


@dataclass(frozen=True, slots=True)
class RegionMapping:
    dimm: str
    offset: int  # DPA offset
    length: int
    position: int


@dataclass(frozen=True, slots=True)
class Region:
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


@dataclass(frozen=True, slots=True)
class Namespace:
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


@dataclass(frozen=True, slots=True)
class DaxMappingRange:
    start: int
    end: int  # inclusive, as the kernel prints it
    page_offset: int


@dataclass(frozen=True, slots=True)
class DaxDevice:
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


@dataclass(frozen=True, slots=True)
class StrandedMemory:
    """Memory kmem hot-added for a dax device that no longer holds it: kmem
    was unbound (or the device removed) while blocks were online, so
    remove_memory() failed and the range stays claimed -- ``daxX.Y`` /
    ``System RAM (kmem)`` in /proc/iomem -- until reboot (real-kernel-lab.md)."""

    device: str  # the daxX.Y the claim is named after
    start: int
    end: int  # inclusive, as /proc/iomem prints it
    source: str  # nvdimm, hmem, cxl, unknown (from the enclosing resource)
    blocks: tuple[int, ...]  # memory blocks in the range that still exist


@dataclass(frozen=True, slots=True)
class DaxRegion:
    id: int
    path: str
    size: Optional[int]
    align: Optional[int]
    available_size: Optional[int]  # dynamic (hmem/CXL) regions only
    dynamic: bool
    devices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MemoryBlock:
    index: int  # N in memoryN == phys_index (the block id)
    state: BlockState
    zones: Optional[tuple[str, ...]]  # valid_zones; None when not read or absent
    removable: Optional[bool]
    node: Optional[int]
    device: Optional[str]  # owning dax device, None for boot memory

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


@dataclass(frozen=True, slots=True)
class AccessClass:
    """HMAT access class figures of a memory target (nodeX/accessY/initiators)."""

    initiators: tuple[int, ...]
    read_latency: Optional[int]  # ns
    write_latency: Optional[int]
    read_bandwidth: Optional[int]  # MiB/s
    write_bandwidth: Optional[int]


@dataclass(frozen=True, slots=True)
class NumaNode:
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


@dataclass(frozen=True, slots=True)
class MemoryTier:
    id: int  # N of memory_tierN (abstract distance >> 7)
    path: str
    nodes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Policy:
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


@dataclass(frozen=True, slots=True)
class Topology:
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
    possible_nodes: tuple[int, ...] = field(default=())
    stranded: tuple[StrandedMemory, ...] = field(default=())

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
