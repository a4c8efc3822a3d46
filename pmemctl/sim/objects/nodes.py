"""CPUs, NUMA nodes, HMAT access classes, memory tiers and the node views
recomputed from the tree (kernel-abi.md §7.3, §7.4)."""

from __future__ import annotations

import posixpath
import re
from typing import Iterable, Mapping, Optional, Sequence

from pmemctl.sim import layout
from pmemctl.sim.machine import (
    AccessClassSpec,
    NodeSpec,
)
from pmemctl.sim.objects.core import (
    HUGEPAGE_KEYS,
    MEMINFO_KEYS,
    NODE_VMSTAT_KEYS,
    add_bus,
    add_device_dir,
    add_module,
    register_device,
    unregister_device,
)
from pmemctl.sim.objects.memory import node_block_indexes, read_memory_block
from pmemctl.sim.tree import MODE_RO, MODE_RW, MODE_WO, TreeWriter
from pmemctl.sysfs import paths
from pmemctl.units import format_cpulist

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
    set_node_masks(
        tree, possible=(), online=(), has_cpu=(), has_memory=(), has_normal_memory=(), has_generic_initiator=()
    )


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
    tree: TreeWriter,
    *,
    memmap_on_memory: str,
    online_policy: str,
    auto_movable_ratio: int,
    auto_movable_numa_aware: str,
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
