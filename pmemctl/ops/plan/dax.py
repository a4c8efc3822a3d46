"""Plans for a dax device: devdax -> system-ram and back.

Write sequences follow the kernel (kernel-abi.md §4.3, §4.4, §7.5, §7.6):
  devdax -> system-ram:  device_dax remove_id+unbind, kmem new_id+bind,
                         wait for the blocks, online each block in the zone asked.
  system-ram -> devdax:  offline each online block, kmem remove_id+unbind,
                         wait for the blocks to go, device_dax new_id+bind.
"""

from __future__ import annotations

from typing import Optional, Sequence

from pmemctl.errors import Unsupported
from pmemctl.model.records import (
    DaxDevice,
    DaxMode,
    MemoryBlock,
    Topology,
)
from pmemctl.ops.actions.dax import (
    DAX_STATE_ONLINE,
    DAX_STATE_UNPLUGGED,
    BindDevice,
    SetMemmapOnMemory,
    UnbindDevice,
    dax_state_step,
    read_dax_state,
)
from pmemctl.ops.actions.memory import OfflineBlock, OnlineBlock, WaitForBlocks, WaitForBlocksGone
from pmemctl.ops.plan import PlanBuilder
from pmemctl.ops.plan.checks import (
    device_blocks,
    holders_check,
    media_errors_check,
    offline_checks,
    onlining_agents,
    zone_checks,
)
from pmemctl.ops.plan.dax_state import online_whole_device, predicted_state_after_bind
from pmemctl.ops.requests import ReconfigureRequest
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import format_size


def plan_to_system_ram(
    pb: PlanBuilder, door: SysfsRoot, topo: Topology, dev: DaxDevice, req: ReconfigureRequest
) -> None:
    bs = topo.policy.block_size
    if bs is None:
        pb.refuse("hotplug", "this kernel has no memory hotplug (/sys/devices/system/memory is missing)")
        return
    if dev.mode == DaxMode.SYSTEM_RAM:
        if req.memmap_on_memory is not None and dev.memmap_on_memory not in (None, req.memmap_on_memory):
            pb.refuse("memmap-on-memory", f"{dev.name} is system-ram already: its memmap_on_memory can only change "
                      "before kmem binds (EBUSY); reconfigure it to devdax first")
            return
        blocks = device_blocks(topo, dev)
        state = read_dax_state(door, dev.name)  # the proposed whole-device file (no released kernel)
        if req.online and state is not None and not any(b.online for b in blocks):
            pb.notes.append(f"{dev.name} is already system-ram ({paths.dax_state(dev.name)} reads {state}); "
                            "onlining all of it at once")
            pb.targets.append(dev.name)
            online_whole_device(pb, door, topo, dev, req.zone, state)
            return
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
    hotplug = dev.hotplug_blocks(bs)  # block indexes kmem will add
    if not hotplug:
        pb.refuse(
            "whole-block",
            f"{dev.name} ({format_size(dev.size)}) holds no whole {format_size(bs)} memory block: "
            "kmem would reject it with EINVAL; make the namespace at least "
            f"{format_size(2 * bs)} (one block plus alignment)",
        )
        return
    trimmed = dev.size - len(hotplug) * bs
    if trimmed:
        pb.notes.append(
            f"{dev.name}: kmem adds {len(hotplug)} blocks ({format_size(len(hotplug) * bs)}); "
            f"{format_size(trimmed)} is lost to block alignment"
        )
    if dev.mode == DaxMode.DEVDAX:
        holders_check(pb, door, dev)
    media_errors_check(pb, door, topo, dev)
    agents = onlining_agents(door, topo)
    for agent in agents:
        pb.refuse("onlining-agent", f"another agent onlines memory: {agent}", "--force")
    if req.online:
        zone_checks(pb, door, topo, len(hotplug) * bs, req.zone)
    pb.destructive = True
    pb.consent = f"the contents of /dev/{dev.name} will be lost and it becomes system RAM"
    pb.targets.append(dev.name)
    if dev.driver is not None:
        pb.actions.append(UnbindDevice(dev.name, dev.driver))
    memmap_step(pb, topo, dev, req)
    pb.actions.append(BindDevice(dev.name, "kmem"))
    pb.actions.append(WaitForBlocks(dev.name, hotplug[0], hotplug[-1]))
    if req.online and read_dax_state(door, dev.name) is not None:
        # the proposed daxX.Y/state: one write onlines them all (after kmem
        # added them as auto_online_blocks says)
        pb.actions.append(dax_state_step(dev.name, DAX_STATE_ONLINE[req.zone], predicted_state_after_bind(topo)))
    elif req.online:
        pb.actions.extend(OnlineBlock(i, req.zone) for i in hotplug)


