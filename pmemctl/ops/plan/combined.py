"""``reconfigure``: one entry for dax devices and namespaces.

A dax device (or ``all``) converts on its own (plan/dax.py).  A namespace that
is not devdax yet becomes devdax, then system RAM, as one unit: applied, or
rolled back, together.
"""

from __future__ import annotations

from pmemctl.commandline import command_line
from pmemctl.errors import Refused, UsageError
from pmemctl.model.records import (
    DaxDevice,
    Namespace,
    Topology,
)
from pmemctl.ops.actions.memory import OnlineBlock
from pmemctl.ops.backends import choose_backend
from pmemctl.ops.plan import Plan, PlanBuilder
from pmemctl.ops.plan.checks import privilege_check, zone_checks
from pmemctl.ops.plan.dax import plan_to_devdax, plan_to_system_ram
from pmemctl.ops.plan.namespace import parse_align, reconfigure_step, region_can_take, supported_alignments
from pmemctl.ops.plan.safety import consent_text, safety_checks
from pmemctl.ops.requests import MODES, ZONES, ReconfigureRequest
from pmemctl.ops.select import resolve, select_devices
from pmemctl.ops.sizes import DEFAULT_ALIGN, pfn_layout
from pmemctl.sysfs import abi
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import format_size


def plan_reconfigure(door: SysfsRoot, topo: Topology, req: ReconfigureRequest) -> Plan:
    if req.mode not in MODES:
        raise UsageError(f"unknown mode {req.mode!r}", hint="use system-ram or devdax")
    if req.zone not in ZONES:
        raise UsageError(f"unknown zone {req.zone!r}", hint="use movable or normal")
    if req.mode == "system-ram" and len(req.selectors) == 1:
        selected = resolve(topo, req.selector, "device")
        if not selected.devices:
            # a namespace not yet devdax: namespace -> devdax -> kmem -> online, one plan
            return plan_namespace_to_system_ram(door, topo, req, selected.namespaces[0])
    devices, hows = _devices_of(topo, req)
    pb = PlanBuilder(title=f"reconfigure {', '.join(d.name for d in devices)} to {req.mode}")
    pb.notes.extend(f"selected {how}" for how in hows)
    privilege_check(pb, door)
    consents: list[str] = []
    for dev in devices:
        pb.begin_unit(dev.name)  # each device converts, or rolls back, on its own
        pb.consent = None
        if req.mode == "system-ram":
            plan_to_system_ram(pb, door, topo, dev, req)
        else:
            plan_to_devdax(pb, door, topo, dev, req)
        if pb.consent:
            consents.append(pb.consent)
    pb.consent = "; ".join(consents) or None  # one question for every device
    _combined_zone_checks(pb, door, topo, req)
    if (req.selector.strip() == "all" or len(devices) > 1) and pb.actions:
        pb.destructive = True
    return pb.build()


#: the checks zone_checks adds for one amount of memory onlined
_ZONE_CHECKS = ("zone-ratio", "memmap", "zone-normal")


def _combined_zone_checks(pb: PlanBuilder, door: SysfsRoot, topo: Topology, req: ReconfigureRequest) -> None:
    """Several devices onlined by one plan: the zone ratio and the memmap
    cost are those of all of them together (each device's own check would
    pass two devices that, together, go over the limit)."""
    if sum(c.name == "zone-ratio" for c in pb.checks) < 2:
        return
    onlined = sum(isinstance(a, OnlineBlock) for a in pb.actions) * (topo.policy.block_size or 0)
    pb.checks = [c for c in pb.checks if c.name not in _ZONE_CHECKS]
    zone_checks(pb, door, topo, onlined, req.zone)


def _devices_of(topo: Topology, req: ReconfigureRequest) -> tuple[list[DaxDevice], list[str]]:
    """The dax devices every selector names, in order, each once, and how
    selectors other than a device name were read."""
    devices: dict[str, DaxDevice] = {}
    hows: list[str] = []
    several = len(req.selectors) > 1
    for selector in req.selectors:
        if several and req.mode == "system-ram" and not resolve(topo, selector, "device").devices:
            ns = resolve(topo, selector, "device").namespaces[0]
            raise UsageError(f"{ns.name} has no dax device yet: a namespace becomes system RAM on its own",
                             hint="run '" + command_line("reconfigure", ns.name, "--mode", "system-ram",
                                                         sysroot=topo.sysroot) + "' first")
        found, how = select_devices(topo, selector)
        if how != found[0].name:
            hows.append(how)
        devices.update((d.name, d) for d in found if d.name not in devices)
    return list(devices.values()), hows


def plan_namespace_to_system_ram(
    door: SysfsRoot, topo: Topology, req: ReconfigureRequest, ns: Namespace, backend: str = "auto"
) -> Plan:
    """``pmemctl reconfigure NS --mode system-ram`` for a namespace ``ns`` that
    has no dax device yet: reconfigure it to devdax, then hand its dax device
    to kmem and online it, as one unit (applied, or rolled back, together)."""
    if ns.size == 0:
        raise Refused(f"{ns.name} is not configured (size 0)",
                      hint="create one: " + command_line("namespace", "create", "--region", ns.region,
                                                         "--mode", "devdax", "--size", "SIZE", sysroot=topo.sysroot))
    backend = choose_backend(door, backend)
    region = topo.region(ns.region)
    assert region is not None
    region_can_take(region, "devdax")
    align = parse_align(None, "devdax", supported_alignments(door, region, "devdax")) or DEFAULT_ALIGN
    pb = PlanBuilder(title=f"reconfigure {ns.name} to system-ram (via devdax)")
    pb.notes.append(f"selected {ns.name} ({ns.mode.value}); it becomes devdax first, then system RAM")
    privilege_check(pb, door)
    use = safety_checks(pb, door, topo, ns, "reconfigure")
    pb.begin_unit(ns.name)
    pb.targets.append(ns.name)
    pb.actions.append(reconfigure_step(door, topo, ns, "devdax", align, backend))
    if ns.resource is None:
        pb.refuse("resource", f"the physical address of {ns.name} is unknown (resource is readable by root only)")
        return pb.build()
    lay = pfn_layout(ns.resource, ns.size, align)
    if lay.usable <= 0:
        pb.refuse("size", f"{ns.name} ({format_size(ns.size)}) is too small for devdax")
        return pb.build()
    future = DaxDevice(
        name=abi.dax_name(ns.name), path=f"{region.path}/{region.dax_seed or 'dax'}/{abi.dax_name(ns.name)}",
        region_id=region.id, region_path=None, size=lay.usable, resource=lay.data_start, align=align,
        target_node=ns.target_node if ns.target_node is not None else region.target_node,
        numa_node=ns.numa_node, driver="device_dax", dev=None, source="nvdimm", namespace=ns.name,
        mappings=(), memmap_on_memory=None, blocks=(),
    )
    pb.notes.append(f"as devdax: {future.name}, {format_size(lay.usable)} at {lay.data_start:#x}")
    plan_to_system_ram(pb, door, topo, future, req)
    pb.destructive = True
    pb.consent = consent_text(ns, use, f"it becomes system RAM ({future.name})")
    return pb.build()
