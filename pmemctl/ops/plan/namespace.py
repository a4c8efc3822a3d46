"""Plans for namespaces: create, reconfigure, destroy, and the size planner.

A plan is the same for both backends: the same checks, notes and steps;
only each step's exact writes differ (ops/actions/nd.py).
"""

from __future__ import annotations

import uuid as _uuid
from dataclasses import dataclass
from typing import Optional, Sequence

from pmemctl.commandline import command_line
from pmemctl.errors import Refused, Unsupported, UsageError
from pmemctl.model.records import (
    DaxMode,
    Namespace,
    Region,
    Topology,
)
from pmemctl.ops.actions.dax import read_dax_state
from pmemctl.ops.actions.nd import CreateNamespace, DestroyNamespace, ReconfigureNamespace
from pmemctl.ops.actions.nd_writes import BTT_SECTOR_SIZE, mode_label
from pmemctl.ops.backends import choose_backend
from pmemctl.ops.plan import Plan, PlanBuilder
from pmemctl.ops.plan.checks import offline_checks, privilege_check
from pmemctl.ops.plan.dax import release_from_kmem
from pmemctl.ops.plan.safety import NamespaceUse, consent_text, safety_checks
from pmemctl.ops.requests import MAX_NAME, CreateRequest, DestroyRequest, NsReconfigureRequest, SizePlanRequest
from pmemctl.ops.select import select_namespace, select_region
from pmemctl.ops.sizes import (
    DEFAULT_ALIGN,
    DEFAULT_SUPPORTED_ALIGNMENTS,
    MODES,
    PFN_MODES,
    Extent,
    RamPlan,
    RegionGeometry,
    check_size,
    exact_size,
    max_size,
    pfn_layout,
    plan_ram,
    ram_of,
    suggestion,
)
from pmemctl.sysfs import abi, paths
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import format_size, parse_size


def _release_dax(pb: PlanBuilder, door: SysfsRoot, topo: Topology, use: NamespaceUse) -> Optional[str]:
    """Steps that take a system-ram dax device back (offline, unbind kmem,
    wait for the blocks to go); returns the consent text for it."""
    dev = use.dax
    if dev is None or dev.mode != DaxMode.SYSTEM_RAM:
        return None
    blocks = topo.blocks_of(dev.name)
    online = [b for b in blocks if b.online]
    offline_checks(pb, topo, online)
    release_from_kmem(pb, dev, blocks, read_dax_state(door, dev.name))  # one write where daxX.Y/state exists
    if online:
        return (f"{format_size(len(online) * (topo.policy.block_size or 0))} of system RAM on node "
                f"{dev.target_node} will be taken away from running programs")
    return None


def supported_alignments(door: SysfsRoot, region: Region, mode: str) -> tuple[int, ...]:
    attr = abi.PERSONALITIES[mode].seed_attr if mode in abi.PERSONALITIES else None
    seed = getattr(region, attr) if attr else None
    if not seed:
        return DEFAULT_SUPPORTED_ALIGNMENTS
    text = door.read_optional(f"{region.path}/{seed}/supported_alignments")
    if not text:
        return DEFAULT_SUPPORTED_ALIGNMENTS
    try:
        return tuple(int(t) for t in text.split())
    except ValueError:
        return DEFAULT_SUPPORTED_ALIGNMENTS


def geometry(door: SysfsRoot, topo: Topology, region: Region, mode: str = "devdax") -> RegionGeometry:
    used = tuple(
        Extent(n.resource, n.size) for n in topo.namespaces
        if n.region == region.name and n.size and n.resource is not None
    )
    available = region.max_available_extent
    if available is None:
        available = region.available_size
    if available is None:
        available = region.size if region.nstype == 4 else 0
    return RegionGeometry(
        name=region.name,
        size=region.size,
        available=available,
        align=region.align or 16 * 1024 * 1024,
        ways=max(len(region.mappings), 1),
        labeled=region.nstype != 4,
        start=region.resource,
        used=used,
        supported_alignments=supported_alignments(door, region, mode),
    )


def parse_align(text: Optional[str], mode: str, supported: Sequence[int]) -> Optional[int]:
    if mode not in PFN_MODES:
        if text is not None:
            raise UsageError(f"--align applies to fsdax and devdax, not {mode}")
        return None
    if text is None:
        return DEFAULT_ALIGN if DEFAULT_ALIGN in supported or not supported else min(supported)
    try:
        align = parse_size(text)
    except ValueError as err:
        raise UsageError(str(err)) from err
    if align < 4096 or align & (align - 1):
        raise UsageError(f"--align {text}: must be a power of two of at least 4K")
    if supported and align not in supported:
        raise UsageError(
            f"--align {text} is not supported here",
            hint="supported: " + ", ".join(exact_size(a) for a in supported),
        )
    return align


