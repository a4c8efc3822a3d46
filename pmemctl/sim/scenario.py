"""Scenarios: machine descriptions as data (``pmemctl/sim/scenarios/*.toml``).

A scenario file describes a machine at a high level; :func:`load_scenario`
substitutes its parameters and *resolves* it into a
:class:`pmemctl.sim.machine.MachineSpec`, computing everything the kernel derives
(namespace placement, info-block reservations, dax ranges, the memory blocks
kmem hot-adds and their ``valid_zones``).  Nothing derived is written by hand
in a scenario file.

TOML schema (all sizes accept ``4G``, ``128M``, ``0x8000000``, a plain byte
count, or ``"N blocks"``; node/cpu lists use the kernel list syntax ``0-1,3``;
ranges are ``"0xSTART-0xEND"`` with an inclusive end)::

    summary = "one line"

    [params.NAME]              # optional, one table per parameter
    help = "..."
    type = "str" | "int"       # default str
    default = ...
    choices = [...]            # optional
    min = N, max = N           # int only
    [params.NAME.sets]         # optional: variables each choice defines
    CHOICE = { var = value, ... }

    Any string value may use ${expr}: a parameter, a variable from ``sets``,
    or integer arithmetic on them (+ - * // %, parentheses, hex literals).
    A string that is exactly one ${...} takes the expression's type.

    [kernel]   release (load_scenario's kernel= puts a profile's), cmdline,
               nr_cpus (NR_CPUS of the build), module_coresize
    [memory]   block_size, auto_online_blocks (default: memhp_default_state=
               on the cmdline, else offline), online_policy, memmap_on_memory,
               auto_movable_ratio, auto_movable_numa_aware
    [numa]     possible, nr_cpu_ids, demotion_enabled, distance = [[...], ...]
    [[numa.node]]  id, cpus, dram = [ranges], reserved, used,
                   generic_initiator, access0/access1 = { initiators,
                   read_latency, write_latency, read_bandwidth, write_bandwidth }
    [[iomem]]  range, name          # extra /proc/iomem lines (boot firmware)
    [[nd.bus]] provider, parent, commands = [...], nfit
      [[nd.bus.dimm]]   size, handle, phys_id, serial, vendor, device, rev_id,
                        id, family, format, formats, dsm_mask, commands, security
                        ("none": no security ops), label_area (label storage
                        size; available_slots is derived from it), labeled,
                        available_slots, manufacturing_date/_location
      [[nd.bus.region]] base, size, dimms = [names], labeled, numa_node,
                        target_node, align, persistence_domain, deep_flush,
                        read_only, enabled, dpa_offset, set_cookie (default:
                        derived from the DIMMs' NFIT facts), range_index
        [[nd.bus.region.namespace]]  mode = raw|fsdax|devdax|sector, size,
                        name, lbasize, align, map = dev|mem, sector_size (btt),
                        enabled, driver = device_dax|kmem|none (devdax),
                        memory = [runs], present (false: leave it out)
    [[hmem]]   kind = hmem|cxl, id, start, size, target_node, numa_node, align,
               driver, memory = [runs], window (cxl: "0xS-0xE"), window_index

    A memory run is { blocks = N | percent = P | (neither: the rest),
    state = "online"|"offline", zone = "Movable"|"Normal" }; runs apply in
    block order to the blocks kmem hot-added; blocks no run covers stay
    offline.  Runs are ignored unless the device is bound to kmem.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.resources
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional

import tomllib

from pmemctl.errors import NotFound, UsageError
from pmemctl.sim import layout
from pmemctl.sim.kernels import (
    PROFILES,
    TIER_DAX_DEFAULT,
    TIER_DRAM,
    KernelProfile,
    Perf,
    kernel_names,
    profile_for_release,
)
from pmemctl.sim.machine import (
    AccessClassSpec,
    BlockSpec,
    BusSpec,
    DaxDeviceSpec,
    DaxMappingSpec,
    DaxRegionSpec,
    DimmSpec,
    IomemEntrySpec,
    MachineSpec,
    NamespaceSpec,
    NodeSpec,
    Range,
    RegionMappingSpec,
    RegionSpec,
)
from pmemctl.sim.objects import (
    BLKEXT_MAJOR,
    DAX_DRIVERS,
    DAX_MAJOR,
    NDCTL_MAJOR,
    NMEM_MAJOR,
)
from pmemctl.sysfs import abi
from pmemctl.units import parse_cpulist, parse_size

#: /sys/module/<m>/coresize of the pmem modules in the Debian 6.1 amd64 build
#: (what the real guest showed); [kernel] module_coresize overrides them.
DEFAULT_MODULE_CORESIZE = {"dax_pmem": 16384, "device_dax": 20480, "kmem": 16384}
#: CONFIG_NR_CPUS of Debian's amd64 kernels (cpu/kernel_max = NR_CPUS - 1).
DEFAULT_NR_CPUS = 8192
#: The release of a scenario that names none.
DEFAULT_RELEASE = "6.1.0-18-amd64"
DEFAULT_TIER_DRAM = TIER_DRAM  # adistance 576 >> 7 (kernel-abi.md §7.4)
DEFAULT_TIER_KMEM = TIER_DAX_DEFAULT  # 5 * 576 >> 7: kmem's default without HMAT (pmemctl.sim.kernels)
AUTO_ONLINE_POLICIES = ("offline", "online", "online_kernel", "online_movable")
NAMESPACE_MODES = ("raw", "fsdax", "devdax", "sector")

SCENARIO_PACKAGE = "pmemctl.sim.scenarios"


class ScenarioError(ValueError):
    """A shipped or user scenario file is inconsistent (a bug in the file)."""


@dataclass(frozen=True)
class ParamInfo:
    name: str
    help: str
    default: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScenarioInfo:
    name: str
    summary: str
    params: tuple[ParamInfo, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    params: dict[str, str]  # every parameter, defaults filled in
    machine: MachineSpec = field(repr=False)


# =============================================================================
# discovery of scenario files
# =============================================================================


def _scenario_files() -> dict[str, str]:
    """name -> TOML text of every shipped scenario."""
    out: dict[str, str] = {}
    root = importlib.resources.files(SCENARIO_PACKAGE)
    for entry in root.iterdir():
        if entry.name.endswith(".toml"):
            out[entry.name[: -len(".toml")]] = entry.read_text(encoding="utf-8")
    return dict(sorted(out.items()))


def _param_infos(data: Mapping[str, Any]) -> tuple[ParamInfo, ...]:
    infos = []
    for name, spec in data.get("params", {}).items():
        infos.append(
            ParamInfo(
                name=name,
                help=str(spec.get("help", "")),
                default=str(spec.get("default", "")),
                choices=tuple(str(c) for c in spec.get("choices", ())),
            )
        )
    return tuple(infos)


def list_scenarios() -> list[ScenarioInfo]:
    """Every shipped scenario with its one-line summary and parameters."""
    out = []
    for name, text in _scenario_files().items():
        data = tomllib.loads(text)
        out.append(ScenarioInfo(name=name, summary=str(data.get("summary", "")), params=_param_infos(data)))
    return out


def load_scenario(name: str, params: Optional[Mapping[str, str]] = None, kernel: Optional[str] = None) -> Scenario:
    """Load and resolve a shipped scenario, on kernel profile ``kernel``
    (``6.1``, ``6.12``: :mod:`pmemctl.sim.kernels`; default the release the
    scenario names).

    Raises NotFound for an unknown name or kernel and UsageError for an
    unknown or invalid parameter.
    """
    files = _scenario_files()
    if name not in files:
        raise NotFound(
            f"unknown scenario {name!r}; known scenarios: {', '.join(files) or '(none)'}",
        )
    return scenario_from_toml(name, files[name], params, kernel=kernel)


def scenario_from_toml(
    name: str, text: str, params: Optional[Mapping[str, str]] = None, kernel: Optional[str] = None
) -> Scenario:
    """Resolve a scenario from TOML text (shipped files and tests use this)."""
    data = tomllib.loads(text)
    values, variables = _bind_params(name, data.get("params", {}), dict(params or {}))
    body = {k: v for k, v in data.items() if k != "params"}
    body = _substitute(body, variables)
    if kernel is not None:
        body = _on_kernel(name, body, kernel)
    machine = _Resolver(name, str(data.get("summary", "")), values, body).resolve()
    return Scenario(name=name, summary=machine.summary, params=values, machine=machine)


def _perf(node: NodeSpec) -> Optional[Perf]:
    """A node's HMAT figures from the CPU initiators (access1, else access0)."""
    access = node.access1 or node.access0
    if access is None:
        return None
    return Perf(access.read_latency, access.write_latency, access.read_bandwidth, access.write_bandwidth)


