"""Kernel objects as reusable tree operations.

Each function adds, changes or removes one kernel object (a node, a memory
block, a region, a dax device, a driver binding...) in a :class:`TreeWriter`
tree, with the attributes, modes and links the kernel gives it (kernel-abi.md
§7, §8).  The scenario builder calls them once per object; a simulated kernel
that reacts to sysfs writes can call the same functions when a write changes
the machine (bind kmem -> :func:`add_memory_block`, online a block ->
:func:`set_memory_block`, ...).

The ``refresh_*`` functions recompute derived files (node meminfo, masks,
offline blocks' ``valid_zones``, memory tiers) from the tree itself, so the
tree stays the single source of truth while it changes.
"""

from __future__ import annotations

import functools
import posixpath
import re
from typing import Iterable, Mapping, Optional, Sequence

from pmemctl.sim import layout
from pmemctl.sim.machine import (
    AccessClassSpec,
    BusSpec,
    DaxDeviceSpec,
    DaxRegionSpec,
    DimmSpec,
    IomemEntrySpec,
    NamespaceSpec,
    NodeSpec,
    RegionSpec,
)
from pmemctl.sim.tree import MODE_RO, MODE_ROOT_RO, MODE_RW, MODE_WO, TreeWriter, relative_link_target
from pmemctl.sysfs import paths
from pmemctl.units import format_cpulist

# Character/block majors.  They are dynamic on a real kernel; these are the
# values the verified fake tree used (kernel-abi.md §8).
NDCTL_MAJOR = 250
NMEM_MAJOR = 249
DAX_MAJOR = 252
BLKEXT_MAJOR = 259  # pmem block devices get extended devts

SECTOR = 512

# nd device types (include/uapi/linux/ndctl.h): modalias "nd:t<N>".
ND_DEVICE_DIMM = 1
ND_DEVICE_REGION_PMEM = 2
ND_DEVICE_DAX_PMEM = 7

# supported_alignments of pfn/dax devices on x86 with THP and PUD pages.
SUPPORTED_ALIGNMENTS = (4096, 2 * 1024 * 1024, 1024 * 1024 * 1024)
NAMESPACE_SECTOR_SIZES = (512, 4096)

ND_DRIVERS = ("nd_bus", "nd_region", "nd_pmem", "nvdimm", "dax_pmem")
DAX_DRIVERS = ("device_dax", "kmem")
# Which module provides a driver (for the driver dir's "module" link).
DRIVER_MODULE = {
    "device_dax": "device_dax",
    "kmem": "kmem",
    "dax_pmem": "dax_pmem",
    "nd_pmem": "nd_pmem",
    "nd_region": "libnvdimm",
    "nd_bus": "libnvdimm",
    "nvdimm": "libnvdimm",
}

MEMINFO_KEYS = (
    "MemTotal", "MemFree", "MemUsed", "SwapCached", "Active", "Inactive",
    "Active(anon)", "Inactive(anon)", "Active(file)", "Inactive(file)",
    "Unevictable", "Mlocked", "Dirty", "Writeback", "FilePages", "Mapped",
    "AnonPages", "Shmem", "KernelStack", "PageTables", "SecPageTables",
    "NFS_Unstable", "Bounce", "WritebackTmp", "KReclaimable", "Slab",
    "SReclaimable", "SUnreclaim", "AnonHugePages", "ShmemHugePages",
    "ShmemPmdMapped", "FileHugePages", "FilePmdMapped",
)
HUGEPAGE_KEYS = ("HugePages_Total", "HugePages_Free", "HugePages_Surp")
#: nodeN/vmstat lines of 6.1 (x86_64, Debian config), in the kernel's order:
#: zone counters, NUMA counters, node counters (mm/vmstat.c vmstat_text).
NODE_VMSTAT_KEYS = (
    "nr_free_pages", "nr_zone_inactive_anon", "nr_zone_active_anon", "nr_zone_inactive_file",
    "nr_zone_active_file", "nr_zone_unevictable", "nr_zone_write_pending", "nr_mlock", "nr_bounce",
    "nr_zspages", "nr_free_cma", "numa_hit", "numa_miss", "numa_foreign", "numa_interleave",
    "numa_local", "numa_other", "nr_inactive_anon", "nr_active_anon", "nr_inactive_file",
    "nr_active_file", "nr_unevictable", "nr_slab_reclaimable", "nr_slab_unreclaimable",
    "nr_isolated_anon", "nr_isolated_file", "workingset_nodes", "workingset_refault_anon",
    "workingset_refault_file", "workingset_activate_anon", "workingset_activate_file",
    "workingset_restore_anon", "workingset_restore_file", "workingset_nodereclaim", "nr_anon_pages",
    "nr_mapped", "nr_file_pages", "nr_dirty", "nr_writeback", "nr_writeback_temp", "nr_shmem",
    "nr_shmem_hugepages", "nr_shmem_pmdmapped", "nr_file_hugepages", "nr_file_pmdmapped",
    "nr_anon_transparent_hugepages", "nr_vmscan_write", "nr_vmscan_immediate_reclaim", "nr_dirtied",
    "nr_written", "nr_throttled_written", "nr_kernel_misc_reclaimable", "nr_foll_pin_acquired",
    "nr_foll_pin_released", "nr_kernel_stack", "nr_page_table_pages", "nr_sec_page_table_pages",
    "nr_swapcached", "pgpromote_success", "pgpromote_candidate",
)


# =============================================================================
# buses, drivers, modules, generic device plumbing
# =============================================================================


def add_bus(tree: TreeWriter, bus: str) -> None:
    """``/sys/bus/<bus>`` with ``devices/``, ``drivers/`` and its control files."""
    base = f"/sys/bus/{bus}"
    tree.mkdir(f"{base}/devices")
    tree.mkdir(f"{base}/drivers")
    tree.attr(f"{base}/drivers_autoprobe", 1, MODE_RW)
    tree.attr(f"{base}/drivers_probe", "", MODE_WO)
    tree.attr(f"{base}/uevent", "", MODE_WO)


def add_module(
    tree: TreeWriter,
    name: str,
    *,
    builtin: bool = False,
    parameters: Optional[dict[str, str]] = None,
    coresize: int = 0,
) -> None:
    """``/sys/module/<name>``; a loadable module has ``initstate`` = ``live``
    (kmod treats the bare directory as built-in, kernel-abi.md §4.3) and the
    module attributes of kernel/module/sysfs.c: ``coresize`` (a fact of the
    build), ``initsize`` (0 once init memory is freed), ``taint`` (empty
    for in-tree modules) and ``holders/`` (nothing depends on these)."""
    base = f"/sys/module/{name}"
    tree.mkdir(base)
    if not builtin:
        tree.attr(f"{base}/initstate", "live")
        tree.attr(f"{base}/refcnt", 0)
        tree.attr(f"{base}/coresize", coresize)
        tree.attr(f"{base}/initsize", 0)
        tree.attr(f"{base}/taint", "")
        tree.mkdir(f"{base}/holders")
    if parameters:
        tree.mkdir(f"{base}/parameters")
        for key, value in parameters.items():
            tree.attr(f"{base}/parameters/{key}", value, MODE_RW)


def add_driver(tree: TreeWriter, bus: str, driver: str, *, dynamic_ids: bool = False, bind_attrs: bool = True) -> None:
    """``/sys/bus/<bus>/drivers/<driver>`` with its write-only control files
    (0200): bind, unbind (unless the driver sets suppress_bind_attrs),
    uevent, and new_id/remove_id on the dax bus."""
    base = f"/sys/bus/{bus}/drivers/{driver}"
    tree.mkdir(base)
    names = (["bind", "unbind"] if bind_attrs else []) + ["uevent"] + (["new_id", "remove_id"] if dynamic_ids else [])
    for name in names:
        tree.attr(f"{base}/{name}", "", MODE_WO)
    module = DRIVER_MODULE.get(driver)
    if module and tree.is_dir(f"/sys/module/{module}"):
        tree.symlink(f"{base}/module", f"/sys/module/{module}")
        tree.mkdir(f"/sys/module/{module}/drivers")
        tree.symlink(f"/sys/module/{module}/drivers/{bus}:{driver}", base)


