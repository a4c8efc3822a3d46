"""One selector grammar and one resolver for every command that names a dax
device, a namespace or a region.

A selector is one word; surrounding whitespace is ignored.  Rules are tried in
this order (a namespace command tries ``namespace`` before ``device``; no
text fits both) and the first that matches decides (``by`` names it):

=============  ===============================  =====================================
rule (``by``)  form                             example
=============  ===============================  =====================================
``all``        every dax device (device         ``all``
               commands) / every configured
               namespace (namespace commands)
``device``     a dax device ``daxR.N``, its     ``dax0.1``, ``/dev/dax0.1``
               node ``/dev/daxR.N`` or its
               ``/sys/bus/dax/devices/daxR.N``
``short``      ``R.N``: the dax device daxR.N   ``0.1``
               where the command acts on dax
               devices (reconfigure, online,
               offline), the namespace
               namespaceR.N where it acts on
               namespaces (namespace ...)
``namespace``  a namespace ``namespaceR.N``     ``namespace0.1``
``blockdev``   a block device                   ``/dev/pmem0``, ``/dev/pmem0.2``,
               ``/dev/pmemR[.N][s]``: the       ``/dev/pmem1s``
               namespace it belongs to
``uuid``       the namespace (label) uuid or    ``78bc899e-4a6e-5859-84ba-3dd6690d1206``
               its pfn/dax/btt info-block
               uuid, in any case
``alt_name``   a namespace's name (alt_name):   ``db-log``
               exact and case-sensitive,
               configured namespaces only (a
               deleted namespace of size 0
               may keep its alt_name: it does
               not match)
``address``    a physical address or an         ``0x3900000000``,
               inclusive range ``0xSTART[-      ``0x3900000000-0x390fffffff``
               0xEND]`` inside one dax
               device's ranges (device
               commands) or one namespace's
               extent (namespace commands)
``node``       a NUMA node ``nodeN``: the dax   ``node2``
               devices whose target_node is N
               (the configured namespaces
               whose target_node is N)
=============  ===============================  =====================================

A selector holding a ``/`` must be exactly ``/dev/NAME`` (or a dax device's
``/sys/bus/dax/devices/daxR.N``), or a namespace's alt_name: nothing else is
taken for a path: ``/etc/../../dax0.0``, ``dev/dax0.0`` or ``/dev//dax0.0``
are not resolved by their last part, they raise UsageError (exit 2), so a
mistyped or hostile path never selects a device.

Regions (``namespace create --region``, ``namespace plan``): ``regionN`` or
``N``, e.g. ``region1`` or ``1``.

Whichever the command acts on, every rule means the same objects: a
namespace rule on a dax-device command selects the namespace's dax device
(select_devices refuses a namespace that has none), a dax-device rule on a
namespace command selects the device's namespace.

A rule that names one object (``uuid``, ``alt_name``, ``address``,
``blockdev``) and matches several raises :class:`AmbiguousSelector` -- one
error, exit code 2 (USAGE), for every command.  A selector that matches
nothing raises the command's NotFound with the known names.

:func:`resolve` returns a :class:`Selection` (what matched, how, by which
rule); :func:`select_devices`, :func:`select_namespace`,
:func:`match_namespaces` and :func:`select_region` keep the contracts of the
resolvers they replace (planner.resolve_devices, namespace.resolve_namespace,
namespace.match_namespaces, namespace.resolve_region).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Optional, Sequence, Union

from pmemctl.commandline import command_line
from pmemctl.errors import NotFound, Refused, UsageError
from pmemctl.model.discover import find_object_error
from pmemctl.model.records import DaxDevice, Namespace, Region, Topology
from pmemctl.sysfs.abi import DAX_DEVICE_RE, NAMESPACE_RE, REGION_RE, UUID_RE
from pmemctl.units import format_size

Want = Literal["device", "namespace"]
Rule = Literal["all", "device", "short", "namespace", "blockdev", "uuid", "alt_name", "address", "node"]

#: every rule, in the order they are tried (namespace commands try
#: ``namespace`` before ``device``; no text matches both)
RULES: tuple[Rule, ...] = ("all", "device", "short", "namespace", "blockdev", "uuid", "alt_name", "address", "node")
#: rules that name one object: several matches are ambiguous
ONE_OBJECT_RULES: frozenset[Rule] = frozenset({"blockdev", "uuid", "alt_name", "address"})

#: ``0xSTART`` or ``0xSTART-0xEND`` (END inclusive, as the kernel prints ranges)
_ADDRESS_RE = re.compile(r"0x([0-9a-fA-F]+)(?:-0x([0-9a-fA-F]+))?")

_DEVICE_KIND = "dax device (by name, namespace, uuid, alt_name or address)"
_NAMESPACE_KIND = "namespace (by namespaceX.Y, uuid or name)"


class AmbiguousSelector(UsageError):
    """A selector that must name one object but matches several (by uuid,
    alt_name, address or block device; or ``all`` / ``nodeN`` where one
    namespace is wanted); lists each candidate."""

    def __init__(self, selector: str, candidates: Sequence[Union[Namespace, DaxDevice]]) -> None:
        namespaces = [c for c in candidates if isinstance(c, Namespace)]
        if len(namespaces) == len(candidates):
            noun, hint = "namespaces", "select one by its namespaceX.Y name or its uuid"
            listing = "; ".join(_describe_namespace(n) for n in namespaces)
        else:
            devices = [c for c in candidates if isinstance(c, DaxDevice)]
            noun, hint = "dax devices", "select one by its daxX.Y name"
            listing = "; ".join(f"{d.name} ({d.source}, {format_size(d.size)} {d.mode.value})" for d in devices)
        super().__init__(f"{selector!r} matches {len(candidates)} {noun}: {listing}", hint=hint)
        self.selector = selector
        self.candidates = tuple(candidates)


def _describe_namespace(n: Namespace) -> str:
    return f"{n.name} ({n.region}, {format_size(n.size)} {n.mode.value}, uuid {n.uuid or n.holder_uuid or '-'})"


@dataclass(frozen=True)
class Selection:
    """What a selector matched, and how.

    ``devices`` and ``namespaces`` are both filled: the side the command acts
    on, and the objects on the other side that belong to them.  The side the
    command acts on may be empty only for one matched object of the other
    kind: a namespace without a dax device (``want="device"``: select_devices
    refuses it), or a dax device without a namespace (``want="namespace"``:
    select_namespace reports it as not found).
    """

    devices: tuple[DaxDevice, ...]
    namespaces: tuple[Namespace, ...]
    how: str  # the planner's "selected ..." note
    by: Rule


@dataclass(frozen=True)
class _Hit:
    by: Rule
    side: Want  # the kind of object the rule matched
    devices: tuple[DaxDevice, ...] = ()
    namespaces: tuple[Namespace, ...] = ()
    node: Optional[int] = None


# --------------------------------------------------------------------------
# public entry points


def resolve(topo: Topology, text: str, want: Want = "device") -> Selection:
    """Resolve a selector for a command acting on dax devices (``want="device"``)
    or on namespaces (``want="namespace"``).

    Raises NotFound (nothing matched; also ``all`` or ``nodeN`` matching
    nothing), AmbiguousSelector (a one-object rule matched several), or
    UsageError (an address range that ends before it starts).
    """
    if want not in ("device", "namespace"):
        raise ValueError(f"want must be 'device' or 'namespace', not {want!r}")
    sel = text.strip()
    hit = _match(topo, sel, want)
    if hit is None:
        raise _not_found(topo, text, sel, want)
    matched: Sequence[Union[Namespace, DaxDevice]] = hit.namespaces if hit.side == "namespace" else hit.devices
    if hit.by in ONE_OBJECT_RULES and len(matched) > 1:
        raise AmbiguousSelector(sel, _candidates(topo, hit))
    if not matched:
        raise _none_there(topo, hit, want)
    if hit.side == "device":
        devices = hit.devices
        namespaces = tuple(n for n in (_namespace_of(topo, d) for d in devices) if n is not None)
    else:
        namespaces = hit.namespaces
        devices = tuple(d for d in (_device_of(topo, n) for n in namespaces) if d is not None)
    return Selection(devices=devices, namespaces=namespaces, how=_how(hit, sel, want, devices, namespaces),
                     by=hit.by)


def select_devices(topo: Topology, selector: str) -> tuple[list[DaxDevice], str]:
    """The dax devices a selector names, and how (planner.resolve_devices):
    refused for a namespace that has no dax device."""
    s = resolve(topo, selector, "device")
    if not s.devices:
        ns = s.namespaces[0]
        raise Refused(
            f"{ns.name} is in {ns.mode.value} mode and has no dax device",
            hint="make it devdax first: " + command_line("namespace", "reconfigure", ns.name, "--mode", "devdax",
                                                          sysroot=topo.sysroot),
        )
    return list(s.devices), s.how


def match_namespaces(topo: Topology, selector: str) -> list[Namespace]:
    """Every namespace a selector names in a namespace command, without
    refusing: [] when nothing matches (or a dax device without a namespace),
    several when the selector is ambiguous (or ``all`` / ``nodeN``).  Raises
    only UsageError, for an address range that ends before it starts."""
    hit = _match(topo, selector.strip(), "namespace")
    if hit is None:
        return []
    if hit.side == "namespace":
        return list(hit.namespaces)
    return [n for n in (_namespace_of(topo, d) for d in hit.devices) if n is not None]


def select_namespace(topo: Topology, selector: str) -> Namespace:
    """Exactly one namespace (namespace.resolve_namespace)."""
    s = resolve(topo, selector, "namespace")
    if len(s.namespaces) > 1:
        raise AmbiguousSelector(selector.strip(), s.namespaces)
    if not s.namespaces:
        dev = s.devices[0]
        raise NotFound(f"{dev.name} is a {dev.source} dax device and has no namespace",
                       hint="namespace commands act on NVDIMM namespaces: see '"
                            + command_line("list", sysroot=topo.sysroot) + "'")
    return s.namespaces[0]


def select_region(topo: Topology, selector: str) -> Region:
    """A region by ``regionN`` or ``N`` (namespace.resolve_region)."""
    sel = selector.strip()
    name = f"region{sel}" if REGION_RE.match(f"region{sel}") else sel
    region = topo.region(name)
    if region is None:
        raise find_object_error("region", sel, [r.name for r in topo.regions])
    return region


# --------------------------------------------------------------------------
# the rules


#: the directories a path selector may name a device in, exactly
_PATH_DIRS = ("/dev", "/sys/bus/dax/devices")


def _exact_path(sel: str) -> bool:
    """``/dev/NAME`` or ``/sys/bus/dax/devices/NAME``, NAME one plain component."""
    head, _, base = sel.rpartition("/")
    return head in _PATH_DIRS and base not in ("", ".", "..")


def _match(topo: Topology, sel: str, want: Want) -> Optional[_Hit]:
    if "/" in sel and not _exact_path(sel):
        hit = _by_alt_name(topo, sel)  # a name may hold a slash; nothing else may
        if hit is None:
            raise UsageError(
                f"{sel!r} is not a selector: a path must be exactly /dev/NAME (like /dev/dax0.1 or /dev/pmem0)",
                hint="name the device (dax0.1, namespace0.1) or give its /dev path; "
                     "relative paths and paths with other directories or '..' are never resolved",
            )
        return hit
    if sel == "all":
        if want == "device":
            return _Hit("all", "device", devices=topo.dax_devices)
        return _Hit("all", "namespace", namespaces=_configured(topo))
    if want == "namespace":
        hit = _by_namespace_name(topo, sel, want) or _by_device_name(topo, sel, want)
    else:
        hit = _by_device_name(topo, sel, want) or _by_namespace_name(topo, sel, want)
    return (hit or _by_blockdev(topo, sel) or _by_uuid(topo, sel) or _by_alt_name(topo, sel)
            or _by_address(topo, sel, want) or _by_node(topo, sel, want))


def _by_device_name(topo: Topology, sel: str, want: Want) -> Optional[_Hit]:
    """``daxR.N``, ``/dev/daxR.N`` or ``/sys/bus/dax/devices/daxR.N`` (only
    those exact paths reach here: see :func:`_match`), or a bare ``R.N`` on
    device commands."""
    base = sel.rsplit("/", 1)[-1]
    by: Rule
    if DAX_DEVICE_RE.match(base):
        name, by = base, "device"
    elif DAX_DEVICE_RE.match("dax" + base) and want == "device" and "/" not in sel:
        name, by = "dax" + base, "short"
    else:
        return None
    dev = topo.dax_device(name)
    return _Hit(by, "device", devices=(dev,)) if dev is not None else None


def _by_namespace_name(topo: Topology, sel: str, want: Want) -> Optional[_Hit]:
    by: Rule
    if NAMESPACE_RE.match(sel):
        ns, by = topo.namespace(sel), "namespace"
    elif want == "namespace" and NAMESPACE_RE.match("namespace" + sel):
        ns, by = topo.namespace("namespace" + sel), "short"
    else:
        return None
    return _Hit(by, "namespace", namespaces=(ns,)) if ns is not None else None


def _by_blockdev(topo: Topology, sel: str) -> Optional[_Hit]:
    """``/dev/pmemR``, ``/dev/pmemR.N``, ``/dev/pmemRs``...: the namespace
    whose block device it is (as discovered; a devdax namespace has none)."""
    if not sel.startswith("/dev/pmem"):
        return None
    hits = tuple(n for n in topo.namespaces if n.blockdev == sel[len("/dev/"):])
    return _Hit("blockdev", "namespace", namespaces=hits) if hits else None


def _by_uuid(topo: Topology, sel: str) -> Optional[_Hit]:
    if not UUID_RE.match(sel):
        return None
    low = sel.lower()
    hits = tuple(n for n in topo.namespaces if low in ((n.uuid or "").lower(), (n.holder_uuid or "").lower()))
    return _Hit("uuid", "namespace", namespaces=hits) if hits else None


def _by_alt_name(topo: Topology, sel: str) -> Optional[_Hit]:
    # a deleted namespace (size 0) may keep its alt_name: only configured ones have a name
    hits = tuple(n for n in _configured(topo) if n.alt_name and n.alt_name == sel)
    return _Hit("alt_name", "namespace", namespaces=hits) if hits else None


def _by_address(topo: Topology, sel: str, want: Want) -> Optional[_Hit]:
    m = _ADDRESS_RE.fullmatch(sel)
    if m is None:
        return None
    lo = int(m.group(1), 16)
    hi = int(m.group(2), 16) if m.group(2) else lo
    if hi < lo:
        raise UsageError(f"the address range {sel} ends before it starts", hint="give 0xSTART-0xEND, START <= END")
    if want == "device":
        devs = tuple(d for d in topo.dax_devices if any(s <= lo and hi < e for s, e in d.ranges()))
        return _Hit("address", "device", devices=devs) if devs else None
    nss = tuple(n for n in _configured(topo)
                if n.resource is not None and n.resource <= lo and hi < n.resource + n.size)
    return _Hit("address", "namespace", namespaces=nss) if nss else None


def _by_node(topo: Topology, sel: str, want: Want) -> Optional[_Hit]:
    digits = sel[len("node"):]
    if not (sel.startswith("node") and digits.isascii() and digits.isdigit()):
        return None
    node = int(digits)
    if want == "device":
        return _Hit("node", "device", devices=tuple(d for d in topo.dax_devices if d.target_node == node), node=node)
    return _Hit("node", "namespace", namespaces=tuple(n for n in _configured(topo) if n.target_node == node),
                node=node)


# --------------------------------------------------------------------------
# helpers


def _configured(topo: Topology) -> tuple[Namespace, ...]:
    return tuple(n for n in topo.namespaces if n.size)


def _device_of(topo: Topology, ns: Namespace) -> Optional[DaxDevice]:
    return topo.dax_device(ns.dax_device) if ns.dax_device else None


def _namespace_of(topo: Topology, dev: DaxDevice) -> Optional[Namespace]:
    return topo.namespace(dev.namespace) if dev.namespace else None


def _candidates(topo: Topology, hit: _Hit) -> Sequence[Union[Namespace, DaxDevice]]:
    """The objects an ambiguity lists: namespaces, or (for devices that all
    have one) the devices' namespaces, else the devices."""
    if hit.side == "namespace":
        return hit.namespaces
    owners = [n for n in (_namespace_of(topo, d) for d in hit.devices) if n is not None]
    return owners if len(owners) == len(hit.devices) else hit.devices