def _on_kernel(scenario: str, body: dict[str, Any], kernel: str) -> dict[str, Any]:
    """The scenario booted with kernel profile ``kernel``: its release (also
    in a BOOT_IMAGE= of the command line) is the profile's."""
    if kernel not in PROFILES:
        raise NotFound(f"unknown kernel {kernel!r} for scenario {scenario}; known kernels: "
                       f"{', '.join(kernel_names())}")
    section = dict(body.get("kernel", {}))
    old = str(section.get("release", ""))
    new = PROFILES[kernel].release
    section["release"] = new
    if old and "cmdline" in section:
        section["cmdline"] = str(section["cmdline"]).replace(old, new)
    return {**body, "kernel": section}


# =============================================================================
# parameters and ${...} substitution
# =============================================================================


def _bind_params(
    scenario: str, specs: Mapping[str, Any], given: dict[str, str]
) -> tuple[dict[str, str], dict[str, Any]]:
    unknown = sorted(set(given) - set(specs))
    if unknown:
        known = ", ".join(sorted(specs)) or "none"
        raise UsageError(f"scenario {scenario!r} has no parameter {unknown[0]!r} (parameters: {known})")
    values: dict[str, str] = {}
    variables: dict[str, Any] = {}
    for pname, spec in specs.items():
        raw = given.get(pname, spec.get("default"))
        if raw is None:
            raise UsageError(f"scenario {scenario!r} needs parameter {pname!r}")
        kind = spec.get("type", "str")
        if kind == "int":
            try:
                value: Any = int(str(raw).replace("_", ""), 0)
            except ValueError:
                raise UsageError(f"parameter {pname}={raw!r} of scenario {scenario!r} is not an integer") from None
            lo, hi = spec.get("min"), spec.get("max")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise UsageError(
                    f"parameter {pname}={value} of scenario {scenario!r} is out of range [{lo}, {hi}]"
                )
        else:
            value = str(raw)
        choices = [str(c) for c in spec.get("choices", ())]
        if choices and str(value) not in choices:
            raise UsageError(
                f"parameter {pname}={value!r} of scenario {scenario!r} must be one of: {', '.join(choices)}"
            )
        values[pname] = str(value)
        variables[pname] = value
        for var, var_value in spec.get("sets", {}).get(str(value), {}).items():
            variables[var] = var_value
    return values, variables


_BINOPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