def register_device(tree: TreeWriter, bus_or_class: str, name: str, kpath: str, *, is_class: bool = False) -> None:
    """Link a device into its bus (``/sys/bus/B/devices/name``) or class
    (``/sys/class/C/name``) and give it the ``subsystem`` link."""
    if is_class:
        home = f"/sys/class/{bus_or_class}"
        tree.mkdir(home)
        tree.symlink(f"{home}/{name}", kpath)
    else:
        home = f"/sys/bus/{bus_or_class}"
        tree.mkdir(f"{home}/devices")
        tree.symlink(f"{home}/devices/{name}", kpath)
    tree.symlink(f"{kpath}/subsystem", home)


def unregister_device(tree: TreeWriter, bus_or_class: str, name: str, *, is_class: bool = False) -> None:
    if is_class:
        tree.remove(f"/sys/class/{bus_or_class}/{name}")
    else:
        tree.remove(f"/sys/bus/{bus_or_class}/devices/{name}")


def add_char_device(tree: TreeWriter, kpath: str, devname: str, major: int, minor: int) -> None:
    """``dev`` attribute, ``/sys/dev/char/M:m`` link and the ``/dev`` node."""
    tree.attr(f"{kpath}/dev", f"{major}:{minor}")
    tree.mkdir("/sys/dev/char")
    tree.symlink(f"/sys/dev/char/{major}:{minor}", kpath)
    tree.devnode(f"/dev/{devname}", "c", major, minor)


def remove_char_device(tree: TreeWriter, devname: str, major: int, minor: int) -> None:
    tree.remove(f"/sys/dev/char/{major}:{minor}")
    tree.remove_devnode(f"/dev/{devname}")


def bound_driver(tree: TreeWriter, dev_kpath: str) -> Optional[str]:
    """Name of the driver a device is bound to (basename of ``driver``)."""
    target = tree.readlink(f"{dev_kpath}/driver")
    return None if target is None else posixpath.basename(target)


def bind_driver(tree: TreeWriter, bus: str, driver: str, dev_kpath: str) -> None:
    """Bind: ``<dev>/driver`` -> the driver dir, and the driver dir's
    ``<devname>`` back-link; an existing binding is undone first."""
    unbind_driver(tree, bus, dev_kpath)
    drv = f"/sys/bus/{bus}/drivers/{driver}"
    if not tree.is_dir(drv):
        raise ValueError(f"no driver {driver!r} on bus {bus!r}")
    tree.symlink(f"{dev_kpath}/driver", drv)
    tree.symlink(f"{drv}/{posixpath.basename(dev_kpath)}", dev_kpath)


def unbind_driver(tree: TreeWriter, bus: str, dev_kpath: str) -> Optional[str]:
    """Remove a device's binding; returns the driver it had (None if unbound)."""
    old = bound_driver(tree, dev_kpath)
    if old is not None:
        tree.remove(f"/sys/bus/{bus}/drivers/{old}/{posixpath.basename(dev_kpath)}")
        tree.remove(f"{dev_kpath}/driver")
    return old


def add_device_dir(tree: TreeWriter, kpath: str, *, uevent: str = "") -> None:
    """A device directory with ``uevent`` and ``power/``."""
    tree.mkdir(f"{kpath}/power")
    tree.attr(f"{kpath}/uevent", uevent, MODE_RW)


# =============================================================================
# memory blocks (kernel-abi.md §7.1, §7.2)
# =============================================================================


def memory_block_kpath(index: int) -> str:
    return paths.memory_block(index)


def add_memory_root(tree: TreeWriter, block_size: int, auto_online_blocks: str) -> None:
    """``/sys/devices/system/memory`` root files and the memory bus."""
    root = paths.MEMORY
    tree.mkdir(f"{root}/power")
    # block_size_bytes is hex without 0x (drivers/base/memory.c "%lx").
    tree.attr(paths.BLOCK_SIZE_BYTES, f"{block_size:x}")
    tree.attr(paths.AUTO_ONLINE_BLOCKS, auto_online_blocks, MODE_RW)
    tree.attr(f"{root}/uevent", "", MODE_RW)
    tree.attr(f"{root}/soft_offline_page", "", MODE_WO)
    tree.attr(f"{root}/hard_offline_page", "", MODE_WO)
    add_bus(tree, "memory")


def set_auto_online_blocks(tree: TreeWriter, policy: str) -> None:
    tree.attr(paths.AUTO_ONLINE_BLOCKS, policy, MODE_RW)


@functools.lru_cache(maxsize=None)
def _block_link_prefixes() -> tuple[str, str, str]:
    """Relative link texts shared by every block (computed once: the big
    scenario makes ~200 000 of these links)."""
    bus = relative_link_target("/sys/bus/memory/devices/memoryX", f"{paths.MEMORY}/memoryX")[: -len("memoryX")]
    back = relative_link_target(f"{paths.NODE}/nodeX/memoryX", f"{paths.MEMORY}/memoryX")[: -len("memoryX")]
    subsystem = relative_link_target(f"{paths.MEMORY}/memoryX/subsystem", "/sys/bus/memory")
    return bus, back, subsystem


@functools.lru_cache(maxsize=None)
def _block_node_link(node: int) -> str:
    return relative_link_target(f"{paths.MEMORY}/memoryX/node{node}", paths.node_dir(node))


def add_memory_block(
    tree: TreeWriter, index: int, node: int, *, online: bool, valid_zones: str, removable: bool = True
) -> None:
    """``memoryN`` with its attributes, ``nodeK`` link, the node's back-link
    and the bus link.  ``phys_index`` is the block id in ``%08lx``."""
    kpath = f"{paths.MEMORY}/memory{index}"
    bus_prefix, back_prefix, subsystem = _block_link_prefixes()
    tree.populate(
        kpath,
        files=(
            ("phys_index", f"{index:08x}", MODE_RO),
            ("state", "online" if online else "offline", MODE_RW),
            ("online", "1" if online else "0", MODE_RW),
            ("removable", "1" if removable else "0", MODE_RO),
            ("phys_device", "0", MODE_RO),
            ("valid_zones", valid_zones, MODE_RO),
            ("uevent", "", MODE_RW),
        ),
        links=((f"node{node}", _block_node_link(node)), ("subsystem", subsystem)),
        subdirs=("power",),
    )
    tree.symlink_raw(f"/sys/bus/memory/devices/memory{index}", f"{bus_prefix}memory{index}")
    node_kpath = paths.node_dir(node)
    if tree.is_dir(node_kpath):
        tree.symlink_raw(f"{node_kpath}/memory{index}", f"{back_prefix}memory{index}")


def link_block_to_node(tree: TreeWriter, index: int, node: int) -> None:
    """``nodeK/memoryN`` back-link (used when a node dir appears after its blocks)."""
    tree.symlink(f"{paths.node_dir(node)}/memory{index}", f"{paths.MEMORY}/memory{index}")


def set_memory_block(tree: TreeWriter, index: int, *, online: bool, valid_zones: str) -> None:
    """Change a block's state; ``valid_zones`` is its zone when online, the
    list of candidate zones when offline."""
    kpath = f"{paths.MEMORY}/memory{index}"
    tree.attr(f"{kpath}/state", "online" if online else "offline", MODE_RW)
    tree.attr(f"{kpath}/online", 1 if online else 0, MODE_RW)
    tree.attr(f"{kpath}/valid_zones", valid_zones)


def memory_block_node(tree: TreeWriter, index: int) -> Optional[int]:
    for name in tree.listdir(f"{paths.MEMORY}/memory{index}"):
        if name.startswith("node") and name[4:].isdigit():
            return int(name[4:])
    return None


