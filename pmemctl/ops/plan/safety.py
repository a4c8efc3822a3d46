"""Data safety before a namespace changes (refused before the first write):
a namespace whose block device (pmemN, pmemN.M, pmemNs, or a partition) is
mounted (never overridden) or claimed by a stacked device (never
overridden), held open by a process (--force), or whose dax device is
system-ram with blocks online (--force: the plan then offlines them first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from pmemctl.errors import PmemctlError
from pmemctl.model.records import (
    DaxDevice,
    DaxMode,
    Namespace,
    Region,
    Topology,
)
from pmemctl.ops.plan import PlanBuilder
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import format_size


@dataclass(frozen=True)
class NamespaceUse:
    """Who uses a namespace now."""

    blockdevs: tuple[str, ...] = ()  # pmem0, pmem0p1, ...
    mounts: tuple[tuple[str, str, str], ...] = ()  # (device, mount point, fstype)
    stacked: tuple[tuple[str, str], ...] = ()  # (block device, holder such as dm-0)
    openers: tuple[tuple[str, int, str], ...] = ()  # (device node, pid, process name)
    dax: Optional[DaxDevice] = None
    ram_online: tuple[int, ...] = ()  # online memory blocks of its dax device


def _holder_dir(ns: Namespace, region: Region) -> str:
    return f"{region.path}/{ns.holder}" if ns.holder else ns.path


def block_devices(door: SysfsRoot, ns: Namespace, region: Region) -> list[tuple[str, Optional[str], str]]:
    """(name, major:minor, sysfs dir) of the namespace's block device and its partitions."""
    base = _holder_dir(ns, region) + "/block"
    out: list[tuple[str, Optional[str], str]] = []
    for disk in sorted(door.listdir(base)):
        ddir = f"{base}/{disk}"
        out.append((disk, (door.read_optional(ddir + "/dev") or "").strip() or None, ddir))
        for part in sorted(door.listdir(ddir)):
            if re.fullmatch(re.escape(disk) + r"p?\d+", part) and door.is_dir(f"{ddir}/{part}"):
                pdir = f"{ddir}/{part}"
                out.append((part, (door.read_optional(pdir + "/dev") or "").strip() or None, pdir))
    return out


def read_mounts(door: SysfsRoot) -> list[tuple[str, str, str, str]]:
    """(major:minor, source, mount point, fstype) of every mount, from
    /proc/1/mountinfo (init's view: every mount namespace's mounts start
    there), else /proc/self/mountinfo, under the sysroot (proc(5))."""
    text = None
    for path in ("/proc/1/mountinfo", paths.PROC_MOUNTINFO):
        try:
            text = door.read_all(path)
        except PmemctlError:
            text = None
        if text is not None:
            break
    out: list[tuple[str, str, str, str]] = []
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) < 10 or "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        if len(fields) < sep + 3:
            continue
        mnt = fields[4].replace("\\040", " ")
        out.append((fields[2], fields[sep + 2], mnt, fields[sep + 1]))
    return out


def namespace_use(door: SysfsRoot, topo: Topology, ns: Namespace) -> NamespaceUse:
    region = topo.region(ns.region)
    assert region is not None
    devs = block_devices(door, ns, region)
    mounts = read_mounts(door)
    mounted: list[tuple[str, str, str]] = []
    stacked: list[tuple[str, str]] = []
    openers: list[tuple[str, int, str]] = []
    nodes: list[str] = []
    for name, majmin, ddir in devs:
        node = f"/dev/{name}"
        nodes.append(node)
        for dev, source, mnt, fstype in mounts:
            if (majmin is not None and dev == majmin) or source == node:
                mounted.append((node, mnt, fstype))
        for holder in sorted(door.listdir(ddir + "/holders")):
            stacked.append((name, holder))
    dax = topo.dax_device(ns.dax_device) if ns.dax_device else None
    if dax is not None:
        nodes.append(f"/dev/{dax.name}")
    for node in nodes:
        for pid, pname in door.processes_using(node):
            openers.append((node, pid, pname))
    ram: tuple[int, ...] = ()
    if dax is not None and dax.mode == DaxMode.SYSTEM_RAM:
        ram = tuple(b.index for b in topo.blocks_of(dax.name) if b.online)
    return NamespaceUse(tuple(d[0] for d in devs), tuple(mounted), tuple(stacked), tuple(openers), dax, ram)


def describe_ns(ns: Namespace) -> str:
    parts = [format_size(ns.size), ns.mode.value]
    if ns.blockdev:
        parts.append(f"/dev/{ns.blockdev}")
    if ns.dax_device:
        parts.append(f"/dev/{ns.dax_device}")
    if ns.alt_name:
        parts.append(f"name {ns.alt_name!r}")
    return f"{ns.name} ({', '.join(parts)})"


def safety_checks(pb: PlanBuilder, door: SysfsRoot, topo: Topology, ns: Namespace, verb: str) -> NamespaceUse:
    """Refuse what would lose data that is in use; return the use found."""
    use = namespace_use(door, topo, ns)
    for node, mnt, fstype in use.mounts:
        pb.refuse("mounted", f"{node} is mounted on {mnt} ({fstype}): unmount it before you {verb} {ns.name}")
    for dev, holder in use.stacked:
        pb.refuse("stacked", f"{dev} is claimed by {holder} (device-mapper/md/partition user): "
                             f"remove {holder} before you {verb} {ns.name}")
    if use.openers:
        who = ", ".join(f"{name} (pid {pid}) has {node} open" for node, pid, name in use.openers[:5])
        pb.refuse("in-use", f"{who}; {verb} would pull the data from under it", "--force")
    if use.ram_online and use.dax is not None:
        bs = topo.policy.block_size or 0
        pb.refuse(
            "system-ram",
            f"{use.dax.name} is system RAM with {len(use.ram_online)} block(s) online "
            f"({format_size(len(use.ram_online) * bs)}) on node {use.dax.target_node}: they are offlined first, "
            "taking that memory from running programs",
            "--force",
        )
    if not (use.mounts or use.stacked or use.openers or use.ram_online):
        pb.passed("in-use", f"{ns.name}: not mounted, not open, not online as system RAM")
    return use


def consent_text(ns: Namespace, use: NamespaceUse, extra: Optional[str]) -> str:
    text = f"the data on {describe_ns(ns)} will be lost"
    if use.openers:
        text += " under the programs that have it open (" + ", ".join(
            f"{n} pid {p}" for _, p, n in use.openers[:3]) + ")"
    if extra:
        text += f", and {extra}"
    return text