def _eval_expr(expr: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate ``name`` or integer arithmetic on names and literals."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, str)):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in variables:
                raise ScenarioError(f"unknown variable {node.id!r} in ${{{expr}}}")
            return variables[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        raise ScenarioError(f"unsupported expression ${{{expr}}}")

    return ev(ast.parse(expr.strip(), mode="eval"))


_SUBST = re.compile(r"\$\{([^}]*)\}")


def _substitute(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, variables) for v in value]
    if isinstance(value, str):
        whole = _SUBST.fullmatch(value)
        if whole:
            return _eval_expr(whole.group(1), variables)
        return _SUBST.sub(lambda m: str(_eval_expr(m.group(1), variables)), value)
    return value


# =============================================================================
# value parsers
# =============================================================================


def _size(value: Any, block_size: int = 0, what: str = "size") -> int:
    if isinstance(value, int):
        return value
    text = str(value).strip()
    m = re.fullmatch(r"(\d+)\s*blocks?", text)
    if m:
        if not block_size:
            raise ScenarioError(f"{what}: 'blocks' needs memory.block_size first")
        return int(m.group(1)) * block_size
    try:
        return parse_size(text)
    except ValueError as err:
        raise ScenarioError(f"{what}: {err}") from None


def _range(value: Any, what: str) -> Range:
    """``"0xS-0xE"`` (inclusive) or ``{start, size}`` -> half-open range."""
    if isinstance(value, dict):
        start = _size(value["start"], what=what)
        return (start, start + _size(value["size"], what=what))
    m = re.fullmatch(r"\s*(0[xX][0-9a-fA-F]+|\d+)\s*-\s*(0[xX][0-9a-fA-F]+|\d+)\s*", str(value))
    if not m:
        raise ScenarioError(f"{what}: not a range {value!r} (use 0xSTART-0xEND)")
    start, end = int(m.group(1), 0), int(m.group(2), 0)
    if end < start:
        raise ScenarioError(f"{what}: descending range {value!r}")
    return (start, end + 1)


def _list(value: Any) -> tuple[int, ...]:
    if isinstance(value, list):
        return tuple(sorted(int(v) for v in value))
    if isinstance(value, int):
        return (value,)
    return parse_cpulist(str(value))


def _access(value: Optional[Mapping[str, Any]]) -> Optional[AccessClassSpec]:
    if not value:
        return None
    return AccessClassSpec(
        initiators=_list(value["initiators"]),
        read_latency=int(value["read_latency"]),
        write_latency=int(value.get("write_latency", value["read_latency"])),
        read_bandwidth=int(value["read_bandwidth"]),
        write_bandwidth=int(value.get("write_bandwidth", value["read_bandwidth"])),
    )


def default_region_align(size: int, mappings: int) -> int:
    """Region ``align`` default: 16 MiB (4 KiB below 16 MiB), multiplied by the
    number of mappings when they do not divide it (kernel-abi.md §7.7)."""
    align = 16 * layout.MiB if size >= 16 * layout.MiB else layout.PAGE_SIZE
    ways = max(1, mappings)
    if align % ways:
        align *= ways
    return align


# =============================================================================
# resolution
# =============================================================================


@dataclass
class _KmemDevice:
    """What block resolution needs from a dax device bound to kmem."""

    name: str
    node: int
    ranges: tuple[Range, ...]
    runs: list[Mapping[str, Any]]


class _Resolver:
    def __init__(self, name: str, summary: str, params: dict[str, str], data: dict[str, Any]) -> None:
        self.name = name
        self.summary = summary
        self.params = params
        self.data = data
        self.block_size = 0
        self.dax_minor = 0
        self.block_minor = 0
        self.dax_devices: list[DaxDeviceSpec] = []
        self.dax_regions: list[DaxRegionSpec] = []
        self.kmem: list[_KmemDevice] = []

    # -- top level -------------------------------------------------------------

    def resolve(self) -> MachineSpec:
        kernel = self.data.get("kernel", {})
        memory = self.data.get("memory", {})
        numa = self.data.get("numa", {})
        cmdline = str(kernel.get("cmdline", ""))
        tokens = cmdline.split()
        memhp = next((t.split("=", 1)[1] for t in tokens if t.startswith("memhp_default_state=")), None)
        if "block_size" not in memory:
            raise ScenarioError(f"{self.name}: memory.block_size is required")
        self.block_size = _size(memory["block_size"], what="memory.block_size")
        if self.block_size <= 0 or self.block_size & (self.block_size - 1):
            raise ScenarioError(f"{self.name}: block size must be a power of two")
        auto_online = str(memory.get("auto_online_blocks", memhp or "offline"))
        if auto_online not in AUTO_ONLINE_POLICIES:
            raise ScenarioError(f"{self.name}: auto_online_blocks {auto_online!r} not in {AUTO_ONLINE_POLICIES}")

        profile = profile_for_release(str(kernel.get("release", DEFAULT_RELEASE)))
        self.profile, self.auto_online = profile, auto_online
        nodes = self._tiered(self._nodes(numa), profile)
        possible = _list(numa["possible"]) if "possible" in numa else tuple(n.id for n in nodes)
        missing = [n.id for n in nodes if n.id not in possible]
        if missing:
            raise ScenarioError(f"{self.name}: nodes {missing} are not in numa.possible")
        described = {n.id for n in nodes}
        nodes += [
            NodeSpec(id=i, cpus=(), dram=(), reserved_kb=0, used_kb=0, memory_tier=DEFAULT_TIER_KMEM)
            for i in possible
            if i not in described
        ]
        nodes.sort(key=lambda n: n.id)
        distance = self._distance(numa, possible)
        all_cpus = [c for n in nodes for c in n.cpus]
        nr_cpu_ids = int(numa.get("nr_cpu_ids", (max(all_cpus) + 1) if all_cpus else 1))

        buses = self._buses(nodes)
        self._hmem(nodes)
        names = [d.name for d in self.dax_devices]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise ScenarioError(f"{self.name}: dax device names {clashes} are used twice (give hmem an unused id)")
        blocks = self._blocks(nodes, movable_node="movable_node" in tokens)

        return MachineSpec(
            name=self.name,
            summary=self.summary,
            params=self.params,
            kernel_release=str(kernel.get("release", DEFAULT_RELEASE)),
            cmdline=cmdline,
            block_size=self.block_size,
            auto_online_blocks=auto_online,
            online_policy=str(memory.get("online_policy", "contig-zones")),
            memmap_on_memory=str(memory.get("memmap_on_memory", "N")),
            auto_movable_ratio=int(memory.get("auto_movable_ratio", 301)),
            auto_movable_numa_aware=str(memory.get("auto_movable_numa_aware", "Y")),
            movable_node="movable_node" in tokens,
            demotion_enabled=bool(numa.get("demotion_enabled", False)),
            nr_cpu_ids=nr_cpu_ids,
            possible_nodes=possible,
            distance=distance,
            nodes=tuple(nodes),
            buses=tuple(buses),
            dax_regions=tuple(self.dax_regions),
            dax_devices=tuple(sorted(self.dax_devices, key=lambda d: (d.region_id, d.name))),
            blocks=tuple(blocks),
            nr_cpus=int(kernel.get("nr_cpus", DEFAULT_NR_CPUS)),
            module_coresize={str(k): int(v) for k, v in
                             {**DEFAULT_MODULE_CORESIZE, **dict(profile.module_coresize),
                              **kernel.get("module_coresize", {})}.items()},
            iomem_extra=tuple(
                IomemEntrySpec(*_incl(_range(e["range"], "iomem.range")), name=str(e["name"]))
                for e in self.data.get("iomem", [])
            ),
        )

    # -- NUMA --------------------------------------------------------------------

    def _nodes(self, numa: Mapping[str, Any]) -> list[NodeSpec]:
        nodes = []
        for spec in numa.get("node", []):
            node_id = int(spec["id"])
            cpus = _list(spec.get("cpus", ""))
            dram = tuple(sorted(_range(r, f"node{node_id}.dram") for r in spec.get("dram", [])))
            has_boot_memory = bool(cpus or dram)
            nodes.append(
                NodeSpec(
                    id=node_id,
                    cpus=cpus,
                    dram=dram,
                    reserved_kb=_size(spec.get("reserved", 0), what="reserved") // 1024,
                    used_kb=_size(spec.get("used", 0), what="used") // 1024,
                    memory_tier=DEFAULT_TIER_DRAM if has_boot_memory else DEFAULT_TIER_KMEM,
                    access0=_access(spec.get("access0")),
                    access1=_access(spec.get("access1")),
                    generic_initiator=bool(spec.get("generic_initiator", False)),
                )
            )
        ids = [n.id for n in nodes]
        if len(set(ids)) != len(ids):
            raise ScenarioError(f"{self.name}: duplicate node ids {ids}")
        return nodes

    @staticmethod
    def _tiered(nodes: list[NodeSpec], profile: KernelProfile) -> list[NodeSpec]:
        """Memory-only nodes join the tier kmem computes for them on this
        kernel (HMAT-derived since 6.7, else the default); a scenario never
        states a tier (it is the kernel's to compute)."""
        dram = next((_perf(n) for n in nodes if n.cpus and _perf(n) is not None), None)
        return [
            n if n.cpus or n.dram else dataclasses.replace(n, memory_tier=profile.kmem_tier(_perf(n), dram))
            for n in nodes
        ]

    def _distance(self, numa: Mapping[str, Any], possible: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
        if "distance" not in numa:
            return tuple(tuple(10 if a == b else 20 for b in possible) for a in possible)
        rows = tuple(tuple(int(v) for v in row) for row in numa["distance"])
        if len(rows) != len(possible) or any(len(r) != len(possible) for r in rows):
            raise ScenarioError(f"{self.name}: numa.distance must be {len(possible)}x{len(possible)}")
        return rows

    # -- nd ----------------------------------------------------------------------

    def _buses(self, nodes: list[NodeSpec]) -> list[BusSpec]:
        buses: list[BusSpec] = []
        dimm_id = 0
        region_id = 0
        for bus_id, spec in enumerate(self.data.get("nd", {}).get("bus", [])):
            provider = str(spec.get("provider", "ACPI.NFIT"))
            nfit = bool(spec.get("nfit", provider == "ACPI.NFIT"))
            default_parent = (
                "/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00" if nfit else "/sys/devices/platform/e820_pmem"
            )
            kpath = f"{spec.get('parent', default_parent)}/ndbus{bus_id}"
            name = f"ndbus{bus_id}"
            default_commands = ["ars_cap", "ars_start", "ars_status", "clear_error"] if nfit else []
            commands = _commands(spec.get("commands", default_commands),
                                 # acpi_nfit_init_dsms: ND_CMD_CALL is always in an NFIT bus's mask
                                 always=("cmd_call",) if nfit else ())
            dimms: list[DimmSpec] = []
            for dspec in spec.get("dimm", []):
                dimms.append(self._dimm(dspec, dimm_id, name, kpath))
                dimm_id += 1
            regions: list[RegionSpec] = []
            for rspec in spec.get("region", []):
                regions.append(self._region(rspec, region_id, name, kpath, nfit, dimms, nodes))
                region_id += 1
            dimms = [_with_label_slots(d, regions) for d in dimms]
            buses.append(
                BusSpec(
                    name=name, id=bus_id, provider=provider, kpath=kpath, major=NDCTL_MAJOR, minor=bus_id,
                    commands=commands, nfit=nfit, dimms=tuple(dimms), regions=tuple(regions),
                )
            )
        return buses

    def _dimm(self, spec: Mapping[str, Any], dimm_id: int, bus: str, bus_kpath: str) -> DimmSpec:
        vendor = int(spec.get("vendor", 0x8089))
        serial = int(spec.get("serial", 0x1000 + dimm_id))
        labeled = bool(spec.get("labeled", True))
        label_area = _size(spec.get("label_area", 0), what=f"nmem{dimm_id}.label_area")
        if "available_slots" in spec:
            slots = int(spec["available_slots"])
        elif label_area:
            slots = -1  # derived from the label area once the regions are known
        else:
            slots = 4094 if labeled else 0
        return DimmSpec(
            name=f"nmem{dimm_id}",
            id=dimm_id,
            bus=bus,
            kpath=f"{bus_kpath}/nmem{dimm_id}",
            major=NMEM_MAJOR,
            minor=dimm_id,
            size=_size(spec["size"], what=f"nmem{dimm_id}.size"),
            nfit_id=str(spec.get("id", f"{vendor:04x}-{serial:08x}")),
            handle=int(spec.get("handle", dimm_id)),
            phys_id=int(spec.get("phys_id", dimm_id)),
            serial=serial,
            vendor=vendor,
            device=int(spec.get("device", 0x097A)),
            rev_id=int(spec.get("rev_id", 0x18)),
            subsystem_vendor=int(spec.get("subsystem_vendor", vendor)),
            subsystem_device=int(spec.get("subsystem_device", 0x097A)),
            subsystem_rev_id=int(spec.get("subsystem_rev_id", 0x18)),
            format=int(spec.get("format", 0x301)),
            formats=int(spec.get("formats", 1)),
            family=int(spec.get("family", 0)),
            dsm_mask=int(spec.get("dsm_mask", 0x3FE)),
            commands=_commands(
                spec.get(
                    "commands",
                    ["smart", "smart_thresh", "dimm_flags", "get_size", "get_data", "set_data",
                     "effect_size", "effect_log", "vendor", "cmd_call"],
                )
            ),
            security=str(spec.get("security", "disabled")),
            available_slots=slots,
            labeled=labeled,
            label_area=label_area,
            label_version=_label_version(spec.get("label_version", "1.2"), dimm_id),
            manufacturing_date=int(spec.get("manufacturing_date", 0)),
            manufacturing_location=int(spec.get("manufacturing_location", 0)),
        )

    def _region(
        self,
        spec: Mapping[str, Any],
        region_id: int,
        bus: str,
        bus_kpath: str,
        nfit: bool,
        dimms: list[DimmSpec],
        nodes: list[NodeSpec],
    ) -> RegionSpec:
        rname = f"region{region_id}"
        kpath = f"{bus_kpath}/{rname}"
        by_name = {d.name: d for d in dimms}
        members = [str(d) for d in spec.get("dimms", [])]
        unknown = [m for m in members if m not in by_name]
        if unknown:
            raise ScenarioError(f"{self.name}: {rname} names unknown dimms {unknown}")
        size = _size(spec["size"], what=f"{rname}.size") if "size" in spec else sum(by_name[m].size for m in members)
        if not members or size <= 0:
            raise ScenarioError(f"{self.name}: {rname} needs dimms and a size")
        ways = len(members)
        if size % ways:
            raise ScenarioError(f"{self.name}: {rname} size is not divisible by its {ways} dimms")
        base = _size(spec["base"], what=f"{rname}.base")
        labeled = bool(spec.get("labeled", False))
        nstype = 5 if labeled else 4
        align = _size(spec["align"], what="align") if "align" in spec else default_region_align(size, ways)
        numa_node = int(spec.get("numa_node", 0))
        target_node = int(spec["target_node"])
        if target_node not in {n.id for n in nodes}:
            raise ScenarioError(f"{self.name}: {rname} target_node {target_node} is not a possible node")
        dpa = _size(spec.get("dpa_offset", 0), what="dpa_offset")
        mappings = tuple(
            RegionMappingSpec(dimm=m, offset=dpa, length=size // ways, position=i) for i, m in enumerate(members)
        )

        namespaces, counters, used = self._namespaces(spec, rname, region_id, kpath, base, size, labeled,
                                                      nstype, numa_node, target_node)
        enabled = bool(spec.get("enabled", True))
        # nd_region_available_dpa: zero unless the region is enabled and every
        # DIMM has driver data (nd_mapping->ndd); an io namespace allocates no
        # DPA, so a label-less region shows all of it.  available_size is
        # visible on labelled regions and on any region with an interleave set
        # (NFIT), labelled or not (region_visible).
        ndd = enabled and all(by_name[m].has_driver_data for m in members)
        free = (size - used if labeled else size) if ndd else 0
        if labeled or nfit:
            available: Optional[int] = free
            max_extent = free
        else:
            available, max_extent = None, 0
        seed_ns = next((n.name for n in namespaces if n.seed), namespaces[0].name if namespaces else "")
        return RegionSpec(
            name=rname,
            id=region_id,
            bus=bus,
            kpath=kpath,
            base=base,
            size=size,
            align=align,
            nstype=nstype,
            labeled=labeled,
            numa_node=numa_node,
            target_node=target_node,
            mappings=mappings,
            set_cookie=(int(spec["set_cookie"]) if "set_cookie" in spec
                        else _set_cookie(self.name, rname, spec, mappings, by_name))
            if nfit
            else None,
            persistence_domain=spec.get("persistence_domain"),
            deep_flush=int(spec["deep_flush"]) if "deep_flush" in spec else None,
            read_only=bool(spec.get("read_only", False)),
            enabled=enabled,
            available_size=available,
            max_available_extent=max_extent,
            range_index=int(spec.get("range_index", region_id + 1)),
            namespace_seed=seed_ns,
            pfn_seed=f"pfn{region_id}.{counters['pfn']}",
            dax_seed=f"dax{region_id}.{counters['dax']}",
            btt_seed=f"btt{region_id}.{counters['btt']}",
            namespaces=tuple(namespaces),
        )

    def _namespaces(
        self,
        spec: Mapping[str, Any],
        rname: str,
        region_id: int,
        region_kpath: str,
        base: int,
        size: int,
        labeled: bool,
        nstype: int,
        numa_node: int,
        target_node: int,
    ) -> tuple[list[NamespaceSpec], dict[str, int], int]:
        # present = false leaves an entry out (a parameter can switch it off:
        # qemu-nvdimm's labelled stage is an initialised region with no
        # namespace yet, only the seed)
        specs = [s for s in spec.get("namespace", []) if bool(s.get("present", True))]
        if not labeled:
            # A label-less region always has exactly one io namespace covering it.
            if len(specs) > 1:
                raise ScenarioError(f"{self.name}: label-less {rname} has exactly one namespace")
            specs = specs or [{"mode": "raw"}]
        counters = {"pfn": 0, "dax": 0, "btt": 0}
        out: list[NamespaceSpec] = []
        offset = 0
        for ns_id, ns_spec in enumerate(specs):
            remaining = size - offset
            ns_size = (_size(ns_spec["size"], self.block_size, f"{rname} namespace size") if "size" in ns_spec
                       else remaining)
            if not labeled and ns_size != size:
                raise ScenarioError(f"{self.name}: label-less namespaces cover the whole of {rname}")
            if ns_size <= 0 or ns_size > remaining:
                raise ScenarioError(f"{self.name}: namespace{region_id}.{ns_id} does not fit in {rname}")
            out.append(
                self._namespace(ns_spec, ns_id, rname, region_id, region_kpath, base + offset, ns_size, labeled,
                                nstype, numa_node, target_node, counters)
            )
            offset += ns_size
        if labeled:
            seed_id = len(specs)
            out.append(
                NamespaceSpec(
                    name=f"namespace{region_id}.{seed_id}", id=seed_id, region=rname,
                    kpath=f"{region_kpath}/namespace{region_id}.{seed_id}", mode="raw", seed=True,
                    nstype=nstype, size=0, resource=None, uuid=None, alt_name="", sector_size=None,
                    enabled=False, numa_node=numa_node, target_node=target_node,
                )
            )
        return out, counters, offset

    def _namespace(
        self,
        spec: Mapping[str, Any],
        ns_id: int,
        rname: str,
        region_id: int,
        region_kpath: str,
        start: int,
        ns_size: int,
        labeled: bool,
        nstype: int,
        numa_node: int,
        target_node: int,
        counters: dict[str, int],
    ) -> NamespaceSpec:
        name = f"namespace{region_id}.{ns_id}"
        mode = str(spec.get("mode", "raw"))
        if mode not in NAMESPACE_MODES:
            raise ScenarioError(f"{self.name}: {name} mode {mode!r} not in {NAMESPACE_MODES}")
        enabled = bool(spec.get("enabled", True))
        common: dict[str, Any] = dict(
            name=name, id=ns_id, region=rname, kpath=f"{region_kpath}/{name}", mode=mode, seed=False,
            nstype=nstype, size=ns_size, resource=start,
            uuid=layout.stable_uuid(self.name, name, "label") if labeled else None,
            alt_name=str(spec.get("name", "")), sector_size=_lbasize(spec, mode) if labeled else None,
            numa_node=numa_node, target_node=target_node,
        )
        disk = f"pmem{region_id}" if ns_id == 0 else f"pmem{region_id}.{ns_id}"
        if mode == "raw":
            return NamespaceSpec(**common, enabled=enabled, **self._disk(disk, common["kpath"], enabled))
        kind = abi.PERSONALITIES[mode].holder_prefix  # pfn, dax, btt
        holder = f"{kind}{region_id}.{counters[kind]}"
        counters[kind] += 1
        holder_kpath = f"{region_kpath}/{holder}"
        claim: dict[str, Any] = dict(
            holder=holder, holder_kpath=holder_kpath, holder_class=kind,
            holder_uuid=layout.stable_uuid(self.name, name, holder), holder_enabled=enabled,
        )
        if kind == "btt":
            sector = int(spec.get("sector_size", 4096))
            if sector not in layout.BTT_SECTOR_SIZES:
                raise ScenarioError(f"{self.name}: {name} btt sector_size {sector} unsupported")
            usable = layout.btt_usable_size(ns_size, sector)
            return NamespaceSpec(**common, enabled=False, **claim, btt_sector_size=sector, usable_size=usable,
                             **self._disk(disk + "s", holder_kpath, enabled))
        align = _size(spec.get("align", "2M"), what=f"{name}.align")
        map_location = str(spec.get("map", "dev"))
        offset, _trunc = layout.pfn_reservation(start, ns_size, align, map_location)
        usable = layout.pfn_usable_size(start, ns_size, align, map_location)
        claim.update(
            holder_align=align, holder_map="pmem" if map_location == "dev" else "ram",
            usable_size=usable, data_start=start + offset,
        )
        if kind == "pfn":
            return NamespaceSpec(**common, enabled=False, **claim, **self._disk(disk, holder_kpath, enabled))
        dax_name = f"dax{region_id}.{ns_id}"  # named from the namespace (kernel-abi.md §9.7)
        if enabled:
            self._add_dax_device(
                name=dax_name,
                region=DaxRegionSpec(
                    id=region_id, kpath=holder_kpath, source="nvdimm", start=start + offset, size=usable,
                    align=align, dynamic=False, available_size=0, seed="",
                ),
                ranges=((start + offset, start + offset + usable),),
                align=align,
                target_node=target_node,
                numa_node=numa_node,
                spec=spec,
                namespace=name,
            )
        return NamespaceSpec(**common, enabled=False, **claim, dax_device=dax_name if enabled else None)

    def _disk(self, name: str, parent: str, enabled: bool) -> dict[str, Any]:
        if not enabled:
            return {}
        minor = self.block_minor
        self.block_minor += 1
        return dict(blockdev=name, blockdev_parent=parent, block_major=BLKEXT_MAJOR, block_minor=minor)

    # -- dax devices -------------------------------------------------------------

    def _add_dax_device(
        self,
        *,
        name: str,
        region: DaxRegionSpec,
        ranges: tuple[Range, ...],
        align: int,
        target_node: int,
        numa_node: int,
        spec: Mapping[str, Any],
        namespace: Optional[str],
    ) -> None:
        driver = str(spec.get("driver", "device_dax"))
        if driver in ("none", ""):
            driver_or_none: Optional[str] = None
        elif driver in DAX_DRIVERS:
            driver_or_none = driver
        else:
            raise ScenarioError(f"{self.name}: {name} driver {driver!r} not in {DAX_DRIVERS} or 'none'")
        mappings = []
        page_offset = 0
        for lo, hi in ranges:
            mappings.append(DaxMappingSpec(start=lo, end=hi - 1, page_offset=page_offset))
            page_offset += (hi - lo) // layout.PAGE_SIZE
        hotplug: list[Range] = []
        if driver_or_none == "kmem":
            for lo, hi in ranges:
                r = layout.kmem_hotplug_range(lo, hi - 1, self.block_size)
                if r:
                    hotplug.append(r)
            if not hotplug:
                raise ScenarioError(f"{self.name}: {name} has no memory after block alignment; kmem rejects it")
            self.kmem.append(_KmemDevice(name, target_node, tuple(hotplug), list(spec.get("memory", []))))
        blocks = tuple(i for lo, hi in hotplug for i in layout.block_indexes(lo, hi, self.block_size))
        self.dax_devices.append(
            DaxDeviceSpec(
                name=name, region_id=region.id, kpath=f"{region.kpath}/{name}", region_kpath=region.kpath,
                source=region.source, size=sum(hi - lo for lo, hi in ranges), align=align,
                target_node=target_node, numa_node=numa_node, driver=driver_or_none,
                mappings=tuple(mappings), major=DAX_MAJOR, minor=self.dax_minor, namespace=namespace,
                hotplug_ranges=tuple(hotplug), blocks=blocks,
            )
        )
        self.dax_minor += 1
        self.dax_regions.append(region)

    def _hmem(self, nodes: list[NodeSpec]) -> None:
        cpu_nodes = [n.id for n in nodes if n.cpus]
        for index, spec in enumerate(self.data.get("hmem", [])):
            kind = str(spec.get("kind", "hmem"))
            region_id = int(spec.get("id", index))
            start = _size(spec["start"], what="hmem.start")
            size = _size(spec["size"], self.block_size, "hmem.size")
            align = _size(spec.get("align", "2M"), what="hmem.align")
            target = int(spec["target_node"])
            if target not in {n.id for n in nodes}:
                raise ScenarioError(f"{self.name}: hmem target_node {target} is not a possible node")
            numa_node = int(spec.get("numa_node", cpu_nodes[0] if cpu_nodes else -1))
            if kind == "hmem":
                kpath = f"/sys/devices/platform/hmem.{region_id}"
                window_name, window = "Soft Reserved", (start, start + size)
                cxl_region = None
            elif kind == "cxl":
                w = int(spec.get("window_index", 0))
                kpath = f"/sys/devices/platform/ACPI0017:00/root0/decoder0.{w}/region{region_id}/dax_region{region_id}"
                window_name = f"CXL Window {w}"
                window = _range(spec["window"], "hmem.window") if "window" in spec else (start, start + size)
                cxl_region = f"region{region_id}"
            else:
                raise ScenarioError(f"{self.name}: hmem kind {kind!r} must be hmem or cxl")
            region = DaxRegionSpec(
                id=region_id, kpath=kpath, source=kind, start=start, size=size, align=align, dynamic=True,
                available_size=0, seed="", window_name=window_name, window=window, cxl_region=cxl_region,
            )
            self._add_dax_device(
                name=f"dax{region_id}.0", region=region, ranges=((start, start + size),), align=align,
                target_node=target, numa_node=numa_node, spec=self._boot_driver(spec), namespace=None,
            )

    def _boot_driver(self, spec: Mapping[str, Any]) -> Mapping[str, Any]:
        """``driver = "boot"``: what the kernel binds at boot.  Since 6.3 the
        dax devices of hmem and CXL RAM regions go to kmem by themselves and
        their blocks follow auto_online_blocks; before, device_dax takes them."""
        if spec.get("driver") != "boot":
            return spec
        if not self.profile.auto_kmem_hmem_cxl:
            return {**spec, "driver": "device_dax"}
        if self.auto_online == "offline":
            memory: list[dict[str, str]] = [{"state": "offline"}]
        else:
            zone = {"online_kernel": "Normal"}.get(self.auto_online, "Movable")
            memory = [{"state": "online", "zone": zone}]
        return {**spec, "driver": "kmem", "memory": memory}

    # -- memory blocks -------------------------------------------------------------

    def _blocks(self, nodes: list[NodeSpec], *, movable_node: bool) -> list[BlockSpec]:
        bs = self.block_size
        owner_of: dict[int, tuple[int, Optional[str]]] = {}
        online_zone: dict[int, str] = {}
        present: dict[int, int] = {}
        for node in nodes:
            for index in layout.blocks_touching(node.dram, bs):
                if index in owner_of:
                    raise ScenarioError(f"{self.name}: memory{index} is claimed twice")
                lo, hi = index * bs, (index + 1) * bs
                owner_of[index] = (node.id, None)
                online_zone[index] = layout.boot_zone(lo, hi)
                present[index] = sum(layout.overlap((lo, hi), r) for r in node.dram) // 1024
        for dev in self.kmem:
            indexes = [i for lo, hi in dev.ranges for i in layout.block_indexes(lo, hi, bs)]
            for index in indexes:
                if index in owner_of:
                    raise ScenarioError(f"{self.name}: memory{index} of {dev.name} overlaps other memory")
                owner_of[index] = (dev.node, dev.name)
                present[index] = bs // 1024
            for index, state, zone in _apply_runs(self.name, dev.name, indexes, dev.runs):
                if state == "online":
                    online_zone[index] = zone
        # valid_zones of offline blocks depend on each node's zone spans.
        spans_by_node: dict[int, dict[str, tuple[int, int]]] = {}
        for node in nodes:
            spans_by_node[node.id] = layout.zone_spans(
                (online_zone[i], i * bs, (i + 1) * bs)
                for i, (n, _o) in owner_of.items()
                if n == node.id and i in online_zone
            )
        blocks = []
        for index in sorted(owner_of):
            node_id, owner = owner_of[index]
            online = index in online_zone
            zone = online_zone.get(index, "")
            valid = zone if online else layout.offline_valid_zones(
                index * bs, (index + 1) * bs, spans_by_node[node_id], movable_node
            )
            blocks.append(BlockSpec(index=index, node=node_id, online=online, zone=zone, valid_zones=valid,
                                owner=owner, present_kb=present[index]))
        return blocks


def _apply_runs(
    scenario: str, device: str, indexes: list[int], runs: Iterable[Mapping[str, Any]]
) -> list[tuple[int, str, str]]:
    """Assign (state, zone) to a kmem device's blocks in order; the rest stay offline."""
    out: list[tuple[int, str, str]] = []
    pos = 0
    total = len(indexes)
    for run in runs:
        if "blocks" in run:
            count = int(run["blocks"])
        elif "percent" in run:
            count = total * int(run["percent"]) // 100
        else:
            count = total - pos
        state = str(run.get("state", "online"))
        if state not in ("online", "offline"):
            raise ScenarioError(f"{scenario}: {device} run state {state!r} must be online or offline")
        zone = str(run.get("zone", "Movable")) if state == "online" else ""
        if state == "online" and zone not in ("Movable", "Normal"):
            raise ScenarioError(f"{scenario}: {device} kmem blocks go online Movable or Normal, not {zone!r}")
        if count < 0 or pos + count > total:
            raise ScenarioError(f"{scenario}: {device} memory runs cover more than its {total} blocks")
        out.extend((i, state, zone) for i in indexes[pos : pos + count])
        pos += count
    return out


def _commands(value: Any, always: tuple[str, ...] = ()) -> str:
    """Command list as the kernel prints it: each name followed by a space."""
    if isinstance(value, str):
        names = value.split()
    else:
        names = [str(v) for v in value]
    names += [n for n in always if n not in names]
    return "".join(f"{n} " for n in names)


def _lbasize(spec: Mapping[str, Any], mode: str) -> Optional[int]:
    """A labelled namespace's sector size: ``lbasize`` when given; ndctl
    create-namespace -m devdax writes none (the real guest showed
    ``512 4096`` with nothing selected), the other modes get 512."""
    if "lbasize" in spec:
        return int(spec["lbasize"])
    return None if mode == "devdax" else 512


def _set_cookie(scenario: str, rname: str, spec: Mapping[str, Any], mappings: tuple[RegionMappingSpec, ...],
                dimms: Mapping[str, DimmSpec]) -> int:
    """``set_cookie`` of an NFIT region: the v1.2 cookie over the NFIT facts of
    its DIMMs (layout.nfit_set_cookie).  The sysfs serial/vendor are the
    byte-swapped stored values.  Each DIMM's memdev region offset is 0 for a
    single DIMM; an interleave set needs them (``region_offsets``, one per
    mapping), without them the cookie is a stable stand-in."""
    if len(mappings) == 1:
        offsets = [0]
    elif "region_offsets" in spec:
        offsets = [_size(o, what=f"{rname}.region_offsets") for o in spec["region_offsets"]]
        if len(offsets) != len(mappings):
            raise ScenarioError(f"{scenario}: {rname}.region_offsets needs one offset per dimm")
    else:
        return layout.stable_u64(scenario, rname)
    members = []
    for offset, mp in zip(offsets, mappings, strict=False):
        d = dimms[mp.dimm]
        members.append((offset, layout.bswap(d.serial, 4), layout.bswap(d.vendor, 2), d.manufacturing_date,
                        d.manufacturing_location))
    # nd_region_interleave_set_cookie: cookie1 once the DIMMs carry a v1.1
    # label index, cookie2 with v1.2 labels or none
    v11 = bool(spec.get("labeled", False)) and all(dimms[mp.dimm].label_version == "1.1" for mp in mappings)
    return layout.nfit_set_cookie_v11(members) if v11 else layout.nfit_set_cookie(members)


def _label_version(value: Any, dimm_id: int) -> str:
    version = str(value)
    if version not in layout.LABEL_BYTES:
        raise ScenarioError(f"nmem{dimm_id}.label_version must be one of {sorted(layout.LABEL_BYTES)}, not {version!r}")
    return version


def _with_label_slots(dimm: DimmSpec, regions: Iterable[RegionSpec]) -> DimmSpec:
    """available_slots of a DIMM with a label area (dimm_devs.c
    available_slots_show): the area's slots less one label per configured
    namespace of each labelled region the DIMM is in, less the one slot the
    kernel keeps for updates; an uninitialised area counts all its slots."""
    if dimm.available_slots >= 0:
        return dimm
    nslot = layout.label_slots(dimm.label_area, dimm.label_version if dimm.labeled else None)
    used = sum(
        sum(1 for ns in r.namespaces if not ns.seed)
        for r in regions
        if r.labeled and any(mp.dimm == dimm.name for mp in r.mappings)
    )
    return dataclasses.replace(dimm, available_slots=max(nslot - used - 1, 0))


def _incl(r: Range) -> tuple[int, int]:
    return r[0], r[1] - 1


__all__ = [
    "ParamInfo",
    "Scenario",
    "ScenarioError",
    "ScenarioInfo",
    "default_region_align",
    "list_scenarios",
    "load_scenario",
    "scenario_from_toml",
]