def _parse_size_arg(text: str, what: str) -> int:
    try:
        value = parse_size(text)
    except ValueError as err:
        raise UsageError(f"{what}: {err}") from err
    if value <= 0:
        raise UsageError(f"{what} must be positive")
    return value


def region_can_take(region: Region, mode: str) -> None:
    if not region.enabled:
        raise Refused(f"{region.name} is disabled", hint="enable it first: ndctl enable-region " + region.name)
    if mode in abi.PERSONALITIES:
        attr = abi.PERSONALITIES[mode].seed_attr
        if not getattr(region, attr):
            lacks = "device-dax (dax_pmem)" if mode == "devdax" else abi.PERSONALITIES[mode].holder_prefix
            raise Unsupported(
                f"{region.name} cannot take {mode} namespaces: it offers no {attr} (the kernel lacks {lacks} support)"
            )


def _check_region_for_create(topo: Topology, region: Region, req: CreateRequest) -> None:
    """Refuse a region that cannot take a new namespace of this mode."""
    if region.nstype == 4:
        seeds = [n.name for n in topo.namespaces if n.region == region.name]
        raise Refused(
            f"{region.name} is label-less: it holds one namespace covering the whole region and cannot be "
            "subdivided",
            hint="change its mode instead: " + command_line(
                "namespace", "reconfigure", seeds[0] if seeds else "NS", "--mode", req.mode, sysroot=topo.sysroot),
        )
    if region.read_only:
        raise Refused(f"{region.name} is read-only (read_only=1)")
    region_can_take(region, req.mode)


def _idle_seed(topo: Topology, region: Region) -> str:
    """The namespace seed the kernel offers for a new namespace (namespace_seed)."""
    seed_name = region.namespace_seed
    seed = topo.namespace(seed_name) if seed_name else None
    if seed_name is None or seed is None or not (seed.size == 0 and not seed.enabled):
        raise Refused(
            f"{region.name} offers no idle namespace seed (namespace_seed is {seed_name or 'empty'})",
            hint="the label area may be full; destroy an unused namespace first",
        )
    return seed_name


def _layout_notes(pb: PlanBuilder, topo: Topology, mode: str, start: Optional[int], size: int, align: int) -> None:
    """What a pfn-mode namespace keeps usable, and what it would give as system RAM."""
    lay = pfn_layout(start or 0, size, align)
    pb.notes.append(
        f"{mode} keeps {format_size(lay.usable)} usable: {format_size(lay.offset)} info block and memmap "
        f"(1/64 of the size, --map=dev) at the start" + (f", {format_size(lay.end_trunc)} cut at the end"
                                                         if lay.end_trunc else "")
    )
    bs = topo.policy.block_size
    if mode == "devdax" and bs:
        first, count = ram_of(start or 0, size, align, bs)
        pb.notes.append(
            f"as system-ram it would give {count} memory block(s) of {exact_size(bs)} = {format_size(count * bs)}"
            + ("" if start is not None else " (assuming a block-aligned start)")
        )