def remove_memory_block(tree: TreeWriter, index: int) -> None:
    """Hot-remove ``memoryN``: the block dir, node back-link and bus link."""
    node = memory_block_node(tree, index)
    if node is not None:
        tree.remove(f"{paths.node_dir(node)}/memory{index}")
    tree.remove(f"/sys/bus/memory/devices/memory{index}")
    tree.remove(f"{paths.MEMORY}/memory{index}")


_MEMORY_ENTRY = re.compile(r"^memory(\d+)$")


def node_block_indexes(tree: TreeWriter, node: int) -> list[int]:
    """Blocks linked from ``nodeK/`` (``memory_*`` entries are not blocks)."""
    out = []
    for name in tree.listdir(paths.node_dir(node)):
        m = _MEMORY_ENTRY.match(name)
        if m:
            out.append(int(m.group(1)))
    return sorted(out)


def read_memory_block(tree: TreeWriter, index: int) -> tuple[bool, str]:
    """(online, valid_zones) of a block as the tree has it."""
    kpath = f"{paths.MEMORY}/memory{index}"
    return tree.read(f"{kpath}/state").startswith("online"), tree.read(f"{kpath}/valid_zones")


# =============================================================================
# CPUs and NUMA nodes (kernel-abi.md §7.3)
# =============================================================================


def add_cpu_root(
    tree: TreeWriter, possible: Sequence[int], online: Sequence[int], nr_cpu_ids: int, nr_cpus: Optional[int] = None
) -> None:
    """CPU root files; ``kernel_max`` is NR_CPUS - 1 of the build
    (drivers/base/cpu.c print_cpus_kernel_max), not nr_cpu_ids - 1."""
    root = paths.CPU
    tree.mkdir(f"{root}/power")
    tree.attr(f"{root}/possible", format_cpulist(possible))
    tree.attr(f"{root}/present", format_cpulist(possible))
    tree.attr(f"{root}/online", format_cpulist(online))
    tree.attr(f"{root}/offline", format_cpulist(set(possible) - set(online)))
    tree.attr(f"{root}/kernel_max", max((nr_cpus or nr_cpu_ids) - 1, 0))
    tree.attr(f"{root}/uevent", "", MODE_RW)
    add_bus(tree, "cpu")


def add_cpu(tree: TreeWriter, cpu: int, node: int) -> None:
    """``cpuK`` with its ``nodeN`` link (the node dir may be created later)."""
    kpath = f"{paths.CPU}/cpu{cpu}"
    add_device_dir(tree, kpath)
    if cpu != 0:  # cpu0 is not hot-pluggable on x86: no "online" file
        tree.attr(f"{kpath}/online", 1, MODE_RW)
    tree.symlink(f"{kpath}/node{node}", paths.node_dir(node))
    register_device(tree, "cpu", f"cpu{cpu}", kpath)


def add_node_root(tree: TreeWriter) -> None:
    tree.mkdir(f"{paths.NODE}/power")
    tree.attr(f"{paths.NODE}/uevent", "", MODE_RW)
    add_bus(tree, "node")
    set_node_masks(tree, possible=(), online=(), has_cpu=(), has_memory=(), has_normal_memory=(), has_generic_initiator=())


def set_node_masks(
    tree: TreeWriter,
    *,
    possible: Iterable[int],
    online: Iterable[int],
    has_cpu: Iterable[int],
    has_memory: Iterable[int],
    has_normal_memory: Iterable[int],
    has_generic_initiator: Iterable[int],
) -> None:
    """Node state masks: node lists, an empty line when empty."""
    for name, nodes in (
        ("possible", possible),
        ("online", online),
        ("has_cpu", has_cpu),
        ("has_memory", has_memory),
        ("has_normal_memory", has_normal_memory),
        ("has_generic_initiator", has_generic_initiator),
    ):
        tree.attr(f"{paths.NODE}/{name}", format_cpulist(nodes))


def add_node(tree: TreeWriter, node: NodeSpec, *, nr_cpu_ids: int, distance_row: Sequence[int]) -> None:
    """``nodeN/`` with cpulist, cpumap, distance, empty meminfo, numastat,
    vmstat, hugepages, ``cpuK`` links, subsystem and bus links.  Back-links
    to existing memory blocks of the node are added too."""
    kpath = paths.node_dir(node.id)
    add_device_dir(tree, kpath)
    tree.attr(f"{kpath}/cpulist", format_cpulist(node.cpus))
    tree.attr(f"{kpath}/cpumap", layout.cpumask_hex(node.cpus, nr_cpu_ids))
    set_node_distance(tree, node.id, distance_row)
    tree.attr(f"{kpath}/compact", "", MODE_WO)
    tree.attr(f"{kpath}/numastat", _numastat(node))
    tree.attr(f"{kpath}/vmstat", _node_vmstat(node))
    for size_kb in (2048, 1048576):
        hp = f"{kpath}/hugepages/hugepages-{size_kb}kB"
        tree.mkdir(hp)
        tree.attr(f"{hp}/nr_hugepages", 0, MODE_RW)
        tree.attr(f"{hp}/free_hugepages", 0)
        tree.attr(f"{hp}/surplus_hugepages", 0)
        if size_kb == 1048576:
            # mm/hugetlb.c: gigantic pages can be demoted to the next smaller
            # hstate (demote 0200, demote_size 0644)
            tree.attr(f"{hp}/demote", "", MODE_WO)
            tree.attr(f"{hp}/demote_size", "2048kB", MODE_RW)
    # arch/x86: the node's "x86" attribute group (SGX EPC figures, hidden
    # without SGX) leaves an empty directory
    tree.mkdir(f"{kpath}/x86")
    for cpu in node.cpus:
        tree.symlink(f"{kpath}/cpu{cpu}", f"{paths.CPU}/cpu{cpu}")
    write_node_meminfo(tree, node.id, 0, 0)
    register_device(tree, "node", f"node{node.id}", kpath)


def remove_node(tree: TreeWriter, node_id: int) -> None:
    """A node goes offline: its directory and bus link disappear."""
    tree.remove(f"/sys/bus/node/devices/node{node_id}")
    tree.remove(paths.node_dir(node_id))


def set_node_distance(tree: TreeWriter, node_id: int, row: Sequence[int]) -> None:
    """SLIT row over *online* nodes only (it grows when a node comes online)."""
    tree.attr(f"{paths.node_dir(node_id)}/distance", " ".join(str(d) for d in row))


def format_node_meminfo(node_id: int, values: dict[str, int]) -> str:
    """``Node N Key:<pad>%8lu kB`` lines in the kernel's key order; the
    HugePages lines have no unit and a ``%5u`` field (drivers/base/node.c)."""
    lines = [f"Node {node_id} {key + ':':<16}{values.get(key, 0):>8} kB" for key in MEMINFO_KEYS]
    lines += [f"Node {node_id} {key + ':':<17}{values.get(key, 0):>5}" for key in HUGEPAGE_KEYS]
    return "\n".join(lines) + "\n"


