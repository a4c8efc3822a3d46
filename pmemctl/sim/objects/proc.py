"""``/proc`` files (cmdline, meminfo, iomem and the resources a machine
description puts in it) and the top-level skeleton of /sys."""

from __future__ import annotations

import uuid
from typing import Iterable

from pmemctl.sim.machine import DaxDeviceSpec, IomemEntrySpec, MachineSpec
from pmemctl.sim.objects.nodes import meminfo_values
from pmemctl.sim.tree import TreeWriter
from pmemctl.sysfs import paths

# =============================================================================
# /proc
# =============================================================================


def write_proc_cmdline(tree: TreeWriter, cmdline: str) -> None:
    tree.mkdir("/proc")
    tree.attr(paths.PROC_CMDLINE, cmdline)
    # the boot id (a random uuid per boot on Linux, drivers/char/random.c);
    # derived from the command line here, so that building a tree twice gives the same tree
    tree.mkdir("/proc/sys/kernel/random")
    tree.attr("/proc/sys/kernel/random/boot_id", str(uuid.uuid5(uuid.NAMESPACE_OID, "pmemctl-boot:" + cmdline)))


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


def iomem_entries(m: MachineSpec) -> list[IomemEntrySpec]:
    """Resources of /proc/iomem (kernel-abi.md §7.6): boot System RAM, each
    pmem region's ``Persistent Memory`` with namespace and dax claims,
    ``Soft Reserved`` / ``CXL Window N`` for hmem and CXL, and ``System RAM
    (kmem)`` under each dax device kmem holds."""
    out: list[IomemEntrySpec] = list(m.iomem_extra)
    for node in m.nodes:
        for lo, hi in node.dram:
            out.append(IomemEntrySpec(lo, hi - 1, "System RAM"))
    devices = {d.name: d for d in m.dax_devices}
    for bus in m.buses:
        label = "Persistent Memory" if bus.nfit else "Persistent Memory (legacy)"
        for region in bus.regions:
            out.append(IomemEntrySpec(region.base, region.base + region.size - 1, label))
            for ns in region.namespaces:
                if ns.seed or ns.resource is None:
                    continue
                if ns.mode == "devdax" and ns.holder_enabled and ns.data_start is not None:
                    # dax_pmem claims only the info block + memmap part.
                    out.append(IomemEntrySpec(ns.resource, ns.data_start - 1, ns.name, rank=1))
                elif ns.enabled or ns.holder_enabled:
                    out.append(IomemEntrySpec(ns.resource, ns.end_incl, ns.name, rank=1))
                dev = devices.get(ns.dax_device or "")
                if dev is not None:
                    out.extend(_dax_iomem(dev, rank=2))
    for dax_region in m.dax_regions:
        if dax_region.source == "nvdimm" or dax_region.window is None or dax_region.window_name is None:
            continue
        out.append(IomemEntrySpec(dax_region.window[0], dax_region.window[1] - 1, dax_region.window_name, rank=1))
        if dax_region.cxl_region:
            end = dax_region.start + dax_region.size - 1
            out.append(IomemEntrySpec(dax_region.start, end, dax_region.cxl_region, rank=2))
        for dev in m.dax_devices:
            if dev.region_kpath == dax_region.kpath:
                out.extend(_dax_iomem(dev, rank=3))
    pmem = [(r.base, r.base + r.size) for b in m.buses for r in b.regions]
    for name, lo, hi in m.stranded_kmem:
        rank = 2 if any(a <= lo and hi <= b for a, b in pmem) else 3
        out.append(IomemEntrySpec(lo, hi - 1, name, rank=rank))
        out.append(IomemEntrySpec(lo, hi - 1, "System RAM (kmem)", rank=rank + 1))
    return out


def _dax_iomem(dev: DaxDeviceSpec, rank: int) -> list[IomemEntrySpec]:
    """device_dax holds each mapping as ``daxX.Y``; kmem holds its block-aligned
    ranges as ``daxX.Y`` with ``System RAM (kmem)`` inside; unbound: nothing."""
    if dev.driver == "kmem":
        out = []
        for lo, hi in dev.hotplug_ranges:
            out.append(IomemEntrySpec(lo, hi - 1, dev.name, rank=rank))
            out.append(IomemEntrySpec(lo, hi - 1, "System RAM (kmem)", rank=rank + 1))
        return out
    if dev.driver == "device_dax":
        return [IomemEntrySpec(mp.start, mp.end, dev.name, rank=rank) for mp in dev.mappings]
    return []


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
