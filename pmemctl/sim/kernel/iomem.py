"""``/proc/iomem`` of the simulated kernel, from the tree as it is now.

Every change that creates or removes a resource (a namespace enabled or
deleted, a dax device bound, kmem's claim, memory kmem could not give back)
ends in :func:`refresh_iomem`: the machine description's resources
(:func:`pmemctl.sim.objects.iomem_entries`) recomputed over the namespaces
and dax devices the tree holds now (:func:`current_machine`).
"""

from __future__ import annotations

import dataclasses
import posixpath

from pmemctl.sim import objects
from pmemctl.sim.kernel.context import SimContext
from pmemctl.sim.kernel.dax import hotplug_ranges
from pmemctl.sim.kernel.nd.common import NdCommon
from pmemctl.sim.machine import DaxDeviceSpec, DaxMappingSpec, IomemEntrySpec, MachineSpec, NamespaceSpec
from pmemctl.sysfs import abi, paths


def current_machine(ctx: SimContext) -> MachineSpec:
    """The machine description with its namespaces and dax devices replaced
    by what the tree holds now (for /proc/iomem)."""
    m = ctx.machine
    tree = ctx.tree
    nd = NdCommon(ctx)
    read = nd.read

    devices: list[DaxDeviceSpec] = []
    static_by_name = {d.name: d for d in m.dax_devices}
    bs = ctx.block_size
    for name in tree.listdir(paths.DAX_DEVICES):
        link = f"{paths.DAX_DEVICES}/{name}"
        kp = tree.resolve_link(link)
        if kp is None or not tree.is_dir(kp):
            continue
        ranges = nd.dax_ranges(kp)
        driver = objects.bound_driver(tree, kp)
        hotplug = tuple(hotplug_ranges(ranges, bs))
        static = static_by_name.get(name)
        if static is not None and static.kpath == kp:
            devices.append(dataclasses.replace(static, driver=driver, hotplug_ranges=hotplug))
            continue
        devices.append(
            DaxDeviceSpec(
                name=name, region_id=int(read(f"{posixpath.dirname(kp)}/dax_region/id") or 0), kpath=kp,
                region_kpath=posixpath.dirname(kp), source="nvdimm", size=int(read(f"{kp}/size") or 0),
                align=int(read(f"{kp}/align") or 0), target_node=int(read(f"{kp}/target_node") or -1),
                numa_node=int(read(f"{kp}/numa_node") or -1), driver=driver,
                mappings=tuple(DaxMappingSpec(s, e, 0) for s, e in ranges), major=0, minor=0,
                hotplug_ranges=hotplug,
            )
        )
    buses = []
    for bus in m.buses:
        regions = []
        for region in bus.regions:
            if not tree.is_dir(region.kpath):
                regions.append(region)
                continue
            info = nd.region(region.kpath)
            namespaces = []
            for ns_name in nd.children(info, "namespace"):
                kp = f"{region.kpath}/{ns_name}"
                size = nd.ns_size(kp)
                res = nd.ns_resource(kp)
                holder = nd.ns_claim(kp)
                hkp = f"{region.kpath}/{holder}" if holder else None
                holder_enabled = bool(hkp and objects.bound_driver(tree, hkp))
                data = read(f"{hkp}/resource") if hkp and holder_enabled else None
                dax_children = nd.dax_children(hkp) if hkp and holder.startswith("dax") else []
                namespaces.append(
                    NamespaceSpec(
                        name=ns_name, id=int(ns_name.rsplit(".", 1)[1]), region=region.name, kpath=kp,
                        mode=abi.mode_of_holder(holder),
                        seed=size == 0, nstype=region.nstype, size=size, resource=res, uuid=None, alt_name="",
                        sector_size=None, enabled=objects.bound_driver(tree, kp) is not None,
                        numa_node=region.numa_node, target_node=region.target_node, holder=holder or None,
                        holder_kpath=hkp, holder_enabled=holder_enabled,
                        data_start=int(data, 16) if data else None,
                        dax_device=dax_children[0] if dax_children else None,
                    )
                )
            regions.append(dataclasses.replace(region, namespaces=tuple(namespaces)))
        buses.append(dataclasses.replace(bus, regions=tuple(regions)))
    # ranges kmem could not remove stay claimed while no kmem instance holds
    # them again (they cannot be re-probed until reboot)
    held = {d.name for d in devices if d.driver == "kmem"}
    stranded = tuple((str(n), int(lo), int(hi)) for n, lo, hi in ctx.load_state().get("stranded_kmem", [])
                     if n not in held)
    return dataclasses.replace(m, buses=tuple(buses), dax_devices=tuple(devices), stranded_kmem=stranded)


def iomem_entries(ctx: SimContext) -> list[IomemEntrySpec]:
    """Every /proc/iomem resource of the machine as the tree has it now."""
    return objects.iomem_entries(current_machine(ctx))


def refresh_iomem(ctx: SimContext) -> None:
    """Rewrite /proc/iomem from the tree (namespaces created or destroyed,
    dax devices added, kmem claims)."""
    objects.write_proc_iomem(ctx.tree, iomem_entries(ctx))


__all__ = ["current_machine", "iomem_entries", "refresh_iomem"]