def meminfo_values(mem_total_kb: int, mem_free_kb: int) -> dict[str, int]:
    """Plausible meminfo breakdown whose MemTotal/MemFree/MemUsed are exact."""
    used = max(mem_total_kb - mem_free_kb, 0)
    file_pages = used * 45 // 100
    anon = used * 20 // 100
    slab = used * 12 // 100
    sreclaimable = slab * 3 // 4
    return {
        "MemTotal": mem_total_kb,
        "MemFree": mem_free_kb,
        "MemUsed": used,
        "Active": file_pages // 4 + anon // 2,
        "Inactive": file_pages * 3 // 4 + anon // 2,
        "Active(anon)": anon // 2,
        "Inactive(anon)": anon - anon // 2,
        "Active(file)": file_pages // 4,
        "Inactive(file)": file_pages - file_pages // 4,
        "FilePages": file_pages,
        "Mapped": file_pages // 10,
        "AnonPages": anon,
        "Shmem": used // 50,
        "KernelStack": min(used // 100, 16384),
        "PageTables": used // 100,
        "KReclaimable": sreclaimable,
        "Slab": slab,
        "SReclaimable": sreclaimable,
        "SUnreclaim": slab - sreclaimable,
    }


def write_node_meminfo(tree: TreeWriter, node_id: int, mem_total_kb: int, mem_free_kb: int) -> None:
    tree.attr(
        f"{paths.node_dir(node_id)}/meminfo",
        format_node_meminfo(node_id, meminfo_values(mem_total_kb, mem_free_kb)),
    )


def _numastat(node: NodeSpec) -> str:
    hits = node.used_kb // 4
    return "\n".join(
        f"{k} {v}"
        for k, v in (
            ("numa_hit", hits),
            ("numa_miss", 0),
            ("numa_foreign", 0),
            ("interleave_hit", 0),
            ("local_node", hits),
            ("other_node", 0),
        )
    )


def _node_vmstat(node: NodeSpec) -> str:
    return "\n".join(f"{k} 0" for k in NODE_VMSTAT_KEYS)


def node_mem_total_kb(node: NodeSpec, block_size: int, online_blocks: Iterable[int]) -> int:
    """MemTotal of a node: present memory of its *online* blocks minus what
    the kernel reserved at boot.  A boot block counts only the DRAM inside
    it (holes); a hot-added block counts whole."""
    total = 0
    for index in online_blocks:
        lo, hi = index * block_size, (index + 1) * block_size
        boot = sum(layout.overlap((lo, hi), r) for r in node.dram)
        total += boot if boot else block_size
    return max(total // 1024 - node.reserved_kb, 0)


def add_node_access(tree: TreeWriter, target: int, access_index: int, access: AccessClassSpec) -> None:
    """``nodeT/accessY/initiators/`` with the HMAT figures and ``nodeI`` links,
    and ``nodeI/accessY/targets/nodeT`` on each initiator that is online."""
    base = f"{paths.node_dir(target)}/access{access_index}"
    add_device_dir(tree, base)
    init = f"{base}/initiators"
    tree.mkdir(init)
    tree.mkdir(f"{base}/targets")
    tree.attr(f"{init}/read_latency", access.read_latency)
    tree.attr(f"{init}/write_latency", access.write_latency)
    tree.attr(f"{init}/read_bandwidth", access.read_bandwidth)
    tree.attr(f"{init}/write_bandwidth", access.write_bandwidth)
    for initiator in access.initiators:
        tree.symlink(f"{init}/node{initiator}", paths.node_dir(initiator))
        init_dir = paths.node_dir(initiator)
        if tree.is_dir(init_dir):
            tree.mkdir(f"{init_dir}/access{access_index}/targets")
            tree.mkdir(f"{init_dir}/access{access_index}/initiators")
            tree.symlink(f"{init_dir}/access{access_index}/targets/node{target}", paths.node_dir(target))


def remove_node_access(tree: TreeWriter, target: int, access_index: int, access: AccessClassSpec) -> None:
    for initiator in access.initiators:
        tree.remove(f"{paths.node_dir(initiator)}/access{access_index}/targets/node{target}")
    tree.remove(f"{paths.node_dir(target)}/access{access_index}")


# =============================================================================
# memory tiers (kernel-abi.md §7.4)
# =============================================================================


def set_memory_tiers(tree: TreeWriter, tiers: Mapping[int, Sequence[int]]) -> None:
    """Make ``memory_tierN`` dirs match ``tiers`` (tier -> nodes): a tier dir
    exists only while it has nodes."""
    root = paths.MEMORY_TIERING
    tree.mkdir(f"{root}/power")
    tree.attr(f"{root}/uevent", "", MODE_RW)
    add_bus(tree, "memory_tiering")
    wanted = {t: list(nodes) for t, nodes in tiers.items() if nodes}
    for name in tree.listdir(root):
        m = re.match(r"^memory_tier(\d+)$", name)
        if m and int(m.group(1)) not in wanted:
            unregister_device(tree, "memory_tiering", name)
            tree.remove(f"{root}/{name}")
    for tier, nodes in sorted(wanted.items()):
        kpath = f"{root}/memory_tier{tier}"
        add_device_dir(tree, kpath)
        tree.attr(f"{kpath}/nodelist", format_cpulist(nodes))
        register_device(tree, "memory_tiering", f"memory_tier{tier}", kpath)


def set_demotion_enabled(tree: TreeWriter, enabled: bool) -> None:
    tree.mkdir(posixpath.dirname(paths.DEMOTION_ENABLED))
    tree.attr(paths.DEMOTION_ENABLED, "true" if enabled else "false", MODE_RW)


def add_memory_hotplug_params(
    tree: TreeWriter, *, memmap_on_memory: str, online_policy: str, auto_movable_ratio: int, auto_movable_numa_aware: str
) -> None:
    """``/sys/module/memory_hotplug/parameters`` (mm/memory_hotplug.c; built in)."""
    add_module(
        tree,
        "memory_hotplug",
        builtin=True,
        parameters={
            "memmap_on_memory": memmap_on_memory,
            "online_policy": online_policy,
            "auto_movable_ratio": str(auto_movable_ratio),
            "auto_movable_numa_aware": auto_movable_numa_aware,
        },
    )
    # memmap_on_memory is read-only once booted (0444 in mm/memory_hotplug.c).
    tree.attr(f"{paths.MEMORY_HOTPLUG_PARAMS}/memmap_on_memory", memmap_on_memory, MODE_RO)


# =============================================================================
# derived state recomputed from the tree (for a reacting kernel)
# =============================================================================


def refresh_valid_zones(tree: TreeWriter, node_id: int, block_size: int, *, movable_node: bool = False) -> None:
    """Rewrite ``valid_zones`` of the node's offline blocks from the zone
    spans of its online blocks (layout.offline_valid_zones)."""
    states = {i: read_memory_block(tree, i) for i in node_block_indexes(tree, node_id)}
    spans = layout.zone_spans(
        (zones, i * block_size, (i + 1) * block_size) for i, (online, zones) in states.items() if online
    )
    for index, (online, zones) in states.items():
        if online:
            continue
        wanted = layout.offline_valid_zones(index * block_size, (index + 1) * block_size, spans, movable_node)
        if wanted != zones:
            tree.attr(f"{paths.MEMORY}/memory{index}/valid_zones", wanted)


def refresh_node_meminfo(tree: TreeWriter, node: NodeSpec, block_size: int) -> int:
    """Recompute ``nodeN/meminfo`` from the node's online blocks; returns MemTotal kB."""
    online = [i for i in node_block_indexes(tree, node.id) if read_memory_block(tree, i)[0]]
    total = node_mem_total_kb(node, block_size, online)
    free = max(total - node.used_kb, 0)
    write_node_meminfo(tree, node.id, total, free)
    return total


# =============================================================================
# /proc
# =============================================================================


def write_proc_cmdline(tree: TreeWriter, cmdline: str) -> None:
    tree.mkdir("/proc")
    tree.attr(paths.PROC_CMDLINE, cmdline)


def format_proc_meminfo(mem_total_kb: int, mem_free_kb: int, hugepagesize_kb: int = 2048) -> str:
    """``/proc/meminfo``: ``Key:`` padded to 16 columns, value ``%8lu kB``."""
    v = meminfo_values(mem_total_kb, mem_free_kb)
    buffers = v["FilePages"] // 40
    values: list[tuple[str, int, bool]] = [
        ("MemTotal", mem_total_kb, True),
        ("MemFree", mem_free_kb, True),
        ("MemAvailable", mem_free_kb + v["FilePages"] // 2, True),
        ("Buffers", buffers, True),
        ("Cached", v["FilePages"] - buffers, True),
    ]
    for key in ("SwapCached", "Active", "Inactive", "Active(anon)", "Inactive(anon)", "Active(file)",
                "Inactive(file)", "Unevictable", "Mlocked"):
        values.append((key, v.get(key, 0), True))
    values += [("SwapTotal", 0, True), ("SwapFree", 0, True), ("Zswap", 0, True), ("Zswapped", 0, True)]
    for key in ("Dirty", "Writeback", "AnonPages", "Mapped", "Shmem", "KReclaimable", "Slab", "SReclaimable",
                "SUnreclaim", "KernelStack", "PageTables", "SecPageTables", "NFS_Unstable", "Bounce",
                "WritebackTmp"):
        values.append((key, v.get(key, 0), True))
    values += [
        ("CommitLimit", mem_total_kb // 2, True),
        ("Committed_AS", v["MemUsed"], True),
        ("VmallocTotal", 34359738367, True),
        ("VmallocUsed", 0, True),
        ("VmallocChunk", 0, True),
        ("Percpu", 0, True),
        ("HardwareCorrupted", 0, True),  # CONFIG_MEMORY_FAILURE
    ]
    for key in ("AnonHugePages", "ShmemHugePages", "ShmemPmdMapped", "FileHugePages", "FilePmdMapped"):
        values.append((key, 0, True))
    values += [
        ("HugePages_Total", 0, False),
        ("HugePages_Free", 0, False),
        ("HugePages_Rsvd", 0, False),
        ("HugePages_Surp", 0, False),
        ("Hugepagesize", hugepagesize_kb, True),
        ("Hugetlb", 0, True),
        # arch/x86/mm/pat/set_memory.c arch_report_meminfo: the direct map by page size
        ("DirectMap4k", mem_total_kb % 2048, True),
        ("DirectMap2M", mem_total_kb - mem_total_kb % 2048, True),
        ("DirectMap1G", 0, True),
    ]
    return "".join(f"{key + ':':<16}{value:>8}{' kB' if kb else ''}\n" for key, value, kb in values)


def write_proc_meminfo(tree: TreeWriter, mem_total_kb: int, mem_free_kb: int) -> None:
    tree.mkdir("/proc")
    tree.attr(paths.PROC_MEMINFO, format_proc_meminfo(mem_total_kb, mem_free_kb))


def format_iomem(entries: Iterable[IomemEntrySpec]) -> str:
    """Nest resources by containment and print them like /proc/iomem:
    two spaces per level, addresses ``%0*llx`` with at least 8 digits
    (kernel/resource.c r_show)."""
    ordered = sorted(entries, key=lambda e: (e.start, -e.end_incl, e.rank))
    lines: list[str] = []
    stack: list[IomemEntrySpec] = []
    for entry in ordered:
        while stack and not (stack[-1].start <= entry.start and entry.end_incl <= stack[-1].end_incl):
            stack.pop()
        depth = len(stack)
        lines.append(f"{'  ' * depth}{entry.start:08x}-{entry.end_incl:08x} : {entry.name}")
        stack.append(entry)
    return "\n".join(lines) + "\n" if lines else ""


def write_proc_iomem(tree: TreeWriter, entries: Iterable[IomemEntrySpec]) -> None:
    tree.mkdir("/proc")
    # /proc/iomem is 0444 but shows zeros to non-root; the tree keeps real values.
    tree.attr(paths.PROC_IOMEM, format_iomem(entries))


# =============================================================================
# nd bus, DIMMs, regions, namespaces (kernel-abi.md §5.1, §7.7)
# =============================================================================


def add_nd_root(tree: TreeWriter) -> None:
    """The nd bus with its five drivers and ``/sys/class/nd``."""
    add_bus(tree, "nd")
    tree.mkdir("/sys/class/nd")
    for driver in ND_DRIVERS:
        # drivers/nvdimm/bus.c: nd_bus_driver sets suppress_bind_attrs
        add_driver(tree, "nd", driver, bind_attrs=driver != "nd_bus")


def add_nd_bus(tree: TreeWriter, bus: BusSpec) -> None:
    """``ndbusN`` under its provider device, the ``nd/ndctlN`` class device
    (``dev``, ``device`` link, ``/sys/class/nd`` and ``/sys/dev/char`` links,
    ``/dev/ndctlN``) and the ``nd_bus`` binding."""
    kpath = bus.kpath
    parent = posixpath.dirname(kpath)
    if bus.nfit and not tree.exists(f"{parent}/hid"):
        add_acpi_nfit_device(tree, parent)
    add_device_dir(tree, kpath)
    tree.attr(f"{kpath}/commands", bus.commands)
    tree.attr(f"{kpath}/provider", bus.provider)
    # drivers/nvdimm/bus.c wait_probe_show: waits for probing to settle, then "1"
    tree.attr(f"{kpath}/wait_probe", 1)
    # the "firmware" attribute group: activate/capability only with firmware
    # activation ops (nvdimm_bus_firmware_visible), else an empty directory
    tree.mkdir(f"{kpath}/firmware")
    if bus.nfit:
        tree.mkdir(f"{kpath}/nfit")
        tree.attr(f"{kpath}/nfit/revision", 1)
        tree.attr(f"{kpath}/nfit/dsm_mask", "0x3bf" if "ars_cap" in bus.commands else "0x0")
        # drivers/acpi/nfit/core.c nfit_visible: scrub only with ARS; the
        # hw_error_scrub mode is always there, off (0) until written
        tree.attr(f"{kpath}/nfit/hw_error_scrub", 0, MODE_RW)
        if "ars_cap" in bus.commands:
            tree.attr(f"{kpath}/nfit/scrub", 0, MODE_RW)
    register_device(tree, "nd", bus.name, kpath)
    bind_driver(tree, "nd", "nd_bus", kpath)
    ctl = f"{kpath}/nd/ndctl{bus.id}"
    add_device_dir(tree, ctl, uevent=f"MAJOR={bus.major}\nMINOR={bus.minor}\nDEVNAME=ndctl{bus.id}")
    tree.symlink(f"{ctl}/device", kpath)
    add_char_device(tree, ctl, f"ndctl{bus.id}", bus.major, bus.minor)
    register_device(tree, "nd", f"ndctl{bus.id}", ctl, is_class=True)


def add_acpi_nfit_device(tree: TreeWriter, kpath: str) -> None:
    """The ACPI NVDIMM root device (``ACPI0012:00``) an NFIT bus hangs off:
    hid/path/modalias, on the acpi bus, bound to the ``nfit`` driver, with
    the ``physical_node`` link to its platform device."""
    add_device_dir(tree, kpath)
    tree.attr(f"{kpath}/hid", "ACPI0012")
    tree.attr(f"{kpath}/path", "\\_SB_.NVDR")
    tree.attr(f"{kpath}/modalias", "acpi:ACPI0012:")
    name = posixpath.basename(kpath)
    tree.mkdir("/sys/bus/acpi/drivers/nfit")
    register_device(tree, "acpi", name, kpath)
    bind_driver(tree, "acpi", "nfit", kpath)
    platform = f"/sys/devices/platform/{name}"
    add_device_dir(tree, platform)
    tree.symlink(f"{platform}/firmware_node", kpath)
    tree.symlink(f"{kpath}/physical_node", platform)


def add_dimm(tree: TreeWriter, dimm: DimmSpec) -> None:
    """``nmemN`` with its NFIT attributes, bound to ``nvdimm``.  ``state``
    starts idle; :func:`refresh_dimm_states` sets it once regions exist."""
    kpath = dimm.kpath
    add_device_dir(tree, kpath, uevent=f"MAJOR={dimm.major}\nMINOR={dimm.minor}\nDEVNAME=nmem{dimm.id}")
    add_char_device(tree, kpath, dimm.name, dimm.major, dimm.minor)
    tree.attr(f"{kpath}/commands", dimm.commands)
    tree.attr(f"{kpath}/state", "idle")
    tree.attr(f"{kpath}/available_slots", dimm.available_slots)
    if dimm.security != "none":
        # dimm_devs.c nvdimm_visible: security and frozen only with security ops
        tree.attr(f"{kpath}/security", dimm.security, MODE_RW)
        tree.attr(f"{kpath}/frozen", 0)
    # the "firmware" group: activate/result only with firmware ops
    tree.mkdir(f"{kpath}/firmware")
    tree.attr(f"{kpath}/flags", "label " if dimm.labeled else "")
    tree.attr(f"{kpath}/modalias", f"nd:t{ND_DEVICE_DIMM}")
    tree.attr(f"{kpath}/devtype", "nvdimm")
    nfit = f"{kpath}/nfit"
    tree.mkdir(nfit)
    tree.attrs(
        nfit,
        {
            "handle": f"{dimm.handle:#x}",
            "phys_id": f"{dimm.phys_id:#x}",
            "serial": f"0x{dimm.serial:08x}",
            "id": dimm.nfit_id,
            "vendor": f"0x{dimm.vendor:04x}",
            "device": f"0x{dimm.device:04x}",
            "rev_id": f"0x{dimm.rev_id:04x}",
            "subsystem_vendor": f"0x{dimm.subsystem_vendor:04x}",
            "subsystem_device": f"0x{dimm.subsystem_device:04x}",
            "subsystem_rev_id": f"0x{dimm.subsystem_rev_id:04x}",
            "format": f"0x{dimm.format:04x}",
            "formats": dimm.formats,
            "family": dimm.family,
            "dsm_mask": f"{dimm.dsm_mask:#x}",
            "flags": "",
        },
    )
    register_device(tree, "nd", dimm.name, kpath)
    bind_driver(tree, "nd", "nvdimm", kpath)


def set_dimm_state(tree: TreeWriter, dimm_kpath: str, active: bool) -> None:
    """``state``: "active" while nvdimm->busy, which init_active_labels
    (namespace_devs.c) raises for each enabled region mapping a DIMM that has
    driver data, and deactivate_labels drops when the region is disabled."""
    tree.attr(f"{dimm_kpath}/state", "active" if active else "idle")


def refresh_dimm_states(tree: TreeWriter, buses: Iterable[BusSpec]) -> None:
    """Recompute every DIMM's ``state`` from the regions bound to nd_region."""
    for bus in buses:
        for dimm in bus.dimms:
            if not tree.is_dir(dimm.kpath):
                continue
            active = dimm.has_driver_data and bound_driver(tree, dimm.kpath) is not None and any(
                bound_driver(tree, r.kpath) is not None and any(mp.dimm == dimm.name for mp in r.mappings)
                for r in bus.regions
            )
            set_dimm_state(tree, dimm.kpath, active)


def _nd_common(tree: TreeWriter, kpath: str, *, modalias: str, devtype: str, numa_node: int, target_node: int) -> None:
    add_device_dir(tree, kpath)
    tree.attr(f"{kpath}/modalias", modalias)
    tree.attr(f"{kpath}/devtype", devtype)
    tree.attr(f"{kpath}/numa_node", numa_node)
    tree.attr(f"{kpath}/target_node", target_node)


def add_region(tree: TreeWriter, region: RegionSpec) -> None:
    """``regionN`` with every attribute of kernel-abi.md §7.7; seeds and
    space are written by :func:`write_region_seeds` / :func:`set_region_space`."""
    kpath = region.kpath
    _nd_common(
        tree, kpath, modalias=f"nd:t{ND_DEVICE_REGION_PMEM}", devtype="nd_pmem",
        numa_node=region.numa_node, target_node=region.target_node,
    )
    tree.attr(f"{kpath}/size", region.size)
    tree.attr(f"{kpath}/align", f"{region.align:#x}", MODE_RW)
    tree.attr(f"{kpath}/nstype", region.nstype)
    tree.attr(f"{kpath}/mappings", len(region.mappings))
    for i, m in enumerate(region.mappings):
        tree.attr(f"{kpath}/mapping{i}", f"{m.dimm},{m.offset},{m.length},{m.position}")
    tree.attr(f"{kpath}/read_only", 1 if region.read_only else 0, MODE_RW)
    tree.attr(f"{kpath}/resource", f"{region.base:#x}", MODE_ROOT_RO)
    if region.set_cookie is not None:
        tree.attr(f"{kpath}/set_cookie", f"{region.set_cookie:#x}")
    if region.persistence_domain:
        tree.attr(f"{kpath}/persistence_domain", region.persistence_domain)
    if region.deep_flush is not None:
        # Writable only when the region has flush hints (region_visible).
        tree.attr(f"{kpath}/deep_flush", region.deep_flush, MODE_RW if region.deep_flush == 1 else MODE_RO)
    # badblocks_show prints one line per bad range: nothing at all when clean
    tree.write_bytes(f"{kpath}/badblocks", b"")
    tree.mkdir(f"{kpath}/nfit")
    tree.attr(f"{kpath}/nfit/range_index", region.range_index)
    active = sum(1 for ns in region.namespaces if not ns.seed and (ns.enabled or ns.holder_enabled))
    configured = sum(1 for ns in region.namespaces if not ns.seed)
    if region.labeled and configured == 0:
        # a labelled region with no labels yet registers one idle namespace
        # at probe and counts it (the real guest after `ndctl init-labels`: 1/1)
        active = configured = 1
    tree.attr(f"{kpath}/init_namespaces", f"{active}/{configured}")
    set_region_space(tree, region.kpath, region.available_size, region.max_available_extent)
    write_region_seeds(
        tree, kpath, namespace_seed=region.namespace_seed, pfn_seed=region.pfn_seed,
        dax_seed=region.dax_seed, btt_seed=region.btt_seed,
    )
    register_device(tree, "nd", region.name, kpath)
    if region.enabled:
        bind_driver(tree, "nd", "nd_region", kpath)


def set_region_space(tree: TreeWriter, region_kpath: str, available_size: Optional[int], max_available_extent: int) -> None:
    """``available_size`` exists on labelled regions only (region_visible)."""
    if available_size is not None:
        tree.attr(f"{region_kpath}/available_size", available_size)
    tree.attr(f"{region_kpath}/max_available_extent", max_available_extent)


def write_region_seeds(
    tree: TreeWriter, region_kpath: str, *, namespace_seed: str, pfn_seed: str, dax_seed: str, btt_seed: str
) -> None:
    """Seed attributes hold a device name or an empty line."""
    for attr, value in (
        ("namespace_seed", namespace_seed),
        ("pfn_seed", pfn_seed),
        ("dax_seed", dax_seed),
        ("btt_seed", btt_seed),
    ):
        tree.attr(f"{region_kpath}/{attr}", value)


def format_size_select(selected: Optional[int], supported: Sequence[int]) -> str:
    """``512 [4096] `` style list: every value followed by a space, the
    selected one in brackets (nd_size_select_show); libndctl drops a last
    token without its trailing space."""
    return "".join(f"[{s}] " if s == selected else f"{s} " for s in supported)


def add_namespace(tree: TreeWriter, region: RegionSpec, ns: NamespaceSpec) -> None:
    """``namespaceR.N``: io namespaces expose only nstype, size (read-only),
    holder, holder_class, force_raw, mode and resource; labelled pmem ones add
    uuid, alt_name, sector_size, dpa_extents and a writable size."""
    kpath = ns.kpath
    _nd_common(
        tree, kpath, modalias=f"nd:t{ns.nstype}",
        devtype="nd_namespace_io" if ns.nstype == 4 else "nd_namespace_pmem",
        numa_node=ns.numa_node, target_node=ns.target_node,
    )
    tree.attr(f"{kpath}/nstype", ns.nstype)
    tree.attr(f"{kpath}/size", ns.size, MODE_RW if ns.nstype == 5 else MODE_RO)
    tree.attr(f"{kpath}/holder", ns.holder or "")
    tree.attr(f"{kpath}/holder_class", ns.holder_class, MODE_RW)
    tree.attr(f"{kpath}/force_raw", 0, MODE_RW)
    tree.attr(f"{kpath}/mode", namespace_mode_attr(ns))
    if ns.size and ns.resource is not None:
        # resource reads fail with ENXIO while the size is 0: leave it out.
        tree.attr(f"{kpath}/resource", f"{ns.resource:#x}", MODE_ROOT_RO)
    if ns.nstype == 5:
        tree.attr(f"{kpath}/uuid", ns.uuid or "", MODE_RW)
        tree.attr(f"{kpath}/alt_name", ns.alt_name, MODE_RW)
        tree.attr(f"{kpath}/sector_size", format_size_select(ns.sector_size, NAMESPACE_SECTOR_SIZES), MODE_RW)
        tree.attr(f"{kpath}/dpa_extents", len(region.mappings) if ns.size else 0)
    register_device(tree, "nd", ns.name, kpath)
    if ns.enabled:
        bind_driver(tree, "nd", "nd_pmem", kpath)


def namespace_mode_attr(ns: NamespaceSpec) -> str:
    """The namespace ``mode`` attribute: safe (btt), memory (pfn), dax, raw."""
    return {"sector": "safe", "fsdax": "memory", "devdax": "dax"}.get(ns.mode, "raw")


def remove_nd_device(tree: TreeWriter, kpath: str) -> None:
    unbind_driver(tree, "nd", kpath)
    unregister_device(tree, "nd", posixpath.basename(kpath))
    tree.remove(kpath)


def add_claim_seed(tree: TreeWriter, region: RegionSpec, name: str) -> None:
    """An idle pfn/dax/btt seed: no namespace, no uuid, no size/resource
    (those read ENXIO until the device is enabled)."""
    kind = re.sub(r"\d.*$", "", name)
    kpath = f"{region.kpath}/{name}"
    _write_claim_device(tree, region, kpath, kind, namespace="", uuid="", align=SUPPORTED_ALIGNMENTS[1],
                        mode="none", sector_size=None)
    register_device(tree, "nd", name, kpath)


def _write_claim_device(
    tree: TreeWriter,
    region: RegionSpec,
    kpath: str,
    kind: str,
    *,
    namespace: str,
    uuid: str,
    align: int,
    mode: str,
    sector_size: Optional[int],
) -> None:
    modalias = f"nd:t{ND_DEVICE_DAX_PMEM}" if kind == "dax" else f"nd:t{region.nstype}"
    _nd_common(
        tree, kpath, modalias=modalias, devtype=f"nd_{kind}",
        numa_node=region.numa_node, target_node=region.target_node,
    )
    tree.attr(f"{kpath}/uuid", uuid, MODE_RW)
    tree.attr(f"{kpath}/namespace", namespace, MODE_RW)
    if kind == "btt":
        tree.attr(f"{kpath}/sector_size", format_size_select(sector_size, layout.BTT_SECTOR_SIZES), MODE_RW)
        tree.attr(f"{kpath}/log_zero_flags", "Y")
    else:
        tree.attr(f"{kpath}/mode", mode, MODE_RW)
        tree.attr(f"{kpath}/align", align, MODE_RW)
        tree.attr(f"{kpath}/supported_alignments", format_size_select(None, SUPPORTED_ALIGNMENTS))


def add_claim(tree: TreeWriter, region: RegionSpec, ns: NamespaceSpec) -> None:
    """The pfn/dax/btt device that claims ``ns`` (fsdax/devdax/sector), with
    ``size``/``resource`` while enabled, bound to nd_pmem or dax_pmem."""
    if ns.holder is None or ns.holder_kpath is None:
        raise ValueError(f"{ns.name} is not claimed")
    kind = ns.holder_class
    kpath = ns.holder_kpath
    _write_claim_device(
        tree, region, kpath, kind, namespace=ns.name, uuid=ns.holder_uuid or "",
        align=ns.holder_align or SUPPORTED_ALIGNMENTS[1], mode=ns.holder_map or "pmem",
        sector_size=ns.btt_sector_size,
    )
    if ns.holder_enabled:
        tree.attr(f"{kpath}/size", ns.usable_size or 0)
        if kind != "btt" and ns.data_start is not None:
            tree.attr(f"{kpath}/resource", f"{ns.data_start:#x}", MODE_ROOT_RO)
    register_device(tree, "nd", ns.holder, kpath)
    if ns.holder_enabled:
        bind_driver(tree, "nd", "dax_pmem" if kind == "dax" else "nd_pmem", kpath)


#: Minors a disk allocated with blk_alloc_disk and no fixed range may use
#: (ext_range: DISK_MAX_PARTS).
DISK_MAX_PARTS = 256


def add_block_device(
    tree: TreeWriter,
    parent_kpath: str,
    name: str,
    major: int,
    minor: int,
    size_bytes: int,
    *,
    diskseq: int = 1,
    dax: bool = True,
) -> None:
    """``<parent>/block/<name>`` (pmem disk), ``/sys/block``, ``/sys/class/block``,
    ``/sys/dev/block`` links and the ``/dev`` block node.  The attributes are
    those of block/genhd.c disk_attrs for an idle, partition-less pmem disk;
    ``diskseq`` is the boot-wide disk sequence number (inc_diskseq)."""
    kpath = f"{parent_kpath}/block/{name}"
    add_device_dir(tree, kpath, uevent=f"MAJOR={major}\nMINOR={minor}\nDEVNAME={name}\nDEVTYPE=disk")
    tree.attr(f"{kpath}/dev", f"{major}:{minor}")
    tree.attr(f"{kpath}/size", size_bytes // SECTOR)
    tree.attr(f"{kpath}/ro", 0)
    tree.attr(f"{kpath}/removable", 0)
    tree.attr(f"{kpath}/range", 0)  # minors: 0 with extended devts (GENHD_FL_EXT_DEVT)
    tree.attr(f"{kpath}/ext_range", DISK_MAX_PARTS)
    tree.attr(f"{kpath}/hidden", 0)
    tree.attr(f"{kpath}/capability", 0)
    tree.attr(f"{kpath}/alignment_offset", 0)
    tree.attr(f"{kpath}/discard_alignment", 0)
    tree.attr(f"{kpath}/diskseq", diskseq)
    # disk_events: pmem reports no media events; the show functions print
    # nothing at all (no newline) and polling is "-1" (the default)
    tree.write_bytes(f"{kpath}/events", b"")
    tree.write_bytes(f"{kpath}/events_async", b"")
    tree.attr(f"{kpath}/events_poll_msecs", -1, MODE_RW)
    tree.write_bytes(f"{kpath}/badblocks", b"", MODE_RW)  # badblocks_show: one line per range
    tree.attr(f"{kpath}/inflight", f"{0:>8} {0:>8}")
    tree.attr(f"{kpath}/stat", " ".join(f"{0:>8}" for _ in range(17)))  # part_stat_show: 17 counters
    tree.mkdir(f"{kpath}/holders")
    tree.mkdir(f"{kpath}/slaves")
    if dax:
        # drivers/nvdimm/pmem.c: a pmem disk (raw or fsdax, not btt) has the
        # "dax" group with write_cache
        tree.mkdir(f"{kpath}/dax")
        tree.attr(f"{kpath}/dax/write_cache", 1, MODE_RW)
    bdi = f"/sys/devices/virtual/bdi/{major}:{minor}"
    tree.mkdir(bdi)
    tree.symlink(f"{kpath}/bdi", bdi)
    tree.mkdir(f"{kpath}/queue")
    tree.attr(f"{kpath}/queue/logical_block_size", 512)
    tree.attr(f"{kpath}/queue/dax", 1)
    tree.symlink(f"{kpath}/device", parent_kpath)
    tree.mkdir("/sys/block")
    tree.symlink(f"/sys/block/{name}", kpath)
    register_device(tree, "block", name, kpath, is_class=True)
    tree.mkdir("/sys/dev/block")
    tree.symlink(f"/sys/dev/block/{major}:{minor}", kpath)
    tree.devnode(f"/dev/{name}", "b", major, minor)


def remove_block_device(tree: TreeWriter, parent_kpath: str, name: str, major: int, minor: int) -> None:
    tree.remove(f"/sys/block/{name}")
    tree.remove(f"/sys/class/block/{name}")
    tree.remove(f"/sys/dev/block/{major}:{minor}")
    tree.remove_devnode(f"/dev/{name}")
    tree.remove(f"{parent_kpath}/block/{name}")
    tree.remove(f"/sys/devices/virtual/bdi/{major}:{minor}")
    tree.remove_if_empty(f"{parent_kpath}/block")


# =============================================================================
# dax bus (kernel-abi.md §4.1, §7.5)
# =============================================================================


def add_dax_root(tree: TreeWriter) -> None:
    add_bus(tree, "dax")
    for driver in DAX_DRIVERS:
        add_driver(tree, "dax", driver, dynamic_ids=True)


def add_dax_region_attrs(tree: TreeWriter, region: DaxRegionSpec) -> None:
    """``<parent>/dax_region/``: id, size, align (0400); dynamic regions also
    available_size, seed, create (0644) and delete (0200)."""
    base = f"{region.kpath}/dax_region"
    tree.mkdir(base)
    tree.attr(f"{base}/id", region.id)
    tree.attr(f"{base}/size", region.size)
    tree.attr(f"{base}/align", region.align, MODE_ROOT_RO)
    if region.dynamic:
        tree.attr(f"{base}/available_size", region.available_size)
        tree.attr(f"{base}/seed", region.seed)
        tree.attr(f"{base}/create", "", MODE_RW)
        tree.attr(f"{base}/delete", "", MODE_WO)


def add_dax_device(tree: TreeWriter, dev: DaxDeviceSpec, *, dynamic: bool, memmap_on_memory: Optional[bool] = None) -> None:
    """``daxX.Y`` on the dax bus: dev, size, align, resource, target_node,
    numa_node, modalias, mappingN/, bus and ``/sys/dev/char`` links, the
    ``/dev/daxX.Y`` node (present whether bound or not), and the driver."""
    kpath = dev.kpath
    add_device_dir(tree, kpath, uevent=f"MAJOR={dev.major}\nMINOR={dev.minor}\nDEVNAME={dev.name}")
    size_mode = MODE_RW if dynamic else MODE_RO  # static (pmem) devices: 0444
    tree.attr(f"{kpath}/size", dev.size, size_mode)
    tree.attr(f"{kpath}/align", dev.align, size_mode)
    tree.attr(f"{kpath}/resource", f"{dev.resource:#x}", MODE_ROOT_RO)
    if dev.target_node >= 0:
        tree.attr(f"{kpath}/target_node", dev.target_node)
    tree.attr(f"{kpath}/numa_node", dev.numa_node)
    # drivers/dax/bus.c modalias_show: "dax:t%d" with type 0 (the "*" is only
    # in the modules' MODULE_ALIAS patterns)
    tree.attr(f"{kpath}/modalias", "dax:t0")
    if dynamic:
        tree.attr(f"{kpath}/mapping", "", MODE_WO)
    if memmap_on_memory is not None:
        tree.attr(f"{kpath}/memmap_on_memory", 1 if memmap_on_memory else 0, MODE_RW)
    for i, m in enumerate(dev.mappings):
        mdir = f"{kpath}/mapping{i}"
        add_device_dir(tree, mdir)
        tree.attr(f"{mdir}/start", f"{m.start:#x}", MODE_ROOT_RO)
        tree.attr(f"{mdir}/end", f"{m.end:#x}", MODE_ROOT_RO)
        tree.attr(f"{mdir}/page_offset", f"{m.page_offset:#x}", MODE_ROOT_RO)
    add_char_device(tree, kpath, dev.name, dev.major, dev.minor)
    register_device(tree, "dax", dev.name, kpath)
    if dev.driver:
        bind_driver(tree, "dax", dev.driver, kpath)


def remove_dax_device(tree: TreeWriter, dev: DaxDeviceSpec) -> None:
    unbind_driver(tree, "dax", dev.kpath)
    unregister_device(tree, "dax", dev.name)
    remove_char_device(tree, dev.name, dev.major, dev.minor)
    tree.remove(dev.kpath)


def add_hmem_parent(tree: TreeWriter, region: DaxRegionSpec) -> None:
    """The device a soft-reserved/CXL dax region hangs off: a platform
    ``hmem.N`` bound to the hmem driver, or a CXL ``dax_regionN`` under its
    ``regionN`` (no nd objects above either)."""
    kpath = region.kpath
    if region.source == "hmem":
        add_device_dir(tree, kpath, uevent="DRIVER=hmem\nMODALIAS=platform:hmem")
        tree.attr(f"{kpath}/modalias", "platform:hmem")
        tree.attr(f"{kpath}/driver_override", "(null)", MODE_RW)
        add_bus(tree, "platform")
        if not tree.is_dir("/sys/bus/platform/drivers/hmem"):
            add_driver(tree, "platform", "hmem")
        register_device(tree, "platform", posixpath.basename(kpath), kpath)
        bind_driver(tree, "platform", "hmem", kpath)
    elif region.source == "cxl":
        add_bus(tree, "cxl")
        cxl_region = posixpath.dirname(kpath)
        decoder = posixpath.dirname(cxl_region)
        root = posixpath.dirname(decoder)
        acpi = posixpath.dirname(root)
        add_device_dir(tree, acpi)
        tree.attr(f"{acpi}/hid", "ACPI0017")
        for dev_kpath, devtype in ((root, "cxl_port"), (decoder, "cxl_decoder_root"), (cxl_region, "cxl_region")):
            add_device_dir(tree, dev_kpath, uevent=f"DEVTYPE={devtype}")
            tree.attr(f"{dev_kpath}/devtype", devtype)
            register_device(tree, "cxl", posixpath.basename(dev_kpath), dev_kpath)
        window = region.window or (region.start, region.start + region.size)
        tree.attr(f"{decoder}/start", f"{window[0]:#x}")
        tree.attr(f"{decoder}/size", f"{window[1] - window[0]:#x}")
        tree.attr(f"{decoder}/cap_ram", 1)
        tree.attr(f"{cxl_region}/mode", "ram")
        tree.attr(f"{cxl_region}/resource", f"{region.start:#x}", MODE_ROOT_RO)
        tree.attr(f"{cxl_region}/size", f"{region.size:#x}", MODE_RW)
        tree.attr(f"{cxl_region}/uuid", "", MODE_RW)
        tree.attr(f"{cxl_region}/interleave_ways", 1, MODE_RW)
        tree.attr(f"{cxl_region}/interleave_granularity", 256, MODE_RW)
        tree.attr(f"{cxl_region}/commit", 1, MODE_RW)
        add_device_dir(tree, kpath, uevent="DEVTYPE=cxl_dax_region")
        tree.attr(f"{kpath}/devtype", "cxl_dax_region")
        tree.attr(f"{kpath}/modalias", "cxl:t13")
        register_device(tree, "cxl", posixpath.basename(kpath), kpath)
        if not tree.is_dir("/sys/bus/cxl/drivers/cxl_dax_region"):
            add_driver(tree, "cxl", "cxl_dax_region")
        bind_driver(tree, "cxl", "cxl_dax_region", kpath)
    else:
        raise ValueError(f"not a soft-reserved/CXL region: {region.source!r}")
    add_dax_region_attrs(tree, region)


# =============================================================================
# misc
# =============================================================================


def add_sys_skeleton(tree: TreeWriter) -> None:
    """Top-level directories every /sys has."""
    for d in ("/sys/devices/system", "/sys/devices/virtual", "/sys/devices/platform", "/sys/bus", "/sys/class",
              "/sys/dev/char", "/sys/dev/block", "/sys/module", "/sys/kernel/mm", "/sys/firmware", "/sys/block",
              "/proc", "/dev"):
        tree.mkdir(d)
    tree.mkdir("/sys/class/block")