def plan_create(door: SysfsRoot, topo: Topology, req: CreateRequest) -> Plan:
    if req.mode not in MODES:
        raise UsageError(f"unknown mode {req.mode!r}", hint="use " + ", ".join(MODES))
    backend = choose_backend(door, req.backend)
    region = select_region(topo, req.region)
    size_max = req.size.strip().lower() == "max"  # ndctl's default: the largest size that fits
    size = 0 if size_max else _parse_size_arg(req.size, "--size")
    # the kernel keeps at most 63 bytes of alt_name (NSLABEL_NAME_LEN 64, with its NUL)
    if req.name is not None and (len(req.name.encode()) > MAX_NAME or "\n" in req.name):
        raise UsageError(f"--name must be at most {MAX_NAME} bytes (UTF-8) on one line")
    _check_region_for_create(topo, region, req)
    geom = geometry(door, topo, region, req.mode)
    align = parse_align(req.align, req.mode, geom.supported_alignments)
    if size_max:
        size = max_size(geom, req.mode, align or DEFAULT_ALIGN)
        if size <= 0:
            raise Refused(f"--size max: nothing fits in {region.name} ({format_size(geom.available)} free)",
                          hint="destroy a namespace to free space, or choose another region")
    pb = PlanBuilder(title=f"create a {exact_size(size)} {req.mode} namespace in {region.name}")
    if size_max:
        pb.notes.append(f"--size max: {exact_size(size)}, the largest {req.mode} size that fits {region.name}")
    privilege_check(pb, door)
    verdict = check_size(geom, req.mode, size, align or DEFAULT_ALIGN)
    if verdict.ok:
        pb.passed("size", f"{exact_size(size)} fits {region.name} "
                  f"({format_size(geom.available)} free in its largest extent)")
    else:
        nearest = suggestion(*verdict.suggestions)
        pb.refuse("size", f"--size {req.size}: {verdict.problem}" + (f"; nearest valid: {nearest}" if nearest else ""))
    seed_name = _idle_seed(topo, region)
    start = geom.predicted_start(size)
    personality_seed = getattr(region, abi.PERSONALITIES[req.mode].seed_attr) if req.mode in abi.PERSONALITIES else ""
    if req.mode in PFN_MODES and verdict.ok:
        _layout_notes(pb, topo, req.mode, start, size, align or DEFAULT_ALIGN)
    if start is not None and verdict.ok:
        pb.notes.append(f"the kernel is expected to place it at {start:#x} (the first free extent that fits)")
    pb.targets.append(seed_name)
    ns_path = paths.nd_device(seed_name)
    pb.actions.append(CreateNamespace(
        region=region.name, namespace=seed_name, mode=req.mode, size=size,
        uuid=str(_uuid.uuid4()), holder_uuid=str(_uuid.uuid4()) if req.mode != "raw" else "",
        seed=personality_seed or "", align=align, name=req.name,
        sector_size=BTT_SECTOR_SIZE if req.mode == "sector" else None,
        has_alt_name=door.exists(ns_path + "/alt_name"),
        has_sector_size=bool((door.read_optional(ns_path + "/sector_size") or "").strip()),
        backend=backend,
    ))
    return pb.build()


def reconfigure_step(door: SysfsRoot, topo: Topology, ns: Namespace, mode: str, align: Optional[int],
                      backend: str) -> ReconfigureNamespace:
    region = topo.region(ns.region)
    assert region is not None
    seed = getattr(region, abi.PERSONALITIES[mode].seed_attr) if mode in abi.PERSONALITIES else ""
    holder_bound = bool(ns.holder) and door.readlink(f"{region.path}/{ns.holder}/driver") is not None
    ns_bound = not ns.holder and door.readlink(ns.path + "/driver") is not None
    return ReconfigureNamespace(
        region=region.name, namespace=ns.name, mode=mode, from_mode=ns.mode.value, uuid=ns.uuid,
        new_uuid=str(_uuid.uuid4()) if ns.uuid else None, holder=ns.holder or "", holder_bound=holder_bound,
        ns_bound=ns_bound, seed=seed or "",
        holder_uuid=str(_uuid.uuid4()) if mode != "raw" else "", align=align,
        from_align=ns.align if ns.mode.value in PFN_MODES else None,
        sector_size=BTT_SECTOR_SIZE if mode == "sector" else None, backend=backend,
    )


def plan_reconfigure_namespace(door: SysfsRoot, topo: Topology, req: NsReconfigureRequest) -> Plan:
    if req.mode not in MODES:
        raise UsageError(f"unknown mode {req.mode!r}", hint="use " + ", ".join(MODES) + " (for system RAM: "
                         + command_line("reconfigure", "NS", "--mode", "system-ram", sysroot=topo.sysroot) + ")")
    backend = choose_backend(door, req.backend)
    ns = select_namespace(topo, req.selector)
    region = topo.region(ns.region)
    assert region is not None
    if ns.size == 0:
        raise Refused(f"{ns.name} is not configured (size 0): there is nothing to reconfigure",
                      hint="create one: " + command_line("namespace", "create", "--region", ns.region, "--size", "SIZE",
                                                         "--mode", req.mode, sysroot=topo.sysroot))
    region_can_take(region, req.mode)
    align = parse_align(req.align, req.mode, supported_alignments(door, region, req.mode))
    pb = PlanBuilder(title=f"reconfigure {ns.name} from {ns.mode.value} to {req.mode}")
    if ns.mode.value == req.mode and (req.align is None or ns.align in (None, align)):
        pb.already.append(f"{ns.name} is already {mode_label(ns.mode.value, ns.align)}")
        return pb.build()
    privilege_check(pb, door)
    if req.mode in PFN_MODES and ns.resource is not None and ns.resource % (16 * 1024 * 1024):
        pb.warn("alignment", f"{ns.name} starts at {ns.resource:#x}, not 16M-aligned: ndctl would need --force")
    if req.mode in PFN_MODES:
        lay = pfn_layout(ns.resource or 0, ns.size, align or DEFAULT_ALIGN)
        if lay.usable <= 0:
            pb.refuse("size", f"{ns.name} ({format_size(ns.size)}) is too small for {req.mode}: the info block and "
                              f"memmap take {format_size(lay.offset)}")
        else:
            pb.notes.append(f"as {req.mode} it keeps {format_size(lay.usable)} usable "
                            f"({format_size(lay.reserved)} for the info block and memmap)")
    use = safety_checks(pb, door, topo, ns, "reconfigure")
    extra = _release_dax(pb, door, topo, use)
    pb.destructive = True
    pb.consent = consent_text(ns, use, extra)
    pb.targets.append(ns.name)
    pb.actions.append(reconfigure_step(door, topo, ns, req.mode, align, backend))
    return pb.build()


