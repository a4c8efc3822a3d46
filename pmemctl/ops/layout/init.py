"""``pmemctl config init``: a layout describing the machine as it is now,
with stable selectors, so that ``apply`` on the same machine changes nothing
and the file can be replayed on machines built alike.

Selector choice per dax device: the namespace uuid of an NVDIMM namespace
(its label uuid: stable until the namespace is re-created); the physical
range of the namespace when it has no uuid (label-less, e820), and of the
device itself for hmem and CXL devices (no namespace).
"""

from __future__ import annotations

from typing import Any, Optional

from pmemctl.model.discover import discover
from pmemctl.model.records import BlockState, DaxDevice, DaxMode, Topology
from pmemctl.ops.layout.policy import AUTO_ONLINE, DEMOTION, NUMA_BALANCING, balancing_name
from pmemctl.ops.layout.tomlout import toml_text
from pmemctl.ops.plan.checks import device_blocks
from pmemctl.sysfs.door import SysfsRoot


def _selector(topo: Topology, dev: DaxDevice) -> dict[str, Any]:
    ns = topo.namespace(dev.namespace) if dev.namespace else None
    if ns is not None and ns.uuid:
        return {"namespace_uuid": ns.uuid}
    if ns is not None and ns.resource is not None:
        return {"range": {"start": ns.resource, "size": ns.size}}
    ranges = dev.ranges()
    if ranges:
        return {"range": {"start": ranges[0][0], "size": dev.size}}
    return {"device": dev.name}  # resource unreadable (not root): the weakest selector, with a warning


def _entry(topo: Topology, dev: DaxDevice) -> dict[str, Any]:
    ns = topo.namespace(dev.namespace) if dev.namespace else None
    name = (ns.alt_name if ns is not None and ns.alt_name else None) or f"{dev.source}-{dev.name}"
    out: dict[str, Any] = {"name": name, "match": _selector(topo, dev)}
    if dev.mode == DaxMode.DISABLED:
        out["mode"] = "unmanaged"
        return out
    if dev.mode == DaxMode.DEVDAX:
        out["mode"] = "devdax"
        return out
    blocks = device_blocks(topo, dev)
    online = [b for b in blocks if b.state == BlockState.ONLINE]
    normal = sum(1 for b in online if b.zones and b.zones[0] != "Movable")
    out["mode"] = "system-ram"
    out["online"] = "all" if len(online) == len(blocks) else "none" if not online else len(online)
    if normal == 0:
        out["zone"] = "movable"
    elif normal == len(online):
        out["zone"] = "normal"
    else:
        out["normal"] = normal * (topo.policy.block_size or 0)
    return out


def _policy(door: SysfsRoot) -> dict[str, Any]:
    out: dict[str, Any] = {}
    auto = door.read_optional(AUTO_ONLINE)
    if auto:
        out["auto_online_blocks"] = auto.strip()
    demotion = door.read_optional(DEMOTION)
    if demotion:
        out["demotion_enabled"] = demotion.strip() in ("true", "1", "Y", "y")
    balancing: Optional[str] = door.read_optional(NUMA_BALANCING)
    name = balancing_name(balancing.strip()) if balancing else None
    if isinstance(name, str):
        out["numa_balancing"] = name
    return out


def layout_of_machine(door: SysfsRoot) -> str:
    topo = discover(door)
    data: dict[str, Any] = {"version": 1}
    policy = _policy(door)
    if policy:
        data["policy"] = policy
    entries = [_entry(topo, d) for d in topo.dax_devices]
    names: set[str] = set()
    for e in entries:  # entry names are unique
        while e["name"] in names:
            e["name"] += "-2"
        names.add(e["name"])
    if entries:
        data["device"] = entries
    comments = {e["name"]: [f"{d.name} ({d.source}) at capture time"]
                for e, d in zip(entries, topo.dax_devices, strict=True)}
    head = ("# pmemctl layout captured from this machine by 'pmemctl config init'\n"
            "# (see pmemctl-layout(5); 'pmemctl apply --check' compares a machine with it)\n")
    return head + toml_text(data, comments)