def memmap_on_memory_supported(topo: Topology, dev: DaxDevice, wanted: bool) -> None:
    """Raise Unsupported when ``dev`` cannot take memmap_on_memory=``wanted``:
    no attribute (kernels before 6.8), or turning it on while the global
    memory_hotplug.memmap_on_memory is off (the kernel answers EOPNOTSUPP)."""
    # a device this plan itself creates (no dev number yet) is checked when
    # the step runs (SetMemmapOnMemory.precheck)
    if dev.memmap_on_memory is None and dev.dev is not None:
        raise Unsupported(
            f"{dev.name} has no memmap_on_memory attribute: this kernel cannot place the memory map in the "
            "hot-added memory (the attribute came with Linux 6.8)",
            hint="leave out --memmap-on-memory",
        )
    enabled = (topo.policy.memmap_on_memory or "N").strip()
    if wanted and enabled not in ("Y", "y", "1", "force"):
        raise Unsupported(
            f"memory_hotplug.memmap_on_memory is {enabled or 'unset'} on this kernel, so {dev.name} cannot have "
            "its memory map placed in the hot-added memory",
            hint="boot with memory_hotplug.memmap_on_memory=1, or leave out --memmap-on-memory",
        )


def memmap_step(pb: PlanBuilder, topo: Topology, dev: DaxDevice, req: ReconfigureRequest) -> None:
    """``--memmap-on-memory``: the write that must come before kmem binds."""
    if req.memmap_on_memory is None:
        return
    memmap_on_memory_supported(topo, dev, req.memmap_on_memory)
    if dev.memmap_on_memory == req.memmap_on_memory:
        pb.notes.append(f"{dev.name}: memmap_on_memory is already {int(req.memmap_on_memory)}")
        return
    pb.actions.append(SetMemmapOnMemory(dev.name, req.memmap_on_memory, bool(dev.memmap_on_memory)))


def plan_to_devdax(pb: PlanBuilder, door: SysfsRoot, topo: Topology, dev: DaxDevice, req: ReconfigureRequest) -> None:
    if dev.mode == DaxMode.DEVDAX:
        pb.already.append(f"{dev.name} is already in devdax mode")
        return
    pb.targets.append(dev.name)
    if dev.mode == DaxMode.DISABLED:
        pb.actions.append(BindDevice(dev.name, "device_dax"))
        return
    blocks = device_blocks(topo, dev)
    online = [b for b in blocks if b.online]
    offline_checks(pb, topo, online)
    pb.destructive = True
    pb.consent = (
        f"{format_size(len(online) * (topo.policy.block_size or 0))} of system RAM on node "
        f"{dev.target_node} will be taken away from running programs"
    )
    release_from_kmem(pb, dev, blocks, read_dax_state(door, dev.name))
    pb.actions.append(BindDevice(dev.name, "device_dax"))


def release_from_kmem(pb: PlanBuilder, dev: DaxDevice, blocks: Sequence[MemoryBlock],
                      state: Optional[str] = None) -> None:
    """Offline the device's online blocks (highest first, each remembering its
    zone for the undo), detach kmem, and wait for the kernel to remove them.
    ``state``: what the proposed ``daxX.Y/state`` reads, where the device has
    it: then one write offlines and removes them all instead."""
    if state is not None and any(b.online for b in blocks):
        pb.actions.append(dax_state_step(dev.name, DAX_STATE_UNPLUGGED, state))
    for b in sorted((b for b in blocks if b.online and state is None), key=lambda b: -b.index):
        zone = "movable" if (b.zones and b.zones[0] == "Movable") else "normal"
        pb.actions.append(OfflineBlock(b.index, zone))
    pb.actions.append(UnbindDevice(dev.name, "kmem"))
    if blocks:
        pb.actions.append(WaitForBlocksGone(dev.name, blocks[0].index, blocks[-1].index))
