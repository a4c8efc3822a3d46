"""Region entries: the namespaces a region should hold, matched by name
(alt_name), against one snapshot.

* a namespace the entry declares and the region lacks is created
  (plan/namespace.plan_create);
* a namespace whose mode or size differs is drift, never touched, unless the
  entry says ``allow_destroy = true``: then a mode change on the same size is
  ``reconfigure`` in place (plan/namespace.plan_reconfigure_namespace), a
  size change is destroy + create (plan/namespace.plan_destroy, then
  plan_create on the region as it will be once the namespace is gone).
  Both are destructive: consent (--yes or a prompt), and the namespace
  planner's data-safety refusals (mounted, stacked, open, system RAM online:
  ops/plan/safety.py) apply unchanged;
* one change per region per pass: each takes the region's seed, so the next
  pass plans against the seed the kernel offers then.
"""

from __future__ import annotations

from typing import Optional

from pmemctl.errors import PmemctlError
from pmemctl.model.records import Namespace, Region, Topology, replace
from pmemctl.ops.layout.match import find_region
from pmemctl.ops.layout.plan import ItemState, merge_plans
from pmemctl.ops.layout.records import NamespaceSpec, RegionEntry
from pmemctl.ops.plan import Check, Plan
from pmemctl.ops.plan.namespace import plan_create, plan_destroy, plan_reconfigure_namespace
from pmemctl.ops.requests import CreateRequest, DestroyRequest, NsReconfigureRequest
from pmemctl.ops.sizes import Extent, RegionGeometry
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import format_sizes, parse_size


def spec_size(spec: NamespaceSpec) -> Optional[int]:
    """The size the layout asks, in bytes; None for ``max`` (any size will do)."""
    if isinstance(spec.size, int):
        return spec.size
    if spec.size.strip().lower() == "max":
        return None
    return parse_size(spec.size)


def _difference(spec: NamespaceSpec, ns: Namespace) -> str:
    """How a present namespace differs from its spec ("" when it does not)."""
    bits = []
    if ns.mode.value != spec.mode:
        bits.append(f"is {ns.mode.value}, the layout wants {spec.mode}")
    want = spec_size(spec)
    if want is not None and want != ns.size:
        have, wanted = format_sizes(ns.size, want)
        bits.append(f"is {have} ({ns.size} bytes), the layout wants {wanted} ({want} bytes)")
    return f"namespace {spec.name!r} ({ns.name}) " + " and ".join(bits) if bits else ""


def _refusal(title: str, message: str) -> Plan:
    return Plan(title=title, actions=(), checks=(Check("layout", False, message),))


def _largest_gap(region: Region, used: list[Extent], fallback: int) -> int:
    """The region's largest free extent given ``used``; ``fallback`` when the
    region's start is not readable (``resource`` is root-only)."""
    if region.resource is None:
        return fallback
    geom = RegionGeometry(region.name, region.size, 0, region.align or 1, 1, True, region.resource, tuple(used))
    return max((g.size for g in geom.free_extents()), default=0)


def without_namespace(topo: Topology, ns: Namespace) -> Topology:
    """``topo`` as it will be once ``ns`` is destroyed: its extent free (the
    kernel's available_size and max_available_extent grow), its id idle."""
    region = topo.region(ns.region)
    assert region is not None
    gone = replace(ns, size=0, resource=None, uuid=None, holder_uuid=None, alt_name=None, holder=None,
                               blockdev=None, dax_device=None, enabled=False)
    used = [Extent(n.resource, n.size) for n in topo.namespaces
            if n.region == region.name and n.name != ns.name and n.size and n.resource is not None]
    before = region.max_available_extent if region.max_available_extent is not None else region.available_size
    freed = replace(
        region,
        available_size=None if region.available_size is None else region.available_size + ns.size,
        max_available_extent=_largest_gap(region, used, max(before or 0, ns.size)),
    )
    return replace(
        topo,
        namespaces=tuple(gone if n.name == ns.name else n for n in topo.namespaces),
        regions=tuple(freed if r.name == region.name else r for r in topo.regions),
    )


