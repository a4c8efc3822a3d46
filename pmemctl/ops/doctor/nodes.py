"""NUMA node checks: the MOVABLE:KERNEL ratio, the memmap cost of hot-added
memory and memory tiering (provisioning.md §5, §6)."""

from __future__ import annotations

from pmemctl.model.records import NodeKind
from pmemctl.ops.doctor.findings import Context, Finding, RuntimeFix, Severity, check, rule
from pmemctl.sysfs import paths
from pmemctl.units import format_cpulist, format_size

ZONE_RATIO = rule(
    "zone-ratio", "nodes", Severity.WARNING, "ZONE_MOVABLE is {subject} times the kernel zones",
    """Memory in ZONE_MOVABLE cannot hold kernel allocations (page tables, slab, the memmap of the movable
    memory itself): all of those come from the kernel zones. Above about 3:1 MOVABLE:KERNEL the kernel runs
    out of its own memory while plenty is free (Documentation/admin-guide/mm/memory-hotplug.rst, "ZONE_MOVABLE
    sizing considerations"). Online part of the device in ZONE_NORMAL or add less memory.""",
    fix_kind="layout")
MEMMAP_COST = rule(
    "memmap-cost", "nodes", Severity.ERROR, "the memmap of movable memory takes {subject} of the kernel zones",
    """Every 4 KiB page needs a 64-byte struct page (1/64 of the memory). For memory onlined movable it is
    allocated from the kernel zones unless memory_hotplug.memmap_on_memory puts it in the hot-added memory
    itself; past a quarter of the kernel zones the machine is close to out of memory for everything else.""",
    fix_kind="boot-argument")
KMEM_IN_DRAM_TIER = rule(
    "tier-kmem-node-in-dram-tier", "nodes", Severity.WARNING,
    "node{subject} (hot-added memory) shares a tier with DRAM",
    """A node holding kmem memory sits in the same memory tier as a DRAM node: the kernel treats the slow
    memory as DRAM, never demotes cold pages to it and places ordinary allocations there. The tier comes from
    HMAT figures (6.7+) or kmem's default distance; a wrong or missing HMAT is the usual cause.""",
    fix_kind="bios")
DEMOTION_OFF = rule(
    "tier-demotion-off", "nodes", Severity.INFO, "demotion is off although a lower memory tier has memory",
    """/sys/kernel/mm/numa/demotion_enabled is false: under memory pressure the kernel reclaims (swaps or
    drops) cold pages instead of moving them to the slower tier. Enabling it is safe at runtime; with
    numa_balancing=2 hot pages are promoted back. Advice only: --fix leaves it (info).""", fix_kind="command",
    runtime_fix=True)

_RATIO_LIMIT = 3


@check("nodes")
def zones(ctx: Context) -> list[Finding]:
    bs = ctx.topo.policy.block_size
    online = [b for b in ctx.topo.blocks if b.online]
    if not bs or not online:
        return []
    movable = sum(1 for b in online if b.zone == "Movable") * bs
    kernel = sum(1 for b in online if b.zone != "Movable") * bs
    source = "computed from memoryN/valid_zones"
    out: list[Finding] = []
    if movable and kernel and movable > _RATIO_LIMIT * kernel:
        ratio = f"{movable / kernel:.1f}"
        out.append(ctx.finding(ZONE_RATIO, ratio, [(source, f"Movable {format_size(movable)}, kernel zones "
                                                            f"{format_size(kernel)}")],
                               "online part of the hot-added memory in ZONE_NORMAL: layout 'normal = \"SIZE\"' or "
                               + ctx.cmd("online", "DEVICE", "--zone", "normal", "--size", "SIZE")))
    memmap_on_memory = (ctx.topo.policy.memmap_on_memory or "").lower() in ("y", "1", "force")
    if movable and kernel and not memmap_on_memory and movable // 64 > kernel // 4:
        share = f"{100 * (movable // 64) / kernel:.0f}%"
        out.append(ctx.finding(MEMMAP_COST, share, [(source, f"memmap {format_size(movable // 64)} for "
                                                             f"{format_size(movable)} movable, kernel zones "
                                                             f"{format_size(kernel)}")],
                               "boot with memory_hotplug.memmap_on_memory=1 (and online again), or online less "
                               "memory movable"))
    return out


@check("nodes")
def tiering(ctx: Context) -> list[Finding]:
    topo = ctx.topo
    out: list[Finding] = []
    dram_tiers = {n.memory_tier for n in topo.nodes if n.kind == NodeKind.DRAM and n.memory_tier is not None}
    for n in topo.nodes:
        if n.kind in (NodeKind.PMEM, NodeKind.CXL) and n.memory_tier in dram_tiers and n.blocks_online:
            tier = f"{paths.MEMORY_TIERING}/memory_tier{n.memory_tier}/nodelist"
            out.append(ctx.finding(KMEM_IN_DRAM_TIER, str(n.id), [(tier, _nodelist(ctx, n.memory_tier))],
                                   "firmware: provide HMAT figures for the memory (BIOS), or a kernel >= 6.7 that "
                                   "places kmem nodes by them"))
    lower = [t for t in topo.tiers if dram_tiers and t.id > max(dram_tiers) and any(
        (topo.node(i) is not None and topo.node(i).blocks_online) for i in t.nodes)]  # type: ignore[union-attr]
    if lower and topo.policy.demotion_enabled is False:
        out.append(ctx.finding(DEMOTION_OFF, None, [(paths.DEMOTION_ENABLED, "false"),
                                                    (f"{paths.MEMORY_TIERING}/memory_tier{lower[0].id}/nodelist",
                                                     _nodelist(ctx, lower[0].id))],
                               f"echo true > {paths.DEMOTION_ENABLED}",
                               runtime_fix=RuntimeFix(paths.DEMOTION_ENABLED, "true", "false")))
    return out


def _nodelist(ctx: Context, tier: int | None) -> str:
    t = next((t for t in ctx.topo.tiers if t.id == tier), None)
    return format_cpulist(t.nodes) if t else ""  # as the kernel prints a nodelist (%*pbl)
