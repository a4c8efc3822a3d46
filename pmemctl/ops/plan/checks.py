"""Pre-checks the planners share: privilege, other onlining agents, zone
ratio and memmap cost, what offlining can never give back, dax users.

Each adds passed / refused / warning checks to a PlanBuilder; none writes.
Facts: user-needs.md §5, Documentation/admin-guide/mm/memory-hotplug.rst.
"""

from __future__ import annotations

import os
import re
from typing import Optional, Sequence

from pmemctl.model.records import (
    DaxDevice,
    MemoryBlock,
    Topology,
)
from pmemctl.model.zoneinfo import read_zoneinfo
from pmemctl.ops.plan import PlanBuilder
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import format_cpulist, format_size

#: directories udev reads rules from (udev(7)), in precedence order
UDEV_RULE_DIRS = ("/etc/udev/rules.d", "/run/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d")
#: a rule that writes "online..." into a memory block's state / online attribute
_UDEV_ONLINE_RE = re.compile(r'SUBSYSTEM=="memory".*ATTR\{(state|online)\}\s*=\s*"(online[a-z_]*|1)"', re.S)

#: memmap (struct page array) costs 64 bytes per 4 KiB page: 1/64 of the size
MEMMAP_DIVISOR = 64
#: MOVABLE:KERNEL above this ratio risks kernel OOM (memory-hotplug.rst, "zone imbalance")
MOVABLE_RATIO_WARN = 3.0
#: ... and above this one (twice the 4:1 memory-hotplug.rst calls often fine)
#: it is refused unless --force: a warning alone needed no consent
MOVABLE_RATIO_REFUSE = 8.0
#: badblocks ranges are in 512-byte sectors (badblocks_show: "SECTOR COUNT" per line)
BADBLOCK_SECTOR = 512


def device_blocks(topo: Topology, dev: DaxDevice) -> list[MemoryBlock]:
    wanted = set(dev.blocks)
    return [b for b in topo.blocks if b.index in wanted]


def onlining_agents(door: SysfsRoot, topo: Topology) -> list[str]:
    """Other agents that online hot-added memory on their own (user-needs §5.1)."""
    found: list[str] = []
    pol = topo.policy
    if pol.auto_online_blocks and pol.auto_online_blocks != "offline":
        found.append(
            f"{paths.AUTO_ONLINE_BLOCKS} is {pol.auto_online_blocks!r}: the kernel onlines new blocks itself "
            f"(fix: echo offline > {paths.AUTO_ONLINE_BLOCKS})"
        )
    if pol.memhp_default_state and pol.memhp_default_state != "offline":
        found.append(f"the kernel command line has memhp_default_state={pol.memhp_default_state}")
    for d in UDEV_RULE_DIRS:
        for name in sorted(door.listdir(d)):
            if not name.endswith(".rules"):
                continue
            text = door.read_optional(f"{d}/{name}") or ""
            for line in text.splitlines():
                if line.lstrip().startswith("#"):
                    continue
                if _UDEV_ONLINE_RE.search(line):
                    found.append(f"udev rule {d}/{name} onlines memory blocks")
                    break
    return found


def _meminfo_free(door: SysfsRoot) -> Optional[int]:
    text = door.read_optional(paths.PROC_MEMINFO)
    if not text:
        return None
    for line in text.splitlines():
        if line.startswith("MemFree:"):
            parts = line.split()
            return int(parts[1]) * 1024
    return None


def _kernel_zone_free(door: SysfsRoot) -> Optional[int]:
    """Free bytes in the kernel zones (all but Movable and Device), from
    /proc/zoneinfo (:mod:`pmemctl.model.zoneinfo`): the memmap of hot-added
    memory is a kernel allocation, so free ZONE_MOVABLE memory cannot hold
    it.  None without zoneinfo."""
    zone_info = read_zoneinfo(door)
    if zone_info is None or not (zone_info.present or zone_info.free):
        return None
    return sum(n for zones in zone_info.free.values() for zone, n in zones.items()
               if zone not in ("Movable", "Device"))


def _zone_bytes(topo: Topology) -> tuple[int, int]:
    """(movable, kernel) bytes of online memory, from the nodes' figures:
    online blocks whose zone is Movable, and the other online blocks.  The
    nodes count the blocks read and those a discovery limited to some
    blocks counted from /proc/zoneinfo instead (boot memory, other
    devices'), so this holds for either."""
    bs = topo.policy.block_size or 0
    movable = sum(n.zone_blocks.get("Movable", 0) for n in topo.nodes)
    online = sum(n.blocks_online for n in topo.nodes)
    return movable * bs, (online - movable) * bs