def _how(hit: _Hit, sel: str, want: Want, devices: Sequence[DaxDevice], namespaces: Sequence[Namespace]) -> str:
    """The planner's "selected ..." note."""
    dev_names = ", ".join(d.name for d in devices)
    ns_names = ", ".join(n.name for n in namespaces)
    if hit.by == "all":
        return "all dax devices" if want == "device" else "all namespaces"
    if hit.by == "node":
        return f"node {hit.node} -> {dev_names if want == 'device' else ns_names}"
    if hit.side == "device":
        first = devices[0].name
        if hit.by == "address":
            return f"address {sel} -> {first if want == 'device' else ns_names or first}"
        return first if want == "device" or not namespaces else f"{first} -> {ns_names}"
    ns = namespaces[0].name
    if hit.by == "uuid":
        return f"uuid {sel.lower()} -> {dev_names if want == 'device' and devices else ns}"
    chain = {
        "namespace": ns,
        "short": ns,
        "blockdev": f"{sel} -> {ns}",
        "alt_name": f"name {sel!r} -> {ns}",
        "address": f"address {sel} -> {ns}",
    }[hit.by]
    return f"{chain} -> {dev_names}" if want == "device" and devices else chain


def _not_found(topo: Topology, text: str, sel: str, want: Want) -> NotFound:
    if want == "device":
        return find_object_error(_DEVICE_KIND, sel, [d.name for d in topo.dax_devices])
    known = [n.name + (f" ({n.alt_name})" if n.alt_name else "") for n in topo.namespaces if n.size]
    return find_object_error(_NAMESPACE_KIND, text, known)


def _none_there(topo: Topology, hit: _Hit, want: Want) -> NotFound:
    """``all`` or ``nodeN`` matching nothing."""
    if hit.by == "all":
        if want == "device":
            return NotFound("there are no dax devices",
                            hint=f"run '{command_line('list', sysroot=topo.sysroot)}' to see namespaces "
                                 "that could become one")
        return NotFound("there are no configured namespaces",
                        hint="create one: " + command_line("namespace", "create", sysroot=topo.sysroot))
    if want == "device":
        places = sorted({(d.target_node, d.name) for d in topo.dax_devices if d.target_node is not None})
        listing = ", ".join(f"{d} on node{n}" for n, d in places) or "none"
        return NotFound(f"no dax device has target_node {hit.node}", hint=f"dax devices: {listing}")
    nodes = sorted({n.target_node for n in _configured(topo) if n.target_node is not None})
    listing = ", ".join(f"node{n}" for n in nodes) or "none"
    return NotFound(f"no configured namespace has target_node {hit.node}", hint=f"namespaces are on: {listing}")
