"""Selectors: which dax devices, namespaces and regions a command names."""

from __future__ import annotations

import re

from pmemctl.errors import NotFound, Refused, UsageError
from pmemctl.model.discover import find_object_error
from pmemctl.model.records import (
    DaxDevice,
    Namespace,
    Region,
    Topology,
)
from pmemctl.ops.sizes import human

_ADDR_RANGE_RE = re.compile(r"^(0x[0-9a-fA-F]+)(?:-(0x[0-9a-fA-F]+))?$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def select_devices(topo: Topology, selector: str) -> tuple[list[DaxDevice], str]:
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


class AmbiguousSelector(Refused):
    """A namespace selector (name or uuid) that matches more than one namespace."""


def select_region(topo: Topology, selector: str) -> Region:
    sel = selector.strip()
    name = f"region{sel}" if sel.isdigit() else sel
    region = topo.region(name)
    if region is None:
        raise find_object_error("region", sel, [r.name for r in topo.regions])
    return region


def match_namespaces(topo: Topology, selector: str) -> list[Namespace]:
    """Namespaces a selector names: ``namespaceX.Y`` / ``X.Y``, a uuid (the
    label uuid ndctl calls raw_uuid, or the info-block uuid it calls uuid),
    or a name (alt_name)."""
    sel = selector.strip()
    name = f"namespace{sel}" if re.fullmatch(r"\d+\.\d+", sel) else sel
    ns = topo.namespace(name)
    if ns is not None:
        return [ns]
    if _UUID_RE.match(sel):
        low = sel.lower()
        return [n for n in topo.namespaces if low in ((n.uuid or "").lower(), (n.holder_uuid or "").lower())]
    # a deleted namespace (size 0) may keep its alt_name: only configured ones have a name
    return [n for n in topo.namespaces if n.alt_name and n.alt_name == sel and n.size]


def select_namespace(topo: Topology, selector: str) -> Namespace:
    hits = match_namespaces(topo, selector)
    if len(hits) > 1:
        listing = "; ".join(
            f"{n.name} ({n.region}, {human(n.size)} {n.mode.value}, uuid {n.uuid or n.holder_uuid or '-'})"
            for n in hits
        )
        raise AmbiguousSelector(
            f"{selector!r} matches {len(hits)} namespaces: {listing}",
            hint="select one by its namespaceX.Y name or its uuid",
        )
    if not hits:
        known = [n.name + (f" ({n.alt_name})" if n.alt_name else "") for n in topo.namespaces if n.size]
        raise find_object_error("namespace (by namespaceX.Y, uuid or name)", selector, known)
    return hits[0]