def plan_destroy(door: SysfsRoot, topo: Topology, req: DestroyRequest) -> Plan:
    backend = choose_backend(door, req.backend)
    ns = select_namespace(topo, req.selector)
    region = topo.region(ns.region)
    assert region is not None
    labeled = ns.nstype != 4
    pb = PlanBuilder(title=f"destroy {ns.name}")
    holder_bound = bool(ns.holder) and door.readlink(f"{region.path}/{ns.holder}/driver") is not None
    ns_bound = not ns.holder and door.readlink(ns.path + "/driver") is not None
    if labeled and ns.size == 0:
        pb.already.append(f"{ns.name} is not configured (size 0): nothing to destroy")
        return pb.build()
    if not labeled and not ns.holder and not ns_bound:
        pb.already.append(f"{ns.name} (label-less) is already raw and disabled")
        return pb.build()
    privilege_check(pb, door)
    use = safety_checks(pb, door, topo, ns, "destroy")
    extra = _release_dax(pb, door, topo, use)
    pb.destructive = True
    pb.consent = consent_text(ns, use, extra)
    pb.targets.append(ns.name)
    if not labeled:
        pb.notes.append(f"{region.name} is label-less: {ns.name} covers the whole region and stays (raw, disabled)")
    pb.actions.append(DestroyNamespace(
        region=region.name, namespace=ns.name, mode=ns.mode.value, size=ns.size, uuid=ns.uuid, labeled=labeled,
        holder=ns.holder or "", holder_bound=holder_bound, ns_bound=ns_bound, backend=backend,
    ))
    return pb.build()


@dataclass(frozen=True)
class SizePlan:
    region: Region
    geometry: RegionGeometry
    plan: RamPlan
    sysroot: str = "/"

    @property
    def command(self) -> Optional[str]:
        if self.plan.ns_size is None:
            return None
        words = ["namespace", "create", "--region", self.region.name, "--mode", "devdax",
                 "--size", exact_size(self.plan.ns_size)]
        if self.plan.align != DEFAULT_ALIGN:
            words += ["--align", exact_size(self.plan.align)]
        return command_line(*words, sysroot=self.sysroot)


def plan_size(door: SysfsRoot, topo: Topology, req: SizePlanRequest) -> SizePlan:
    """Which namespace size yields exactly ``system_ram`` once converted."""
    region = select_region(topo, req.region)
    bs = topo.policy.block_size
    if bs is None:
        raise Unsupported("this kernel has no memory hotplug (/sys/devices/system/memory is missing): "
                          "a namespace cannot become system RAM here")
    ram = _parse_size_arg(req.system_ram, "--system-ram")
    if ram % bs:
        down, up = ram // bs * bs, (ram // bs + 1) * bs
        near = " or ".join(exact_size(s) for s in (down, up) if s > 0)
        raise UsageError(
            f"--system-ram {req.system_ram} is not a whole number of {exact_size(bs)} memory blocks",
            hint=f"nearest: {near}",
        )
    if region.nstype == 4:
        raise Refused(f"{region.name} is label-less and cannot be subdivided",
                      hint="its one namespace gives what it gives: see '"
                           + command_line("namespace", "plan", sysroot=topo.sysroot) + "' on a labelled region")
    region_can_take(region, "devdax")
    geom = geometry(door, topo, region, "devdax")
    align = parse_align(req.align, "devdax", geom.supported_alignments) or DEFAULT_ALIGN
    result = plan_ram(geom, ram, bs, align)
    return SizePlan(region, geom, result, topo.sysroot)
