"""Intent + snapshot -> Plan.  Pure decisions; the only reads are pre-check facts.

Write sequences follow the kernel (kernel-abi.md §4.3, §4.4, §7.5, §7.6):
  devdax -> system-ram:  device_dax remove_id+unbind, kmem new_id+bind,
                         wait for the blocks, online each block in the zone asked.
  system-ram -> devdax:  offline each online block, kmem remove_id+unbind,
                         wait for the blocks to go, device_dax new_id+bind.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from pmemctl.errors import NotFound, Refused, UsageError
from pmemctl.model.discover import find_object_error
from pmemctl.model.records import BlockState, DaxDevice, DaxMode, MemoryBlock, Topology
from pmemctl.ops.actions import (
    BindDevice,
    OfflineBlock,
    OnlineBlock,
    UnbindDevice,
    WaitForBlocks,
    WaitForBlocksGone,
)
from pmemctl.ops.plan import Plan, PlanBuilder
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import format_size, parse_block_list, parse_size

ZONES = ("movable", "normal")
MODES = ("system-ram", "devdax")

#: directories udev reads rules from (udev(7)), in precedence order
UDEV_RULE_DIRS = ("/etc/udev/rules.d", "/run/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d")
#: a rule that writes "online..." into a memory block's state / online attribute
_UDEV_ONLINE_RE = re.compile(r'SUBSYSTEM=="memory".*ATTR\{(state|online)\}\s*=\s*"(online[a-z_]*|1)"', re.S)

#: memmap (struct page array) costs 64 bytes per 4 KiB page: 1/64 of the size
MEMMAP_DIVISOR = 64
#: MOVABLE:KERNEL above this ratio risks kernel OOM (memory-hotplug.rst, "zone imbalance")
MOVABLE_RATIO_WARN = 3.0


# --------------------------------------------------------------------------
# selecting devices and blocks


_ADDR_RANGE_RE = re.compile(r"^(0x[0-9a-fA-F]+)(?:-(0x[0-9a-fA-F]+))?$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def resolve_devices(topo: Topology, selector: str) -> tuple[list[DaxDevice], str]:
    """A dax device by name (``dax0.0``, ``0.0``, ``/dev/dax0.0``), by its
    namespace's name, uuid or alt_name, or by a physical address (range);
    ``all`` for every device.  Returns (devices, how it was resolved)."""
    sel = selector.strip()
    if sel == "all":
        if not topo.dax_devices:
            raise NotFound("there are no dax devices", hint="run 'pmemctl list' to see namespaces that could become one")
        return list(topo.dax_devices), "all dax devices"
    name = sel.rsplit("/", 1)[-1]
    if re.fullmatch(r"\d+\.\d+", name):
        name = "dax" + name
    dev = topo.dax_device(name)
    if dev is not None:
        return [dev], name
    ns = topo.namespace(sel)
    if ns is not None:
        if ns.dax_device is None or topo.dax_device(ns.dax_device) is None:
            raise Refused(
                f"{ns.name} is in {ns.mode.value} mode and has no dax device",
                hint=f"make it devdax first: pmemctl namespace reconfigure {ns.name} --mode devdax",
            )
        return [topo.dax_device(ns.dax_device)], f"{ns.name} -> {ns.dax_device}"  # type: ignore[list-item]
    if _UUID_RE.match(sel):
        low = sel.lower()
        hits = [n for n in topo.namespaces if low in (n.uuid, n.holder_uuid)]
        devs = [topo.dax_device(n.dax_device) for n in hits if n.dax_device]
        found = [d for d in devs if d is not None]
        if found:
            return found, f"uuid {low} -> {', '.join(d.name for d in found)}"
    by_name = [n for n in topo.namespaces if n.alt_name == sel and n.dax_device]
    if len(by_name) > 1:
        raise UsageError(
            f"the name {sel!r} matches several namespaces: {', '.join(n.name for n in by_name)}",
            hint="select one by namespace name or uuid",
        )
    if by_name:
        d = topo.dax_device(by_name[0].dax_device or "")
        if d is not None:
            return [d], f"name {sel!r} -> {by_name[0].name} -> {d.name}"
    m = _ADDR_RANGE_RE.match(sel)
    if m:
        lo = int(m.group(1), 16)
        hi = int(m.group(2), 16) if m.group(2) else lo
        hits2 = [d for d in topo.dax_devices if any(s <= lo and hi < e for s, e in d.ranges())]
        if len(hits2) == 1:
            return hits2, f"address {sel} -> {hits2[0].name}"
        if len(hits2) > 1:  # pragma: no cover - ranges do not overlap on a sane machine
            raise UsageError(f"address {sel} matches several devices", hint="select by name")
    raise find_object_error("dax device (by name, namespace, uuid, alt_name or address)", sel,
                            [d.name for d in topo.dax_devices])


def _device_blocks(topo: Topology, dev: DaxDevice) -> list[MemoryBlock]:
    wanted = set(dev.blocks)
    return [b for b in topo.blocks if b.index in wanted]


# --------------------------------------------------------------------------
# pre-checks


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


def _zone_bytes(topo: Topology) -> tuple[int, int]:
    """(movable, kernel) bytes of online memory, from the blocks' zones."""
    bs = topo.policy.block_size or 0
    movable = kernel = 0
    for b in topo.blocks:
        if b.state != BlockState.ONLINE:
            continue
        if b.zones and b.zones[0] == "Movable":
            movable += bs
        else:
            kernel += bs
    return movable, kernel


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
        if ratio > MOVABLE_RATIO_WARN:
            pb.warn("zone-ratio", msg + f"; above {MOVABLE_RATIO_WARN:.0f}:1 the kernel may run out of memory for "
                    "its own allocations (consider --zone normal for part of it)")
        else:
            pb.passed("zone-ratio", msg)
    memmap = adding // MEMMAP_DIVISOR
    free = _meminfo_free(door)
    if free is not None:
        if memmap > free:
            pb.refuse(
                "memmap",
                f"onlining {format_size(adding)} needs about {format_size(memmap)} of memmap, "
                f"but only {format_size(free)} is free",
                "--force",
            )
        else:
            pb.passed("memmap", f"memmap cost about {format_size(memmap)} of {format_size(free)} free")


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
            f"memory block(s) {_short_list(unremovable)} are not removable (removable=0); "
            "only a reboot releases them",
        )
    normal = [b.index for b in blocks if b.online and b.zones and b.zones[0] != "Movable"]
    if normal:
        pb.refuse(
            "zone-normal",
            f"memory block(s) {_short_list(normal)} are online in ZONE_NORMAL, where kernel allocations "
            "usually pin them (offline fails with EBUSY, and a reboot may be needed to undo it)",
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


def _short_list(values: Sequence[int]) -> str:
    from pmemctl.units import format_cpulist

    text = format_cpulist(values)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------
# reconfigure


@dataclass(frozen=True)
class ReconfigureRequest:
    selector: str
    mode: str  # system-ram / devdax
    zone: str = "movable"
    online: bool = True
    force: bool = False


def plan_reconfigure(door: SysfsRoot, topo: Topology, req: ReconfigureRequest) -> Plan:
    if req.mode not in MODES:
        raise UsageError(f"unknown mode {req.mode!r}", hint="use system-ram or devdax")
    if req.zone not in ZONES:
        raise UsageError(f"unknown zone {req.zone!r}", hint="use movable or normal")
    sel = req.selector.strip()
    names_a_device = sel == "all" or sel.startswith(("/", "dax")) or re.fullmatch(r"\d+\.\d+", sel) is not None
    if req.mode == "system-ram" and not names_a_device:
        # a namespace not yet devdax: namespace -> devdax -> kmem -> online, one
        # plan (imported only here: the namespace planner is large)
        from pmemctl.ops.namespace import plan_namespace_to_system_ram

        combined = plan_namespace_to_system_ram(door, topo, req)
        if combined is not None:
            return combined
    devices, how = resolve_devices(topo, req.selector)
    pb = PlanBuilder(title=f"reconfigure {', '.join(d.name for d in devices)} to {req.mode}")
    if how != devices[0].name:
        pb.notes.append(f"selected {how}")
    privilege_check(pb, door)
    for dev in devices:
        pb.begin_unit(dev.name)  # each device converts, or rolls back, on its own
        if req.mode == "system-ram":
            _plan_to_system_ram(pb, door, topo, dev, req)
        else:
            _plan_to_devdax(pb, door, topo, dev, req)
    if req.selector.strip() == "all" and pb.actions:
        pb.destructive = True
    return pb.build()


def _plan_to_system_ram(pb: PlanBuilder, door: SysfsRoot, topo: Topology, dev: DaxDevice, req: ReconfigureRequest) -> None:
    bs = topo.policy.block_size
    if bs is None:
        pb.refuse("hotplug", "this kernel has no memory hotplug (/sys/devices/system/memory is missing)")
        return
    if dev.mode == DaxMode.SYSTEM_RAM:
        blocks = _device_blocks(topo, dev)
        offline = [b for b in blocks if not b.online]
        if not req.online or not offline:
            pb.already.append(f"{dev.name} is already in system-ram mode"
                              + (f" with all {len(blocks)} blocks online" if req.online else ""))
            return
        pb.notes.append(f"{dev.name} is already system-ram; onlining its {len(offline)} offline block(s)")
        zone_checks(pb, door, topo, len(offline) * bs, req.zone)
        pb.targets.append(dev.name)
        pb.actions.extend(OnlineBlock(b.index, req.zone) for b in offline)
        return
    if not topo.policy.kmem_driver:
        pb.refuse("kmem", "the kmem driver is not loaded (/sys/bus/dax/drivers/kmem is missing): run 'modprobe kmem'")
    if dev.target_node is None:
        pb.refuse("target-node", f"{dev.name} has no target_node: kmem rejects it (EINVAL, 'invalid node')")
    if not dev.ranges():
        pb.refuse("resource", f"the physical address of {dev.name} is unknown (resource is readable by root only)")
        return
    blocks = dev.hotplug_blocks(bs)
    if not blocks:
        pb.refuse(
            "whole-block",
            f"{dev.name} ({format_size(dev.size)}) holds no whole {format_size(bs)} memory block: "
            "kmem would reject it with EINVAL; make the namespace at least "
            f"{format_size(2 * bs)} (one block plus alignment)",
        )
        return
    trimmed = dev.size - len(blocks) * bs
    if trimmed:
        pb.notes.append(
            f"{dev.name}: kmem adds {len(blocks)} blocks ({format_size(len(blocks) * bs)}); "
            f"{format_size(trimmed)} is lost to block alignment"
        )
    if dev.mode == DaxMode.DEVDAX:
        holders_check(pb, door, dev)
    agents = onlining_agents(door, topo)
    for agent in agents:
        pb.refuse("onlining-agent", f"another agent onlines memory: {agent}", "--force")
    if req.online:
        zone_checks(pb, door, topo, len(blocks) * bs, req.zone)
    pb.destructive = True
    pb.consent = f"the contents of /dev/{dev.name} will be lost and it becomes system RAM"
    pb.targets.append(dev.name)
    if dev.driver is not None:
        pb.actions.append(UnbindDevice(dev.name, dev.driver))
    pb.actions.append(BindDevice(dev.name, "kmem"))
    pb.actions.append(WaitForBlocks(dev.name, blocks[0], blocks[-1]))
    if req.online:
        pb.actions.extend(OnlineBlock(i, req.zone) for i in blocks)


def _plan_to_devdax(pb: PlanBuilder, door: SysfsRoot, topo: Topology, dev: DaxDevice, req: ReconfigureRequest) -> None:
    if dev.mode == DaxMode.DEVDAX:
        pb.already.append(f"{dev.name} is already in devdax mode")
        return
    pb.targets.append(dev.name)
    if dev.mode == DaxMode.DISABLED:
        pb.actions.append(BindDevice(dev.name, "device_dax"))
        return
    blocks = _device_blocks(topo, dev)
    online = [b for b in blocks if b.online]
    offline_checks(pb, topo, online)
    pb.destructive = True
    pb.consent = (
        f"{format_size(len(online) * (topo.policy.block_size or 0))} of system RAM on node "
        f"{dev.target_node} will be taken away from running programs"
    )
    release_from_kmem(pb, dev, blocks)
    pb.actions.append(BindDevice(dev.name, "device_dax"))


def release_from_kmem(pb: PlanBuilder, dev: DaxDevice, blocks: Sequence[MemoryBlock]) -> None:
    """Offline the device's online blocks (highest first, each remembering its
    zone for the undo), detach kmem, and wait for the kernel to remove them."""
    for b in sorted((b for b in blocks if b.online), key=lambda b: -b.index):
        zone = "movable" if (b.zones and b.zones[0] == "Movable") else "normal"
        pb.actions.append(OfflineBlock(b.index, zone))
    pb.actions.append(UnbindDevice(dev.name, "kmem"))
    if blocks:
        pb.actions.append(WaitForBlocksGone(dev.name, blocks[0].index, blocks[-1].index))


# --------------------------------------------------------------------------
# online / offline


@dataclass(frozen=True)
class BlockRequest:
    device: Optional[str] = None
    count: Optional[int] = None
    size: Optional[str] = None
    blocks: Optional[str] = None
    zone: str = "movable"
    force: bool = False


def _count_from(req: BlockRequest, bs: int) -> tuple[Optional[int], Optional[str]]:
    given = [x for x in (req.count, req.size, req.blocks) if x is not None]
    if len(given) > 1:
        raise UsageError("give only one of --count, --size and --blocks")
    if req.count is not None:
        if req.count <= 0:
            raise UsageError(f"--count must be a positive number of blocks, not {req.count}")
        return req.count, None
    if req.size is not None:
        try:
            nbytes = parse_size(req.size)
        except ValueError as err:
            raise UsageError(str(err)) from err
        n, rest = divmod(nbytes, bs)
        if n == 0:
            raise UsageError(
                f"--size {req.size} is smaller than one memory block ({format_size(bs)})",
                hint=f"valid sizes are whole blocks: {format_size(bs)}, {format_size(2 * bs)}, ...",
            )
        note = None
        if rest:
            note = (
                f"--size {req.size} rounded down to {n} whole block(s) = {format_size(n * bs)} "
                f"(nearest valid sizes: {format_size(n * bs)} or {format_size((n + 1) * bs)})"
            )
        return n, note
    return None, None


def _select_blocks(topo: Topology, req: BlockRequest, want_online: bool) -> tuple[list[MemoryBlock], list[str], Optional[str]]:
    """(candidates in the state to change, already-done notes, device name)."""
    bs = topo.policy.block_size
    if bs is None:
        raise UsageError("this kernel has no memory hotplug (/sys/devices/system/memory is missing)")
    count, note = _count_from(req, bs)
    bmap = topo.block_map()
    already: list[str] = []
    devname: Optional[str] = None
    if req.device is not None:
        devices, _how = resolve_devices(topo, req.device)
        if len(devices) != 1:
            raise UsageError("online/offline take one device at a time", hint="name the device, not 'all'")
        dev = devices[0]
        devname = dev.name
        if dev.mode != DaxMode.SYSTEM_RAM:
            raise Refused(
                f"{dev.name} is in {dev.mode.value} mode: it has no memory blocks to "
                + ("online" if want_online else "offline"),
                hint=f"convert it first: pmemctl reconfigure {dev.name} --mode system-ram",
            )
        pool = _device_blocks(topo, dev)
    else:
        if req.blocks is None:
            raise UsageError("name a device, or give --blocks for plain memory blocks")
        pool = []
    if req.blocks is not None:
        try:
            wanted = parse_block_list(req.blocks)
        except ValueError as err:
            raise UsageError(str(err)) from err
        missing = [i for i in wanted if i not in bmap]
        if missing:
            raise NotFound(f"memory block {missing[0]} does not exist ({paths.memory_block(missing[0])})",
                           hint="see 'pmemctl blocks --all'")
        if devname is not None:
            outside = [i for i in wanted if bmap[i].device != devname]
            if outside:
                raise UsageError(f"memory block {outside[0]} does not belong to {devname}")
        # online lowest address first, offline highest first (as --help says)
        chosen = [bmap[i] for i in (wanted if want_online else sorted(wanted, reverse=True))]
        todo = [b for b in chosen if b.online != want_online]
        done = [b.index for b in chosen if b.online == want_online]
        if done:
            already.append(f"block(s) {_short_list(done)} already {'online' if want_online else 'offline'}")
        return todo, already, devname
    candidates = [b for b in pool if b.online != want_online]
    if count is None:
        count = len(candidates)
        if not candidates:
            already.append(f"all {len(pool)} blocks of {devname} are already {'online' if want_online else 'offline'}")
    if note:
        already.append(note)
    if count > len(candidates):
        raise Refused(
            f"{devname} has only {len(candidates)} {'offline' if want_online else 'online'} block(s); "
            f"asked for {count}",
            hint=f"ask for at most {len(candidates)} ({format_size(len(candidates) * bs)})",
        )
    # online from the lowest address up, offline from the highest down:
    # keeps the online part contiguous, as the kernel's zone spans prefer.
    ordered = sorted(candidates, key=lambda b: b.index if want_online else -b.index)
    return ordered[:count], already, devname


def plan_online(door: SysfsRoot, topo: Topology, req: BlockRequest) -> Plan:
    if req.zone not in ZONES:
        raise UsageError(f"unknown zone {req.zone!r}", hint="use movable or normal")
    todo, already, devname = _select_blocks(topo, req, want_online=True)
    pb = PlanBuilder(title=f"online {len(todo)} block(s)" + (f" of {devname}" if devname else ""))
    for a in already:
        (pb.notes if a.startswith("--size") else pb.already).append(a)
    privilege_check(pb, door)
    if todo:
        for agent in onlining_agents(door, topo):
            pb.warn("onlining-agent", f"another agent onlines memory: {agent}")
        zone_checks(pb, door, topo, len(todo) * (topo.policy.block_size or 0), req.zone)
    pb.targets.extend(str(b.index) for b in todo)
    for b in todo:
        # Each block stands alone (as daxctl online-memory): one that refuses
        # is reported and the others stay online -> a partial result.
        pb.begin_unit(f"memory{b.index}")
        pb.actions.append(OnlineBlock(b.index, req.zone))
    return pb.build()


def plan_offline(door: SysfsRoot, topo: Topology, req: BlockRequest) -> Plan:
    todo, already, devname = _select_blocks(topo, req, want_online=False)
    pb = PlanBuilder(title=f"offline {len(todo)} block(s)" + (f" of {devname}" if devname else ""))
    for a in already:
        (pb.notes if a.startswith("--size") else pb.already).append(a)
    privilege_check(pb, door)
    offline_checks(pb, topo, todo)
    pb.targets.extend(str(b.index) for b in todo)
    for b in todo:
        zone = "movable" if (b.zones and b.zones[0] == "Movable") else "normal"
        pb.actions.append(OfflineBlock(b.index, zone))
    return pb.build()
