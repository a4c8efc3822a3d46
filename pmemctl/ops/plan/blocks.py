"""Plans for online and offline: which blocks, in which order, in which zone."""

from __future__ import annotations

from typing import Optional

from pmemctl.commandline import command_line
from pmemctl.errors import NotFound, Refused, UsageError
from pmemctl.model.records import (
    DaxMode,
    MemoryBlock,
    Topology,
)
from pmemctl.ops.actions.memory import OfflineBlock, OnlineBlock
from pmemctl.ops.actions.offline_any import OfflineAnyBlock
from pmemctl.ops.plan import Plan, PlanBuilder
from pmemctl.ops.plan.checks import (
    device_blocks,
    offline_checks,
    onlining_agents,
    privilege_check,
    short_list,
    zone_checks,
)
from pmemctl.ops.plan.dax_state import plan_state_offline, plan_state_online
from pmemctl.ops.requests import ZONES, BlockRequest
from pmemctl.ops.select import select_devices
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import format_cpulist, format_size, parse_block_list, parse_cpulist, parse_size


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


def _device_pool(topo: Topology, req: BlockRequest, want_online: bool) -> tuple[list[MemoryBlock], Optional[str]]:
    """The blocks of the device a request names (none without a device), and its name."""
    if req.device is None:
        if req.blocks is None:
            raise UsageError("name a device, or give --blocks for plain memory blocks")
        return [], None
    devices, _how = select_devices(topo, req.device)
    if len(devices) != 1:
        raise UsageError("online/offline take one device at a time", hint="name the device, not 'all'")
    dev = devices[0]
    if dev.mode != DaxMode.SYSTEM_RAM:
        raise Refused(
            f"{dev.name} is in {dev.mode.value} mode: it has no memory blocks to "
            + ("online" if want_online else "offline"),
            hint="convert it first: " + command_line("reconfigure", dev.name, "--mode", "system-ram",
                                                     sysroot=topo.sysroot),
        )
    return device_blocks(topo, dev), dev.name


def _listed_blocks(
    topo: Topology, listed: str, devname: Optional[str], want_online: bool
) -> tuple[list[MemoryBlock], list[str]]:
    """--blocks: (blocks to change, in order; already-done notes)."""
    bmap = topo.block_map()
    try:
        wanted = parse_block_list(listed, highest=max(bmap, default=-1))
    except ValueError as err:
        raise UsageError(str(err)) from err
    missing = [i for i in wanted if i not in bmap]
    if missing:
        raise NotFound(f"memory block {missing[0]} does not exist ({paths.memory_block(missing[0])})",
                       hint=f"see '{command_line('blocks', '--all', sysroot=topo.sysroot)}'")
    if devname is not None:
        outside = [i for i in wanted if bmap[i].device != devname]
        if outside:
            raise UsageError(f"memory block {outside[0]} does not belong to {devname}")
    # online lowest address first, offline highest first (as --help says)
    chosen = [bmap[i] for i in (wanted if want_online else sorted(wanted, reverse=True))]
    todo = [b for b in chosen if b.online != want_online]
    done = [b.index for b in chosen if b.online == want_online]
    already = [f"block(s) {short_list(done)} already {'online' if want_online else 'offline'}"] if done else []
    return todo, already


def _select_blocks(
    topo: Topology, req: BlockRequest, want_online: bool
) -> tuple[list[MemoryBlock], list[str], Optional[str]]:
    """(candidates in the state to change, already-done notes, device name)."""
    bs = topo.policy.block_size
    if bs is None:
        raise UsageError("this kernel has no memory hotplug (/sys/devices/system/memory is missing)")
    count, note = _count_from(req, bs)
    pool, devname = _device_pool(topo, req, want_online)
    if req.blocks is not None:
        todo, listed_already = _listed_blocks(topo, req.blocks, devname, want_online)
        return todo, listed_already, devname
    already: list[str] = []
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
    whole = plan_state_online(door, topo, req)  # the proposed daxX.Y/state, where the device has it
    if whole is not None:
        return whole
    todo, already, devname = _select_blocks(topo, req, want_online=True)
    pb = PlanBuilder(title=f"online {len(todo)} block(s)" + (f" of {devname}" if devname else ""))
    for a in already:
        (pb.notes if a.startswith("--size") else pb.already).append(a)
    privilege_check(pb, door)
    if todo:
        for agent in onlining_agents(door, topo):
            pb.warn("onlining-agent", f"another agent onlines memory: {agent}")
        zone_checks(pb, door, topo, len(todo) * (topo.policy.block_size or 0), req.zone)
    pb.targets.extend(f"memory{b.index}" for b in todo)
    for b in todo:
        # Each block stands alone (as daxctl online-memory): one that refuses
        # is reported and the others stay online -> a partial result.
        pb.begin_unit(f"memory{b.index}")
        pb.actions.append(OnlineBlock(b.index, req.zone))
    return pb.build()


def _spares(topo: Topology, devname: str, todo: list[MemoryBlock]) -> list[int]:
    """The device's blocks a busy target may be swapped for: online, in
    ZONE_MOVABLE, removable, and not targeted themselves."""
    dev = next(d for d in topo.dax_devices if d.name == devname)
    targets = {b.index for b in todo}
    return [b.index for b in device_blocks(topo, dev)
            if b.online and b.index not in targets and b.removable is not False
            and b.zones is not None and b.zones[:1] == ("Movable",)]


def plan_offline(door: SysfsRoot, topo: Topology, req: BlockRequest) -> Plan:
    whole = plan_state_offline(door, topo, req)  # the proposed daxX.Y/state, where the device has it
    if whole is not None:
        return whole
    todo, already, devname = _select_blocks(topo, req, want_online=False)
    pb = PlanBuilder(title=f"offline {len(todo)} block(s)" + (f" of {devname}" if devname else ""))
    for a in already:
        (pb.notes if a.startswith("--size") else pb.already).append(a)
    privilege_check(pb, door)
    offline_checks(pb, topo, todo)
    pb.targets.extend(f"memory{b.index}" for b in todo)
    # --count/--size ask for an amount of memory: a busy block may be swapped
    # for another of the device (as chmem does), and each block is a unit of
    # its own, so the run is PARTIAL only when the amount cannot be reached.
    # --blocks (or the whole device) names the blocks: all of them, or none.
    amount = devname is not None and req.blocks is None and (req.count is not None or req.size is not None)
    spares = format_cpulist(_spares(topo, devname, todo)) if amount and devname is not None and todo else ""
    if amount and todo:
        pb.notes.append(
            f"a block that will not go offline (EBUSY, a poisoned page, or no answer within the timeout) is "
            f"replaced by another online movable block of {devname}: "
            + (f"spare block(s) {short_list(list(parse_cpulist(spares)))}" if spares else "none is left to spare")
            + f"; the result is PARTIAL only if fewer than {len(todo)} block(s) go offline"
        )
    for b in todo:
        zone = "movable" if (b.zones and b.zones[0] == "Movable") else "normal"
        if amount and devname is not None:
            pb.begin_unit(f"memory{b.index}")
            pb.actions.append(OfflineAnyBlock(b.index, zone, devname, spares))
        else:
            pb.actions.append(OfflineBlock(b.index, zone))
    return pb.build()
