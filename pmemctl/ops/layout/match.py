"""Match layout entries against one discovery snapshot (never re-reading
sysfs): stable selectors first (namespace uuid, dax info-block uuid,
namespace name, physical range, target node), ``daxX.Y`` last.

A namespace that is not devdax yet matches as itself (the plan converts it,
as ``reconfigure NS`` does); otherwise the match is its dax device.
Cardinality is checked against ``expect``: too few or too many is a
finding, never a guess.  Two entries matching the same device is a bad
layout (LayoutError naming the second entry's line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from pmemctl.model.records import DaxDevice, Namespace, NamespaceMode, Region, Topology
from pmemctl.ops.layout.records import DeviceEntry, RegionEntry, Selector
from pmemctl.ops.layout.schema import LayoutError

Target = Union[DaxDevice, Namespace]


@dataclass(frozen=True)
class DeviceMatch:
    entry: DeviceEntry
    targets: tuple[Target, ...]
    #: "ok", "missing", "optional-missing" or "ambiguous"
    verdict: str
    finding: Optional[str] = None

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.targets]


def _configured(topo: Topology) -> list[Namespace]:
    return [n for n in topo.namespaces if n.size > 0]


def _ns_target(topo: Topology, ns: Namespace) -> Target:
    dev = topo.dax_device(ns.dax_device) if ns.dax_device else None
    return dev if dev is not None else ns


def _by_range(topo: Topology, start: int, size: Optional[int]) -> list[Target]:
    """Dax devices whose first range starts at ``start``, or whose namespace's
    extent does (the namespace start is what a user reads in ``ndctl list``)."""
    out: list[Target] = []
    for dev in topo.dax_devices:
        ranges = dev.ranges()
        if ranges and ranges[0][0] == start and (size is None or dev.size == size):
            out.append(dev)
    seen = {t.name for t in out}
    for ns in _configured(topo):
        if ns.resource == start and (size is None or ns.size == size):
            target = _ns_target(topo, ns)
            if target.name not in seen:
                out.append(target)
                seen.add(target.name)
    return out


def find_targets(topo: Topology, sel: Selector) -> list[Target]:
    """Every object the selector names on this machine."""
    value = sel.value
    if sel.kind == "namespace_uuid":
        return [_ns_target(topo, n) for n in _configured(topo) if (n.uuid or "").lower() == value]
    if sel.kind == "dax_uuid":
        return [_ns_target(topo, n) for n in _configured(topo)
                if n.mode == NamespaceMode.DEVDAX and (n.holder_uuid or "").lower() == value]
    if sel.kind == "namespace":
        return [_ns_target(topo, n) for n in _configured(topo) if value in (n.name, n.alt_name)]
    if sel.kind == "range":
        assert isinstance(value, tuple)
        return _by_range(topo, value[0], value[1])
    if sel.kind == "node":
        return [d for d in topo.dax_devices if d.target_node == value]
    if sel.kind == "device":
        return [d for d in topo.dax_devices if d.name == value]
    raise ValueError(f"unknown selector kind {sel.kind}")


def match_devices(topo: Topology, entries: tuple[DeviceEntry, ...]) -> list[DeviceMatch]:
    out: list[DeviceMatch] = []
    owner: dict[str, DeviceEntry] = {}
    for entry in entries:
        targets = find_targets(topo, entry.selector)
        for t in targets:
            for name in _identities(topo, t):
                if name in owner:
                    first = owner[name]
                    raise LayoutError(entry.where.file, entry.where.line,
                                      f"{entry.name!r} ({entry.selector.text()}) selects {t.name}, which "
                                      f"{first.name!r} at {first.where} selects already")
                owner[name] = entry
        out.append(_verdict(entry, tuple(targets)))
    return out


def _identities(topo: Topology, t: Target) -> list[str]:
    """A dax device and its namespace are one thing."""
    if isinstance(t, Namespace):
        return [t.name]
    return [t.name] + ([t.namespace] if t.namespace else [])


def _verdict(entry: DeviceEntry, targets: tuple[Target, ...]) -> DeviceMatch:
    n, want = len(targets), entry.expect
    names = ", ".join(t.name for t in targets)
    if n == want:
        return DeviceMatch(entry, targets, "ok")
    if n > want:
        return DeviceMatch(entry, targets, "ambiguous",
                           f"{entry.selector.text()} matches {n} devices ({names}), the layout expects {want}: "
                           "nothing is changed for this entry; make the selector name exactly "
                           f"{'one device' if want == 1 else f'{want} devices'} or set expect = {n}")
    if entry.optional:
        return DeviceMatch(entry, targets, "optional-missing",
                           f"{entry.selector.text()} matches {n} of {want} expected device(s) (optional)")
    return DeviceMatch(entry, targets, "missing",
                       f"{entry.selector.text()} matches {n} of {want} expected device(s)"
                       + (f" ({names})" if names else "") + ": nothing is changed for this entry")


def find_region(topo: Topology, entry: RegionEntry) -> list[Region]:
    sel = entry.selector
    if sel.kind == "region":
        return [r for r in topo.regions if r.name == sel.value or str(r.id) == str(sel.value)]
    if sel.kind == "node":
        return [r for r in topo.regions if r.target_node == sel.value]
    assert isinstance(sel.value, tuple)
    start, size = sel.value
    return [r for r in topo.regions if r.resource == start and (size is None or r.size == size)]