def replace_plan(door: SysfsRoot, topo: Topology, region: Region, spec: NamespaceSpec, ns: Namespace) -> Plan:
    """``allow_destroy``: the namespace back to its spec, through the namespace
    planner.  The same size: reconfigure in place (the data is lost either
    way, the extent and name stay).  Another size: destroy, then create on
    the freed extent; the destroy is not undone if the create fails (its
    data is gone), so each is its own unit."""
    want = spec_size(spec)
    if want is None or want == ns.size:
        return plan_reconfigure_namespace(door, topo, NsReconfigureRequest(ns.name, spec.mode))
    destroy = plan_destroy(door, topo, DestroyRequest(ns.name))
    size = spec.size if isinstance(spec.size, str) else str(spec.size)
    create = plan_create(door, without_namespace(topo, ns), CreateRequest(region.name, size, spec.mode,
                                                                          name=spec.name))
    return merge_plans(f"replace namespace {spec.name!r} ({ns.name}) in {region.name}", [destroy, create])


def region_item(door: SysfsRoot, topo: Topology, entry: RegionEntry) -> ItemState:
    regions = find_region(topo, entry)
    item = ItemState(entry.name, entry.selector.text(), [r.name for r in regions],
                     {"namespaces": [{"name": n.name, "size": n.size, "mode": n.mode} for n in entry.namespaces]},
                     {}, "converged")
    if len(regions) != 1:
        item.status = "missing" if not regions else "ambiguous"
        item.difference = f"{entry.selector.text()} matches {len(regions)} regions, the layout expects 1"
        return item
    region = regions[0]
    present = {n.alt_name: n for n in topo.namespaces if n.region == region.name and n.size > 0 and n.alt_name}
    item.actual = {"namespaces": [{"name": name, "size": n.size, "mode": n.mode.value} for name, n in present.items()]}
    missing = [s for s in entry.namespaces if s.name not in present]
    differs = [(s, present[s.name], d) for s in entry.namespaces if s.name in present
               for d in [_difference(s, present[s.name])] if d]
    notes: list[str] = []
    if differs and entry.allow_destroy:
        spec, ns, what = differs[0]
        title = f"replace namespace {spec.name!r} ({ns.name}) in {region.name}"
        try:
            item.plan = replace_plan(door, topo, region, spec, ns)
        except PmemctlError as err:
            item.plan = _refusal(title, f"namespace {spec.name!r} cannot be replaced: {err.message}")
        item.status = "planned"
        how = ("reconfigured in place" if spec_size(spec) in (None, ns.size) else "destroyed and created again")
        notes.append(f"{what}: allow_destroy = true: {how}, its data is lost"
                     + (" (one namespace per pass)" if len(differs) + len(missing) > 1 else ""))
    else:
        notes += [what + ": not changed (a region entry destroys or reconfigures a namespace only with "
                         "allow_destroy = true)" for _, _, what in differs]
        if missing:
            spec = missing[0]
            size = spec.size if isinstance(spec.size, str) else str(spec.size)
            try:
                item.plan = plan_create(door, topo, CreateRequest(region.name, size, spec.mode, name=spec.name))
            except PmemctlError as err:
                notes.append(f"namespace {spec.name!r} cannot be created: {err.message}")
                item.plan = _refusal(f"create namespace {spec.name!r} in {region.name}", err.message)
            item.status = "planned"
            notes.insert(0, f"{region.name} lacks namespace(s) {', '.join(repr(s.name) for s in missing)}"
                            + (" (created one per pass)" if len(missing) > 1 else ""))
        elif differs:
            item.status = "drift"
    item.difference = "; ".join(notes)
    return item


def defer_devices(regions: list[ItemState], devices: list[ItemState], topo: Topology) -> None:
    """A device entry whose namespace a region entry changes in this pass waits
    for the next pass (two plans on one namespace: the second would be stale)."""
    changing = {t for r in regions if r.plan is not None and r.plan.actions for t in r.plan.targets}
    if not changing:
        return
    for item in devices:
        if item.plan is None or not item.plan.actions:
            continue
        owners = set()
        for name in item.matched:
            dev = topo.dax_device(name)
            owners.add(dev.namespace if dev is not None and dev.namespace else name)
        if owners & changing:
            item.plan = None
            item.difference = "; ".join(filter(None, [item.difference, "waits for its region entry's change "
                                                      "(next pass)"]))
