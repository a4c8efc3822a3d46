"""Desired state (a layout) against one snapshot -> per-item states and one
plan built from the existing planners:

* a dax device to system-ram: plan/dax.plan_to_system_ram (unbind, kmem,
  wait; online all in one zone, or none and then the blocks asked);
* a namespace that is not devdax yet: plan/combined.plan_namespace_to_system_ram
  or plan/namespace.plan_reconfigure_namespace (as ``reconfigure NS``);
* online counts, sizes, percents and the normal/movable split of a
  system-ram device: OnlineBlock / OfflineBlock as plan/blocks does (lowest
  blocks online first, highest offline first), with its zone and offline checks;
* to devdax: plan/dax.plan_to_devdax;
* region entries (namespaces to create, or with allow_destroy to destroy or
  reconfigure): ops/layout/regions.py;
* policy switches: SetPolicy.

The pieces are merged into one Plan (each piece its own unit(s), so one
device failing rolls back that device only, as ``reconfigure all`` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from pmemctl.errors import Unsupported
from pmemctl.model.records import BlockState, DaxDevice, DaxMode, MemoryBlock, Namespace, Topology
from pmemctl.ops.actions.dax import BindDevice, SetMemmapOnMemory
from pmemctl.ops.actions.memory import OfflineBlock, OnlineBlock
from pmemctl.ops.layout.match import DeviceMatch
from pmemctl.ops.layout.policy import PolicyState
from pmemctl.ops.layout.records import DeviceEntry, Layout
from pmemctl.ops.plan import Plan, PlanBuilder
from pmemctl.ops.plan.checks import device_blocks, offline_checks, privilege_check, zone_checks
from pmemctl.ops.plan.combined import plan_namespace_to_system_ram
from pmemctl.ops.plan.dax import memmap_on_memory_supported, plan_to_devdax, plan_to_system_ram
from pmemctl.ops.plan.namespace import plan_reconfigure_namespace
from pmemctl.ops.requests import NsReconfigureRequest, ReconfigureRequest
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import parse_size


@dataclass
class ItemState:
    """One layout item (a device entry, a region entry, a policy key) on this
    machine.  ``status``: converged, planned, drift, changed, failed, missing,
    optional-missing, ambiguous, unmanaged or unsupported."""

    name: str
    selector: str
    matched: list[str]
    desired: dict[str, Any]
    actual: dict[str, Any]
    status: str
    difference: str = ""
    plan: Optional[Plan] = field(default=None, repr=False)


# --------------------------------------------------------------------------
# online targets


def online_target(entry: DeviceEntry, total: int, bs: int) -> tuple[int, int]:
    """(blocks to keep online, of which in ZONE_NORMAL) for a device of
    ``total`` hot-plugged blocks."""
    spec = entry.online
    if isinstance(spec, int):
        want = spec
    elif spec == "all":
        want = total
    elif spec == "none":
        want = 0
    elif spec.strip().endswith("%"):
        want = int(total * float(spec.strip()[:-1]) / 100)
    else:
        want = parse_size(spec) // bs
    want = min(want, total)
    if entry.normal is not None:
        normal = parse_size(entry.normal) // bs if isinstance(entry.normal, str) else entry.normal // bs
        return want, min(normal, want)
    return want, want if entry.zone == "normal" else 0


def _zone_of(b: MemoryBlock) -> str:
    return "normal" if (b.zones and b.zones[0] != "Movable") else "movable"


def _actual(topo: Topology, target: Union[DaxDevice, Namespace]) -> dict[str, Any]:
    if isinstance(target, Namespace):
        return {"mode": f"namespace ({target.mode.value})", "online_blocks": 0, "normal_blocks": 0, "blocks": 0}
    blocks = device_blocks(topo, target)
    online = [b for b in blocks if b.state == BlockState.ONLINE]
    return {"mode": target.mode.value, "blocks": len(blocks), "online_blocks": len(online),
            "normal_blocks": sum(1 for b in online if _zone_of(b) == "normal"),
            "memmap_on_memory": target.memmap_on_memory}


# --------------------------------------------------------------------------
# one device


def _system_ram_blocks(pb: PlanBuilder, door: SysfsRoot, topo: Topology, dev: DaxDevice, entry: DeviceEntry) -> str:
    """Online/offline steps for a device already in system-ram; the difference."""
    bs = topo.policy.block_size or 1
    blocks = sorted(device_blocks(topo, dev), key=lambda b: b.index)
    want, want_normal = online_target(entry, len(blocks), bs)
    online = [b for b in blocks if b.state == BlockState.ONLINE]
    normal = [b for b in online if _zone_of(b) == "normal"]
    if len(online) == want and len(normal) == want_normal:
        return ""
    diff = (f"{dev.name}: {len(online)} of {len(blocks)} blocks online ({len(normal)} normal), "
            f"the layout wants {want} ({want_normal} normal)")
    pb.begin_unit(dev.name)
    pb.targets.append(dev.name)
    # zone fixes first: a movable block that must be normal (lowest first), a
    # normal one that must be movable (highest first: offline_checks refuse it)
    to_offline: list[MemoryBlock] = []
    movable = [b for b in online if _zone_of(b) == "movable"]
    if len(normal) > want_normal:
        to_offline += sorted(normal, key=lambda b: -b.index)[: len(normal) - want_normal]
    keep_online = len(online) - len(to_offline)
    if keep_online > want:
        chosen = {b.index for b in to_offline}
        spare = sorted((b for b in movable if b.index not in chosen), key=lambda b: -b.index)
        to_offline += spare[: keep_online - want]
        keep_online = len(online) - len(to_offline)
    normal_left = len(normal) - sum(1 for b in to_offline if _zone_of(b) == "normal")
    need_normal = max(want_normal - normal_left, 0)
    if need_normal and keep_online + need_normal > want:  # make room: movable blocks become normal
        chosen = {b.index for b in to_offline}
        extra = sorted((b for b in movable if b.index not in chosen), key=lambda b: b.index)
        swap = extra[: keep_online + need_normal - want]
        to_offline += swap
        keep_online -= len(swap)
    if to_offline:
        offline_checks(pb, topo, to_offline)
        pb.actions.extend(OfflineBlock(b.index, _zone_of(b)) for b in sorted(to_offline, key=lambda b: -b.index))
    gone = {b.index for b in to_offline}
    free = [b for b in blocks if b.state != BlockState.ONLINE or b.index in gone]
    adding = sorted(free, key=lambda b: b.index)[: max(want - keep_online, 0)]
    zones = ["normal"] * min(need_normal, len(adding)) + ["movable"] * (len(adding) - min(need_normal, len(adding)))
    for zone in ("normal", "movable"):
        zone_checks(pb, door, topo, zones.count(zone) * bs, zone)
    pb.actions.extend(OnlineBlock(b.index, z) for b, z in zip(adding, zones, strict=True))
    return diff


def _to_system_ram(pb: PlanBuilder, door: SysfsRoot, topo: Topology, dev: DaxDevice, entry: DeviceEntry) -> str:
    bs = topo.policy.block_size or 1
    if dev.mode == DaxMode.SYSTEM_RAM:
        return _system_ram_blocks(pb, door, topo, dev, entry)
    hotplug = dev.hotplug_blocks(bs)
    want, want_normal = online_target(entry, len(hotplug), bs)
    single = want == len(hotplug) and want_normal in (0, want)
    zone = "normal" if single and want_normal else "movable"
    pb.begin_unit(dev.name)
    planned = len(pb.actions)
    plan_to_system_ram(pb, door, topo, dev, ReconfigureRequest(dev.name, "system-ram", zone, single))
    _memmap_before_kmem(pb, topo, dev, entry, planned)
    if not single and len(pb.actions) > planned and hotplug:  # kmem binds it: online the blocks asked
        zones = ["normal"] * want_normal + ["movable"] * (want - want_normal)
        for z in ("normal", "movable"):
            zone_checks(pb, door, topo, zones.count(z) * bs, z)
        pb.actions.extend(OnlineBlock(i, z) for i, z in zip(hotplug, zones, strict=False))
    return f"{dev.name} is {dev.mode.value}, the layout wants system-ram ({want} of {len(hotplug)} blocks online)"


def _memmap_before_kmem(pb: PlanBuilder, topo: Topology, dev: DaxDevice, entry: DeviceEntry, first: int) -> None:
    """``daxX.Y/memmap_on_memory`` is taken only while kmem is not bound
    (EBUSY otherwise; kernel-abi: 6.8+): written just before the kmem bind,
    with the same refusal as ``reconfigure --memmap-on-memory`` where the
    global memory_hotplug.memmap_on_memory is off (EOPNOTSUPP)."""
    want = entry.memmap_on_memory
    if want is None or dev.memmap_on_memory is None or dev.memmap_on_memory == want:
        return
    bind = next((i for i, a in enumerate(pb.actions) if i >= first and isinstance(a, BindDevice)
                 and a.driver == "kmem"), None)
    if bind is None:
        return
    try:
        memmap_on_memory_supported(topo, dev, want)
    except Unsupported as err:
        pb.refuse("memmap-on-memory", err.message, None)
        return
    pb.actions.insert(bind, SetMemmapOnMemory(dev.name, want, bool(dev.memmap_on_memory)))


def _namespace_plan(door: SysfsRoot, topo: Topology, ns: Namespace, entry: DeviceEntry) -> Plan:
    if entry.mode == "devdax":
        return plan_reconfigure_namespace(door, topo, NsReconfigureRequest(ns.name, "devdax"))
    full = entry.online == "all" and entry.normal is None
    return plan_namespace_to_system_ram(
        door, topo, ReconfigureRequest(ns.name, "system-ram", entry.zone or "movable", full), ns)


def device_item(door: SysfsRoot, topo: Topology, m: DeviceMatch) -> ItemState:
    entry = m.entry
    item = ItemState(entry.name, entry.selector.text(), m.names, entry.desired(),
                     {t.name: _actual(topo, t) for t in m.targets}, m.verdict, m.finding or "")
    if m.verdict != "ok":
        return item
    if entry.mode == "unmanaged":
        item.status = "unmanaged"
        return item
    pb = PlanBuilder(title=f"layout entry {entry.name}")
    privilege_check(pb, door)
    diffs: list[str] = []
    stuck: list[str] = []  # differences apply cannot reach without taking the memory away
    pieces: list[Plan] = []
    for target in m.targets:
        if isinstance(target, Namespace):
            piece = _namespace_plan(door, topo, target, entry)
            pieces.append(piece)
            diffs.append(f"{target.name} is {target.mode.value}, the layout wants {entry.mode}"
                         + ("; its namespace uuid changes: match it by name or range" if
                            entry.selector.kind == "namespace_uuid" else ""))
        elif entry.mode == "devdax":
            if target.mode != DaxMode.DEVDAX:
                pb.begin_unit(target.name)
                plan_to_devdax(pb, door, topo, target, ReconfigureRequest(target.name, "devdax"))
                diffs.append(f"{target.name} is {target.mode.value}, the layout wants devdax")
        else:
            diff = _to_system_ram(pb, door, topo, target, entry)
            if diff:
                diffs.append(diff)
        if entry.memmap_on_memory is not None and isinstance(target, DaxDevice):
            if target.memmap_on_memory is None:
                diffs.append(f"{target.name}: this kernel has no memmap_on_memory (6.8+): the layout's "
                             "memmap_on_memory is not applied")
            elif target.memmap_on_memory != entry.memmap_on_memory and target.mode == DaxMode.SYSTEM_RAM:
                stuck.append(f"{target.name}: memmap_on_memory is {str(target.memmap_on_memory).lower()}, the "
                             f"layout wants {str(entry.memmap_on_memory).lower()}: it is taken only before kmem binds "
                             "(convert the device to devdax, then apply again)")
    plan = merge_plans(f"layout entry {entry.name}", [pb.build(), *pieces])
    item.plan = plan
    item.difference = "; ".join(diffs + stuck)
    item.status = "planned" if plan.actions or plan.refusals else "drift" if stuck else "converged"
    return item


# --------------------------------------------------------------------------
# policy


def policy_item(door: SysfsRoot, state: PolicyState) -> ItemState:
    s = state.setting
    item = ItemState(f"policy.{s.key}", state.path, [state.path] if state.supported else [],
                     {s.key: state.desired}, {s.key: state.actual}, "converged")
    if not state.supported:
        item.status = "unsupported"
        item.difference = f"{state.path} does not exist on this kernel: policy.{s.key} is not applied"
    elif state.steps:
        item.status = "planned"
        item.difference = f"{state.path} is {state.actual!r}, the layout wants {state.desired!r}"
        pb = PlanBuilder(title=f"policy {s.key}")
        privilege_check(pb, door)
        pb.begin_unit(f"policy.{s.key}")
        pb.targets.append(state.path)
        pb.actions.extend(state.steps)
        item.plan = pb.build()
    return item


# --------------------------------------------------------------------------
# merging


def merge_plans(title: str, plans: list[Plan]) -> Plan:
    """One plan of several: actions in order, each piece keeping its units
    (a piece without units is one unit), checks, notes and consent joined."""
    actions: list[Any] = []
    units: list[tuple[str, int, int]] = []
    for p in plans:
        base = len(actions)
        actions.extend(p.actions)
        if p.units:
            units.extend((label, base + a, base + b) for label, a, b in p.units)
        elif p.actions:
            units.append((p.title, base, base + len(p.actions)))
    consent = "; ".join(dict.fromkeys(p.consent for p in plans if p.consent and p.actions)) or None
    return Plan(
        title=title, actions=tuple(actions),
        checks=tuple(dict.fromkeys(c for p in plans for c in p.checks)),
        already=tuple(a for p in plans for a in p.already),
        notes=tuple(n for p in plans for n in p.notes),
        destructive=any(p.destructive and p.actions for p in plans), consent=consent,
        targets=tuple(dict.fromkeys(t for p in plans for t in p.targets)), units=tuple(units),
    )


def layout_plan(layout: Layout, items: list[ItemState]) -> Plan:
    pieces = [i.plan for i in items if i.plan is not None]
    names = [i.name for i in items if i.plan is not None and (i.plan.actions or i.plan.refusals)]
    title = "apply the layout" + (f": {', '.join(names)}" if names else "")
    return merge_plans(title, pieces)