def zone_checks(pb: PlanBuilder, door: SysfsRoot, topo: Topology, adding: int, zone: str) -> None:
    """MOVABLE:KERNEL ratio and memmap cost of onlining ``adding`` bytes."""
    if adding <= 0:
        return
    movable, kernel = _zone_bytes(topo)
    if zone == "movable":
        movable += adding
    else:
        kernel += adding
    if kernel == 0:
        pb.refuse("zone-ratio", "no memory would be left in kernel zones: the kernel could not allocate", "--force")
    else:
        ratio = movable / kernel
        msg = f"MOVABLE:KERNEL would be {ratio:.1f}:1 ({format_size(movable)} movable, {format_size(kernel)} kernel)"
        if ratio > MOVABLE_RATIO_REFUSE:
            pb.refuse("zone-ratio", msg + f"; above {MOVABLE_RATIO_REFUSE:.0f}:1 the kernel is likely to run out of "
                      "memory for its own allocations (online part of it with --zone normal)", "--force")
        elif ratio > MOVABLE_RATIO_WARN:
            pb.warn("zone-ratio", msg + f"; above {MOVABLE_RATIO_WARN:.0f}:1 the kernel may run out of memory for "
                    "its own allocations (consider --zone normal for part of it)")
        else:
            pb.passed("zone-ratio", msg)
    if zone == "normal":
        pb.warn("zone-normal", f"{format_size(adding)} onlined into ZONE_NORMAL takes kernel allocations that pin it: "
                "offlining it again usually fails with EBUSY until a reboot (--zone movable keeps it removable)")
    memmap = adding // MEMMAP_DIVISOR
    free, where = _kernel_zone_free(door), "free in kernel zones"
    if free is None:  # no /proc/zoneinfo: total free memory, an upper bound
        free, where = _meminfo_free(door), "free (all zones; /proc/zoneinfo unreadable)"
    if free is not None:
        if memmap > free:
            pb.refuse(
                "memmap",
                f"onlining {format_size(adding)} needs about {format_size(memmap)} of memmap, "
                f"but only {format_size(free)} is {where}",
                "--force",
            )
        else:
            pb.passed("memmap", f"memmap cost about {format_size(memmap)} of {format_size(free)} {where}")


def privilege_check(pb: PlanBuilder, door: SysfsRoot) -> None:
    if door.is_host and os.geteuid() != 0:
        pb.refuse("root", "changing memory and drivers needs root (run with sudo)")


def offline_checks(pb: PlanBuilder, topo: Topology, blocks: Sequence[MemoryBlock]) -> None:
    """Refuse before starting what the kernel may never give back."""
    if topo.policy.hotremove is False:
        pb.refuse(
            "hotremove",
            "this kernel cannot offline memory (no valid_zones: CONFIG_MEMORY_HOTREMOVE is off); "
            "only a reboot releases it",
        )
        return
    unremovable = [b.index for b in blocks if b.removable is False]
    if unremovable:
        pb.refuse(
            "removable",
            f"memory block(s) {short_list(unremovable)} are not removable (removable=0); "
            "only a reboot releases them",
        )
    spanning = [b.index for b in blocks if b.online and b.zones is not None and not b.zones]
    if spanning:
        # valid_zones "none": the block spans zones (boot memory at a zone
        # boundary); offline_pages() rejects a range not in one zone (EINVAL)
        pb.refuse(
            "zone-span",
            f"memory block(s) {short_list(spanning)} span more than one zone (valid_zones: none), as boot memory "
            "can: the kernel refuses to offline them",
        )
    kernel_zones: dict[str, list[int]] = {}
    for b in blocks:
        if b.online and b.zones and b.zones[0] != "Movable":
            kernel_zones.setdefault(b.zones[0], []).append(b.index)
    if kernel_zones:
        where = "; ".join(f"{short_list(idx)} in ZONE_{zone.upper()}" for zone, idx in kernel_zones.items())
        pb.refuse(
            "zone-normal",
            f"memory block(s) {where} are online in a kernel zone, where kernel allocations "
            "usually pin them (offline fails with EBUSY, and a reboot may be needed to undo it)",
            "--force",
        )


def media_errors_check(pb: PlanBuilder, door: SysfsRoot, topo: Topology, dev: DaxDevice) -> None:
    """Refuse (--force lifts it) to turn a namespace with known media errors
    into RAM: a poisoned page the kernel hands out is a machine check.  The
    region's ``badblocks`` lists "SECTOR COUNT" ranges relative to the region
    start (nvdimm_badblocks_populate), in 512-byte sectors."""
    ns = next((n for n in topo.namespaces if n.name == dev.namespace), None)
    region = None if ns is None else next((r for r in topo.regions if r.name == ns.region), None)
    if ns is None or region is None:
        return
    text = door.read_optional(f"{region.path}/badblocks")
    ranges = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            ranges.append((int(parts[0]) * BADBLOCK_SECTOR, int(parts[1]) * BADBLOCK_SECTOR))
    if ranges and region.resource is not None and ns.resource is not None:
        lo = ns.resource - region.resource
        ranges = [(start, length) for start, length in ranges if start < lo + ns.size and start + length > lo]
    if ranges:
        size = sum(length for _, length in ranges)
        pb.refuse(
            "media-errors",
            f"{ns.name} ({region.name}) has {len(ranges)} known bad range(s), {format_size(size)} with media errors "
            f"({region.path}/badblocks): as system RAM a poisoned page is a machine check; clear them "
            "(ndctl clear-errors) first",
            "--force",
        )


def holders_check(pb: PlanBuilder, door: SysfsRoot, dev: DaxDevice) -> None:
    users = door.processes_using(f"/dev/{dev.name}")
    if users:
        who = ", ".join(f"{name} (pid {pid})" for pid, name in users[:5])
        pb.refuse(
            "dax-in-use",
            f"/dev/{dev.name} is open or mapped by {who}; its data would be lost",
            "--force",
        )


def short_list(values: Sequence[int]) -> str:
    text = format_cpulist(values)
    return text if len(text) <= 60 else text[:57] + "..."
