"""Whole-device online and offline through the proposed ``daxX.Y/state``.

reference/provisioning.md §5: "Use it when the file exists; fall back to
per-block writes otherwise."  No released kernel has the file, so the
per-block plans stay the default; these branches are taken only where the
dax device has it, and only for a request about the whole device (a
``--count``, ``--size`` or ``--blocks`` request stays per block).
"""

from __future__ import annotations

from typing import Optional

from pmemctl.commandline import command_line
from pmemctl.errors import Refused
from pmemctl.model.records import DaxDevice, DaxMode, Topology
from pmemctl.ops.actions.dax import DAX_STATE_ONLINE, DAX_STATE_UNPLUGGED, dax_state_step, read_dax_state
from pmemctl.ops.plan import Plan, PlanBuilder
from pmemctl.ops.plan.checks import device_blocks, offline_checks, privilege_check, zone_checks
from pmemctl.ops.requests import BlockRequest
from pmemctl.ops.select import select_devices
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot


def predicted_state_after_bind(topo: Topology) -> str:
    """What ``daxX.Y/state`` reads once kmem has bound: the online type of
    ``auto_online_blocks``, or ``offline`` (the proposal's probe)."""
    policy = topo.policy.auto_online_blocks or "offline"
    return policy if policy in DAX_STATE_ONLINE.values() else "offline"


def online_whole_device(pb: PlanBuilder, door: SysfsRoot, topo: Topology, dev: DaxDevice, zone: str,
                        previous: str) -> None:
    """One ``daxX.Y/state`` write that onlines every block of ``dev`` in ``zone``."""
    bs = topo.policy.block_size or 0
    zone_checks(pb, door, topo, len(dev.hotplug_blocks(bs)) * bs if bs else 0, zone)
    pb.actions.append(dax_state_step(dev.name, DAX_STATE_ONLINE[zone], previous))


def _whole_device(topo: Topology, req: BlockRequest) -> Optional[DaxDevice]:
    """The system-ram device a request names as a whole, else None (the
    per-block planner then answers, errors included)."""
    if req.device is None or any(x is not None for x in (req.count, req.size, req.blocks)):
        return None
    devices, _how = select_devices(topo, req.device)
    if len(devices) != 1 or devices[0].mode != DaxMode.SYSTEM_RAM:
        return None
    return devices[0]


def refuse_partial_of_unplugged(door: SysfsRoot, topo: Topology, req: BlockRequest) -> None:
    """A part of an unplugged device cannot be onlined: its blocks do not exist."""
    if req.device is None or req.blocks is not None:
        return
    devices, _how = select_devices(topo, req.device)
    if len(devices) != 1 or read_dax_state(door, devices[0].name) != DAX_STATE_UNPLUGGED:
        return
    name = devices[0].name
    raise Refused(f"{name} is unplugged ({paths.dax_state(name)} reads unplugged): its memory blocks do not "
                  "exist, so only the whole device can be onlined",
                  hint="online it whole: " + command_line("online", name, sysroot=topo.sysroot))


def plan_state_online(door: SysfsRoot, topo: Topology, req: BlockRequest) -> Optional[Plan]:
    """``online DEVICE`` where the device has ``daxX.Y/state`` and none of
    its blocks is online; None: plan it per block."""
    dev = _whole_device(topo, req)
    if dev is None:
        refuse_partial_of_unplugged(door, topo, req)
        return None
    current = read_dax_state(door, dev.name)
    blocks = device_blocks(topo, dev)
    if current is None or any(b.online for b in blocks):
        return None  # some blocks online: the file onlines only from unplugged, so the rest go per block
    pb = PlanBuilder(title=f"online all of {dev.name} at once")
    privilege_check(pb, door)
    pb.targets.append(dev.name)
    online_whole_device(pb, door, topo, dev, req.zone, current)
    return pb.build()


def plan_state_offline(door: SysfsRoot, topo: Topology, req: BlockRequest) -> Optional[Plan]:
    """``offline DEVICE`` where the device has ``daxX.Y/state``: one write
    offlines and removes every block (kmem stays bound); None: per block."""
    dev = _whole_device(topo, req)
    if dev is None:
        return None
    current = read_dax_state(door, dev.name)
    if current is None:
        return None
    pb = PlanBuilder(title=f"offline all of {dev.name} at once")
    online = [b for b in device_blocks(topo, dev) if b.online]
    if not online:
        pb.already.append(f"no memory block of {dev.name} is online ({paths.dax_state(dev.name)} reads {current})")
        return pb.build()
    privilege_check(pb, door)
    offline_checks(pb, topo, online)
    pb.targets.append(dev.name)
    pb.notes.append(f"{dev.name}'s memory blocks are removed as well as offlined (the kernel's whole-device "
                    "unplug); 'online' of the device adds them again")
    pb.actions.append(dax_state_step(dev.name, DAX_STATE_UNPLUGGED, current))
    return pb.build()


__all__ = [
    "online_whole_device",
    "plan_state_offline",
    "plan_state_online",
    "predicted_state_after_bind",
    "refuse_partial_of_unplugged",
]
