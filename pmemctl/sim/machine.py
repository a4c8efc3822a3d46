"""The resolved description of a simulated machine.

A scenario file (TOML) says what a machine *is* at a high level; resolving
it (:mod:`pmemctl.sim.scenario`) computes everything the kernel would derive:
addresses, info-block reservations, dax device ranges, the memory blocks kmem
hot-added and their zones.  The result is a :class:`Machine`: frozen,
JSON-serialisable (``to_dict``/``from_dict``), stored in every materialised
tree as ``.pmemctl-sim/scenario.json`` so a later simulated kernel, the tests
and a reader can all see the same truth without re-deriving it.

Addresses and sizes are bytes; ``end_incl`` fields are inclusive as the
kernel prints them, every other range is half-open ``(start, end)``.
Fields ending in ``_kb`` are KiB (what meminfo prints as "kB").

These are *specifications* of the simulated machine, not the product's view
of one: every class ends in ``Spec`` so it is never mistaken for the record
of the same kernel object in :mod:`pmemctl.model.records` (which the
simulator does not import).  Where a field means something else than the
model's field of the same name, its comment says so (for example
:attr:`DaxDeviceSpec.mode` and :attr:`AccessClassSpec.read_bandwidth`).
The field names are the keys of ``scenario.json`` and do not change.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, Optional, Union

Range = tuple[int, int]  # [start, end)


@dataclass(frozen=True)
class AccessClassSpec:
    """HMAT figures of one access class of a memory target (node/accessY).

    The numbers are written verbatim to ``nodeN/accessY/initiators/*``:
    latencies in ns, bandwidths in MB/s as the scenario gives them (the
    kernel's HMAT unit).  The product's ``AccessClass`` reads the same
    numbers back and calls the bandwidth unit MiB/s; no conversion happens
    on either side.
    """

    initiators: tuple[int, ...]
    read_latency: int  # ns
    write_latency: int  # ns
    read_bandwidth: int  # MB/s (the attribute's number; the model labels it MiB/s)
    write_bandwidth: int  # MB/s


@dataclass(frozen=True)
class NodeSpec:
    """A NUMA node as the scenario declares it (the model's ``NumaNode`` is
    what discovery reads back: totals in bytes, from the online memory)."""

    id: int
    cpus: tuple[int, ...]
    dram: tuple[Range, ...]  # boot DRAM ranges
    reserved_kb: int  # KiB of boot memory kept by the kernel (not counted in MemTotal)
    used_kb: int  # KiB: MemTotal - MemFree
    memory_tier: int  # memory_tierN the node joins while it has online memory
    access0: Optional[AccessClassSpec] = None
    access1: Optional[AccessClassSpec] = None
    generic_initiator: bool = False


@dataclass(frozen=True)
class BlockSpec:
    """One memory block ``memoryN`` (kernel-abi.md §7.2)."""

    index: int
    node: int
    online: bool
    zone: str  # online: DMA/DMA32/Normal/Movable or "none" (spans zones); offline: ""
    valid_zones: str
    owner: Optional[str]  # dax device that hot-added it; None for boot memory
    present_kb: int  # KiB actually present in the block (boot blocks may have holes)


@dataclass(frozen=True)
class DimmSpec:
    name: str  # nmemN
    id: int
    bus: str
    kpath: str
    major: int
    minor: int
    size: int
    nfit_id: str
    handle: int
    phys_id: int
    serial: int
    vendor: int
    device: int
    rev_id: int
    subsystem_vendor: int
    subsystem_device: int
    subsystem_rev_id: int
    format: int
    formats: int
    family: int
    dsm_mask: int
    commands: str
    security: str  # "none": no security ops (the security/frozen attributes are hidden)
    available_slots: int
    labeled: bool
    #: Size of the label storage area (NFIT _DSM get_config_size), 0 if the
    #: DIMM has none.  With one, the nvdimm driver keeps driver data for the
    #: DIMM (nvdimm_probe) and the DIMM counts as busy while an enabled region
    #: maps it (init_active_labels: state "active").
    label_area: int = 0
    #: Version of the label index ndctl wrote: "1.1" (`ndctl init-labels`'
    #: default, 128-byte labels) or "1.2" (create-namespace's autolabel,
    #: 256-byte labels).  Decides the slot count and which cookie set_cookie shows.
    label_version: str = "1.2"
    manufacturing_date: int = 0  # NFIT control region fields (interleave-set cookie)
    manufacturing_location: int = 0

    @property
    def has_driver_data(self) -> bool:
        """nvdimm_probe got past nvdimm_check_config_data (label storage)."""
        return self.labeled or self.label_area > 0


@dataclass(frozen=True)
class RegionMappingSpec:
    dimm: str
    offset: int  # DPA
    length: int
    position: int


@dataclass(frozen=True)
class NamespaceSpec:
    """A namespace and, when claimed, the pfn/dax/btt device holding it.

    Unlike the model's ``Namespace`` (one record per namespace, ``mode`` a
    ``NamespaceMode`` and ``enabled`` for whichever device serves it),
    ``mode`` is a plain string and ``enabled`` is only the namespace's own
    nd_pmem binding (raw); the holder's is ``holder_enabled``.
    """

    name: str  # namespaceR.N
    id: int
    region: str
    kpath: str
    mode: str  # raw | fsdax | devdax | sector
    seed: bool  # an idle, unconfigured namespace seed (size 0)
    nstype: int  # 4 io (label-less), 5 pmem (labelled)
    size: int
    resource: Optional[int]
    uuid: Optional[str]  # label uuid (labelled only): ndctl's raw_uuid
    alt_name: str
    sector_size: Optional[int]  # namespace lbasize (labelled only)
    enabled: bool  # the namespace itself is bound to nd_pmem (raw mode)
    numa_node: int
    target_node: int
    holder: Optional[str] = None  # pfnR.M / daxR.M / bttR.M
    holder_kpath: Optional[str] = None
    holder_class: str = ""
    holder_uuid: Optional[str] = None  # info-block uuid: ndctl's uuid
    holder_align: Optional[int] = None
    holder_map: Optional[str] = None  # "pmem" (map=dev) / "ram" (map=mem)
    holder_enabled: bool = False
    usable_size: Optional[int] = None  # pfn/dax/btt size
    data_start: Optional[int] = None  # pfn/dax resource
    btt_sector_size: Optional[int] = None
    blockdev: Optional[str] = None
    blockdev_parent: Optional[str] = None  # kpath of the device holding block/<name>
    block_major: Optional[int] = None
    block_minor: Optional[int] = None
    dax_device: Optional[str] = None  # dax-bus device name (from the namespace ids)

    @property
    def ndctl_mode(self) -> str:
        return self.mode

    @property
    def end_incl(self) -> int:
        return (self.resource or 0) + self.size - 1


@dataclass(frozen=True)
class RegionSpec:
    name: str  # regionN
    id: int
    bus: str
    kpath: str
    base: int
    size: int
    align: int
    nstype: int
    labeled: bool
    numa_node: int
    target_node: int
    mappings: tuple[RegionMappingSpec, ...]
    set_cookie: Optional[int]
    persistence_domain: Optional[str]
    deep_flush: Optional[int]
    read_only: bool
    enabled: bool
    available_size: Optional[int]  # labelled regions only
    max_available_extent: int
    range_index: int
    namespace_seed: str
    pfn_seed: str
    dax_seed: str
    btt_seed: str
    namespaces: tuple[NamespaceSpec, ...]

    def namespace(self, name: str) -> Optional[NamespaceSpec]:
        return next((n for n in self.namespaces if n.name == name), None)


@dataclass(frozen=True)
class BusSpec:
    name: str  # ndbusN
    id: int
    provider: str
    kpath: str
    major: int  # ndctlN char device
    minor: int
    commands: str
    nfit: bool
    dimms: tuple[DimmSpec, ...]
    regions: tuple[RegionSpec, ...]


@dataclass(frozen=True)
class DaxMappingSpec:
    start: int
    end: int  # inclusive
    page_offset: int


@dataclass(frozen=True)
class DaxRegionSpec:
    """The parent device carrying ``dax_region/`` (nd dax, hmem.N, dax_regionN).

    ``start``/``size`` are bytes; ``window`` is half-open ``(start, end)``."""

    id: int
    kpath: str
    source: str  # nvdimm | hmem | cxl
    start: int
    size: int
    align: int
    dynamic: bool  # hmem/CXL: available_size, seed, create, delete exist
    available_size: int
    seed: str
    window_name: Optional[str] = None  # iomem parent: "Soft Reserved" / "CXL Window N"
    window: Optional[Range] = None
    cxl_region: Optional[str] = None  # "regionN" for CXL


@dataclass(frozen=True)
class DaxDeviceSpec:
    """A dax-bus device as the scenario declares it.

    ``hotplug_ranges`` are half-open byte ranges, :class:`DaxMappingSpec`
    ``end`` is inclusive.  :attr:`mode` is daxctl's two-valued mode, not the
    model's ``DaxDevice.mode`` (which says *disabled* for an unbound device).
    """

    name: str  # daxX.Y
    region_id: int
    kpath: str
    region_kpath: str
    source: str
    size: int
    align: int
    target_node: int
    numa_node: int
    driver: Optional[str]  # device_dax | kmem | None (unbound)
    mappings: tuple[DaxMappingSpec, ...]
    major: int
    minor: int
    namespace: Optional[str] = None
    hotplug_ranges: tuple[Range, ...] = ()  # what kmem hot-added (block aligned)
    blocks: tuple[int, ...] = ()  # memory blocks hot-added by kmem

    @property
    def resource(self) -> int:
        return self.mappings[0].start if self.mappings else 0

    @property
    def mode(self) -> str:
        """daxctl's mode: system-ram iff bound to kmem, else devdax -- also when
        unbound (the model's ``DaxDevice.mode`` says disabled there)."""
        return "system-ram" if self.driver == "kmem" else "devdax"


@dataclass(frozen=True)
class IomemEntrySpec:
    start: int
    end_incl: int
    name: str
    rank: int = 0  # tie-break for identical ranges: lower is the outer resource


@dataclass(frozen=True)
class MachineSpec:
    name: str
    summary: str
    params: dict[str, str]
    kernel_release: str
    cmdline: str
    block_size: int
    auto_online_blocks: str
    online_policy: str
    memmap_on_memory: str
    auto_movable_ratio: int
    auto_movable_numa_aware: str
    movable_node: bool
    demotion_enabled: bool
    nr_cpu_ids: int
    possible_nodes: tuple[int, ...]
    distance: tuple[tuple[int, ...], ...]  # rows/columns follow possible_nodes
    nodes: tuple[NodeSpec, ...]
    buses: tuple[BusSpec, ...]
    dax_regions: tuple[DaxRegionSpec, ...]
    dax_devices: tuple[DaxDeviceSpec, ...]
    blocks: tuple[BlockSpec, ...]
    iomem_extra: tuple[IomemEntrySpec, ...] = ()
    kernel_modules: tuple[str, ...] = ("kmem", "device_dax", "dax_pmem")
    #: NR_CPUS of the kernel build (cpu/kernel_max is NR_CPUS - 1).
    nr_cpus: int = 8192
    #: /sys/module/<m>/coresize of the kernel build's modules (bytes).
    module_coresize: dict[str, int] = dataclasses.field(default_factory=dict)
    #: (dax device, start, end exclusive) of memory kmem could not remove
    #: (unbound while online): the range stays claimed, as ``daxX.Y`` /
    #: ``System RAM (kmem)`` in /proc/iomem, until reboot.
    stranded_kmem: tuple[tuple[str, int, int], ...] = ()

    # -- lookups -------------------------------------------------------------

    def node(self, node_id: int) -> Optional[NodeSpec]:
        return next((n for n in self.nodes if n.id == node_id), None)

    def distance_between(self, a: int, b: int) -> int:
        ia, ib = self.possible_nodes.index(a), self.possible_nodes.index(b)
        return self.distance[ia][ib]

    def regions(self) -> list[RegionSpec]:
        return [r for b in self.buses for r in b.regions]

    def namespaces(self) -> list[NamespaceSpec]:
        return [n for r in self.regions() for n in r.namespaces]

    def dimms(self) -> list[DimmSpec]:
        return [d for b in self.buses for d in b.dimms]

    def dax_device(self, name: str) -> Optional[DaxDeviceSpec]:
        return next((d for d in self.dax_devices if d.name == name), None)

    def dax_region(self, region_id: int, kpath: Optional[str] = None) -> Optional[DaxRegionSpec]:
        return next(
            (r for r in self.dax_regions if r.id == region_id and (kpath is None or r.kpath == kpath)), None
        )

    def blocks_of(self, owner: Optional[str]) -> list[BlockSpec]:
        return [b for b in self.blocks if b.owner == owner]

    def online_nodes(self) -> list[int]:
        """Nodes that have a ``nodeN`` directory: CPUs, boot memory or hot-added blocks."""
        with_blocks = {b.node for b in self.blocks}
        return sorted(n.id for n in self.nodes if n.cpus or n.dram or n.id in with_blocks)

    def nodes_with_online_memory(self) -> list[int]:
        return sorted({b.node for b in self.blocks if b.online})

    def nodes_with_normal_memory(self) -> list[int]:
        return sorted({b.node for b in self.blocks if b.online and b.zone != "Movable"})

    def memory_tiers(self) -> dict[int, list[int]]:
        """memory_tierN -> nodes; a node is in its tier only while it has online memory."""
        tiers: dict[int, list[int]] = {}
        online = set(self.nodes_with_online_memory())
        for node in self.nodes:
            if node.id in online:
                tiers.setdefault(node.memory_tier, []).append(node.id)
        return {t: sorted(ns) for t, ns in sorted(tiers.items())}

    def kernel_at_least(self, version: tuple[int, int]) -> bool:
        """The simulated kernel release is ``version`` (major, minor) or later."""
        return kernel_at_least(self.kernel_release, version)

    # -- (de)serialisation -------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MachineSpec:
        machine: MachineSpec = _from_jsonable(cls, data)
        return machine


def kernel_at_least(release: str, version: tuple[int, int]) -> bool:
    """``release`` (``6.1.0-13-amd64``) is ``version`` (major, minor) or later;
    False when it does not parse."""
    parts = release.split("-")[0].split(".")
    try:
        have = (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        return False
    return have >= version


def _from_jsonable(tp: Any, value: Any) -> Any:
    """Rebuild a value of type ``tp`` from its ``dataclasses.asdict`` form."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        kwargs = {
            f.name: _from_jsonable(hints[f.name], value[f.name]) for f in dataclasses.fields(tp) if f.name in value
        }
        return tp(**kwargs)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        return _from_jsonable(members[0], value)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_jsonable(args[0], v) for v in value)
        return tuple(_from_jsonable(a, v) for a, v in zip(args, value, strict=False))
    if origin is dict:
        key_t, val_t = typing.get_args(tp)
        return {_from_jsonable(key_t, k): _from_jsonable(val_t, v) for k, v in value.items()}
    if tp is Range:
        return tuple(value)
    return value


__all__ = [
    "AccessClassSpec",
    "BlockSpec",
    "BusSpec",
    "DaxDeviceSpec",
    "DaxMappingSpec",
    "DaxRegionSpec",
    "DimmSpec",
    "IomemEntrySpec",
    "MachineSpec",
    "NamespaceSpec",
    "NodeSpec",
    "Range",
    "RegionMappingSpec",
    "RegionSpec",
    "kernel_at_least",
]
