"""The ``--json`` output of every command: one versioned schema.

Conventions (schema version 2, ``pmemctl.SCHEMA_VERSION``; what changed
since version 1 is :data:`CHANGELOG`):

* The top level is always an object that starts with the envelope
  ``{"schema_version": 2, "command": "<name>", "sysroot": "<absolute dir>", ...}``.
* Every object of one kind has exactly the same keys, every time: a value
  that is unknown, absent on this kernel or not applicable is ``null``, and
  an empty collection is ``[]`` or ``{}``, never a missing key.
* Sizes, addresses and offsets are raw integers in bytes (never ``"2.9G"``);
  ``end`` addresses are inclusive (the last byte), as the kernel and lsmem
  print them.  Latencies are in ns, bandwidths in MiB/s, as HMAT reports them.
* Enumerations are their lower-case string values (``"online"``,
  ``"system-ram"``, ``"dram"``, zones ``"movable"``).  A key whose values form
  a closed set (outcome and step ``status``, write ``kind``, zones) lists them
  in :attr:`ObjectSpec.enums`, and :func:`_obj` refuses any other value (for
  an array, any other item; for a map, any other key).
* A memory block is named ``memoryN`` where a name is wanted (plan targets,
  units) and is the integer N where an id is wanted (``first_block``).
* A size key has no unit suffix (it is bytes); a key in another unit says so
  (``read_latency_ns``).
* Objects keyed by a NUMA node id (``distances``) use the id as a string key.
* Adding a key is a compatible change; renaming or removing one, or changing
  a type, bumps ``schema_version``.

The field-by-field specification is :data:`OBJECTS` below: for every object
kind, its place in the output and each key with its type and meaning.  The
builders (here for the read commands, in :mod:`pmemctl.cli.render.change`
for the change, status and recovery documents) construct every object
through :func:`_obj`, which refuses a key set that differs from the
specification, so the document and the output cannot drift apart;
:func:`schema_markdown` renders the same table for the README and pmemctl(1).

Type notation: ``int``, ``number`` (may have a fraction), ``string``,
``bool``, ``T|null``, ``array<T>``, ``object<string,T>``, ``any``, or the
name of another object kind.
"""

from __future__ import annotations

import json
import os
from enum import Enum
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Optional

from pmemctl import SCHEMA_VERSION
from pmemctl.cli.render.common import dax_block_counts
from pmemctl.immutable import Record
from pmemctl.model.tiers import tier_adistance

if TYPE_CHECKING:  # pragma: no cover
    from pmemctl.model.records import AccessClass, DaxDevice, Namespace, Policy, Region
    from pmemctl.ops.read import BlockRange, BlocksView, ListFilter, ListView, TopologyView


#: (value, meaning) pairs of a key whose values form a closed set
Enumeration = tuple[tuple[str, str], ...]


class ObjectSpec(Record):
    """One kind of JSON object: where it sits and its keys.  (A plain record,
    not a dataclass: ``--json`` runs never import dataclasses, 10 ms of cpu
    with what it pulls in; issue 14.)"""

    kind: str
    where: str  # how to reach it, jq style
    fields: tuple[tuple[str, str, str], ...]  # (key, type, meaning)
    #: key -> its closed set of values; any other value is refused
    enums: Mapping[str, Enumeration]

    __slots__ = ("kind", "where", "fields", "enums")
    _fields = __slots__

    def __init__(self, kind: str, where: str, fields: tuple[tuple[str, str, str], ...],
                 enums: Optional[Mapping[str, Enumeration]] = None) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "where", where)
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "enums", {} if enums is None else enums)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f[0] for f in self.fields)

    def allowed(self, key: str) -> Optional[tuple[str, ...]]:
        """The values ``key`` may take, or None when it is not an enumeration."""
        values = self.enums.get(key)
        return None if values is None else tuple(v for v, _ in values)

    def rows(self) -> Iterator[tuple[str, str, str]]:
        """(key, type, meaning) for the documentation: an enumeration's
        meaning ends with its values and what each one means."""
        for key, typ, meaning in self.fields:
            values = self.enums.get(key)
            if values:
                meaning += "; one of " + ", ".join(f"`{v}` ({m})" for v, m in values)
            yield key, typ, meaning


def enum_value(value: Any) -> Any:
    """The plain string of an enumeration value: ``"changed"`` for both the
    string ``"changed"`` and a ``str``-Enum member whose value it is."""
    return value.value if isinstance(value, Enum) else value


_ENVELOPE = (
    ("schema_version", "int", "version of this schema; 2 (see the JSON schema changelog)"),
    ("command", "string", "the command that produced the document"),
    ("sysroot", "string", "absolute path of the tree that was read (`/` for this machine)"),
)

_CHANGE = _ENVELOPE + (
    ("dry_run", "bool", "`--dry-run`: the plan was only shown, nothing was written"),
    ("plan", "plan", "what the command does, step by step, with the exact writes"),
    ("outcome", "outcome|null", "what happened; null with `--dry-run`"),
)

#: ``.plan.steps[].writes[].kind``
WRITE_KINDS: Enumeration = (
    ("sysfs", "a write of `value` to the sysfs attribute `path`"),
    ("wipe", "zeroing the old info block at the start of the block device `path`"),
    ("ndctl", "running ndctl with the arguments in `value`"),
)

#: ``.ranges[].zones[]``, ``.nodes[].zone_blocks`` keys: the kernel's zone
#: names (valid_zones, /proc/zoneinfo), lower-cased as --zone takes them
ZONES: Enumeration = (
    ("dma", "ZONE_DMA"),
    ("dma32", "ZONE_DMA32"),
    ("normal", "ZONE_NORMAL: kernel allocations possible; nearly impossible to offline again"),
    ("movable", "ZONE_MOVABLE: user pages only; can be offlined again"),
    ("device", "ZONE_DEVICE"),
)

#: ``.ranges[].state`` (pmemctl.model.records.BlockState; a test keeps them equal)
BLOCK_STATES: Enumeration = (
    ("online", "online"),
    ("offline", "offline"),
    ("going-offline", "being offlined (transient)"),
    ("unknown", "its state file could not be read"),
)

#: ``dax_device.mode`` (pmemctl.model.records.DaxMode)
DAX_MODES: Enumeration = (
    ("devdax", "bound to device_dax: /dev/daxX.Y usable"),
    ("system-ram", "bound to kmem: its memory is hot-added as RAM"),
    ("disabled", "bound to no driver"),
)

#: ``namespace.mode`` (pmemctl.model.records.NamespaceMode)
NAMESPACE_MODES: Enumeration = (
    ("raw", "no info block"), ("sector", "btt"), ("fsdax", "pfn"), ("devdax", "dax"),
)

#: ``.nodes[].kind`` (pmemctl.model.records.NodeKind)
NODE_KINDS: Enumeration = (
    ("dram", "boot memory"), ("pmem", "NVDIMM memory added by kmem"),
    ("cxl", "CXL or soft-reserved (hmem) memory added by kmem"), ("unknown", "no evidence either way"),
)

#: ``.findings[].severity``, the keys of ``.counts``
SEVERITIES: Enumeration = (
    ("info", "advice; healthy"), ("warning", "memory will not be the RAM wanted"),
    ("error", "memory cannot become RAM"),
)

#: ``.findings[].fix.kind``, ``doctor_explain.fix_kind``
FIX_KINDS: Enumeration = (
    ("command", "a command to run (carrying the same `--sysroot`)"),
    ("boot-argument", "a kernel command line change"), ("bios", "a firmware setting"),
    ("kernel", "a kernel built with another configuration"), ("layout", "a layout snippet"),
    ("file", "a configuration file to change"), ("none", "nothing to do"),
)

#: ``.plan.checks[].status`` (the word the text output prints)
CHECK_STATUSES: Enumeration = (
    ("ok", "passed"),
    ("warning", "found a problem that does not block the run"),
    ("refused", "blocks the run; `override` names the option that lifts it, if any"),
    ("overridden", "would refuse, but `override` was given: the run goes ahead"),
)

#: ``.outcome.target_states[].kind``
TARGET_KINDS: Enumeration = (
    ("dax_device", "a dax device the run touched"),
    ("memory_blocks", "a run of consecutive memory blocks the run touched, all in the same state"),
)

#: ``.unfinished.state``, ``.last_run.state``
RUN_STATES: Enumeration = (
    ("applying", "unfinished: the change was being applied"),
    ("interrupted", "unfinished: stopped by Ctrl-C or a signal"),
    ("rollback-incomplete", "unfinished: undoing a failed step failed too"),
    ("rolling-back", "unfinished: a rollback was under way"),
    ("resuming", "unfinished: a resume was under way"),
    ("finished", "last run: it ended in a consistent state"),
    ("rolled-back", "last run: undone by `pmemctl rollback`"),
)

#: ``.outcome.status``
OUTCOME_STATUSES: Enumeration = (
    ("changed", "made and verified"),
    ("no-change", "already as requested; nothing written"),
    ("partial", "some units changed, the others failed and were undone"),
    ("rolled-back", "a step failed and everything this run changed was undone"),
    ("rollback-incomplete", "undoing a failed step failed too; the journal is kept"),
    ("failed", "a step failed before anything had changed"),
    ("interrupted", "stopped by Ctrl-C; the journal is kept"),
)

#: ``.outcome.steps[].status``
STEP_STATUSES: Enumeration = (
    ("done", "carried out and verified"),
    ("skipped", "already in its end state; nothing written"),
    ("failed", "its write or read-back failed"),
    ("undone", "an undo step, carried out"),
    ("undo-failed", "an undo step that failed; undoing stopped there"),
    ("not-run", "not reached"),
)

#: ``.findings[].group`` (pmemctl.ops.doctor.findings.GROUPS, in order; a test keeps them equal)
DOCTOR_GROUPS: Enumeration = (
    ("firmware", "ACPI tables and the physical address map (/proc/iomem)"),
    ("kernel", "kernel configuration"),
    ("boot", "kernel command line"),
    ("policy", "hotplug policy: auto_online_blocks and the memory_hotplug parameters"),
    ("agents", "other agents that online memory or reconfigure dax devices (udev, daxctl)"),
    ("devices", "dax devices: alignment, driver, target node, users"),
    ("blocks", "memory blocks: partial online, zones, stuck offlining, stranded memory"),
    ("nodes", "NUMA nodes: zone ratio, memmap cost, memory tiers, demotion"),
    ("layout", "drift from the provisioning layout"),
)

_SPECS = (
    ObjectSpec("list", "`pmemctl list --json`", _ENVELOPE + (
        ("filters", "list_filters", "the filters given on the command line"),
        ("buses", "array<bus>", "NVDIMM buses, each holding its regions"),
        ("standalone_dax_devices", "array<dax_device>",
         "dax devices that belong to no NVDIMM namespace (hmem / soft-reserved and CXL memory)"),
        ("policy", "policy", "memory hotplug policy of the kernel"),
    )),
    ObjectSpec("list_filters", "`.filters`", (
        ("bus", "string|null", "--bus"),
        ("region", "string|null", "--region"),
        ("namespace", "string|null", "--namespace"),
        ("device", "string|null", "--device"),
        ("mode", "string|null", "--mode"),
    )),
    ObjectSpec("bus", "`.buses[]`", (
        ("name", "string", "`ndbus0`"),
        ("path", "string", "kernel path of the bus device"),
        ("provider", "string|null", "`ACPI.NFIT`, `e820`, `of_pmem`, ..."),
        ("dimms", "array<string>", "names of the bus's DIMMs (`nmem0`)"),
        ("regions", "array<region>", "regions on this bus"),
    )),
    ObjectSpec("region", "`.buses[].regions[]`", (
        ("name", "string", "`region0`"),
        ("id", "int", "N of regionN"),
        ("path", "string", "kernel path"),
        ("type", "string", "`pmem` or `volatile`"),
        ("size", "int", "bytes"),
        ("available_size", "int|null", "bytes not yet used by namespaces"),
        ("max_available_extent", "int|null", "largest free extent, bytes"),
        ("align", "int|null", "namespace size alignment, bytes"),
        ("numa_node", "int|null", "node closest to the region's CPUs"),
        ("target_node", "int|null", "node its memory joins as system RAM"),
        ("resource", "int|null", "physical start address (root only)"),
        ("persistence_domain", "string|null", "`cpu_cache`, `memory_controller`, ..."),
        ("read_only", "bool|null", "region is read-only"),
        ("enabled", "bool", "bound to its driver"),
        ("mappings", "array<region_mapping>", "DIMM extents interleaved into the region"),
        ("namespaces", "array<namespace>", "namespaces in the region (after filtering)"),
    )),
    ObjectSpec("region_mapping", "`.buses[].regions[].mappings[]`", (
        ("dimm", "string", "`nmem0`"),
        ("offset", "int", "DPA offset, bytes"),
        ("length", "int", "bytes"),
        ("position", "int", "interleave position"),
    )),
    ObjectSpec("namespace", "`.buses[].regions[].namespaces[]`", (
        ("name", "string", "`namespace0.0`"),
        ("path", "string", "kernel path"),
        ("mode", "string", "the namespace's mode"),
        ("size", "int", "raw namespace size, bytes"),
        ("usable_size", "int|null", "size after the pfn/dax/btt info block, bytes"),
        ("uuid", "string|null", "namespace (label) uuid"),
        ("holder_uuid", "string|null", "uuid of the pfn/dax/btt info block"),
        ("alt_name", "string|null", "user-given name"),
        ("holder", "string|null", "`dax0.0`, `pfn0.0` or `btt0.0` claiming it"),
        ("blockdev", "string|null", "block device (`pmem0`) in raw/fsdax/sector mode"),
        ("sector_size", "int|null", "bytes"),
        ("align", "int|null", "bytes"),
        ("enabled", "bool", "bound to its driver"),
        ("idle", "bool", "an unconfigured seed namespace (size 0, disabled)"),
        ("resource", "int|null", "physical start address (root only)"),
        ("numa_node", "int|null", "node closest to it"),
        ("target_node", "int|null", "node its memory joins as system RAM"),
        ("dax_device", "dax_device|null", "its dax device in devdax mode"),
    ), enums={"mode": NAMESPACE_MODES}),
    ObjectSpec("dax_device", "`...namespaces[].dax_device`, `.standalone_dax_devices[]`", (
        ("name", "string", "`dax0.0`"),
        ("path", "string", "kernel path"),
        ("mode", "string", "what its driver makes of it"),
        ("driver", "string|null", "`device_dax`, `kmem` or null"),
        ("source", "string", "where its memory comes from"),
        ("namespace", "string|null", "owning NVDIMM namespace"),
        ("region_id", "int|null", "dax region id"),
        ("size", "int", "bytes"),
        ("resource", "int|null", "physical start address"),
        ("align", "int|null", "bytes"),
        ("numa_node", "int|null", "node closest to it"),
        ("target_node", "int|null", "node its memory joins as system RAM"),
        ("dev", "string|null", "character device `major:minor`"),
        ("memmap_on_memory", "bool|null", "per-device memmap_on_memory (6.8+)"),
        ("ranges", "array<dax_range>", "physical address ranges"),
        ("blocks_total", "int", "memory blocks inside its ranges"),
        ("blocks_online", "int", "of those, blocks online"),
    ), enums={"mode": DAX_MODES, "source": (
        ("nvdimm", "an NVDIMM namespace"), ("hmem", "Soft Reserved memory (hmem)"), ("cxl", "a CXL region"),
        ("unknown", "not found out"))}),
    ObjectSpec("dax_range", "`...dax_device.ranges[]`", (
        ("start", "int", "first byte"),
        ("end", "int", "last byte (inclusive)"),
        ("size", "int", "bytes"),
    )),
    ObjectSpec("policy", "`.policy` (list, topology)", (
        ("block_size", "int|null", "memory block size, bytes; null without memory hotplug"),
        ("auto_online_blocks", "string|null", "`offline`, `online`, `online_kernel` or `online_movable`"),
        ("memhp_default_state", "string|null", "from the kernel command line"),
        ("movable_node", "bool", "`movable_node` on the kernel command line"),
        ("demotion_enabled", "bool|null", "/sys/kernel/mm/numa/demotion_enabled"),
        ("online_policy", "string|null", "memory_hotplug.online_policy"),
        ("auto_movable_ratio", "int|null", "memory_hotplug.auto_movable_ratio (%)"),
        ("memmap_on_memory", "bool|null", "memory_hotplug.memmap_on_memory: hot-added memory holds its own memmap "
         "(`Y` or `force`); null where the parameter is absent"),
        ("memmap_on_memory_force", "bool|null", "memory_hotplug.memmap_on_memory is `force`: even where part of "
         "every block is wasted for alignment (Linux 6.6+); null where the parameter is absent"),
        ("kmem_driver", "bool", "the dax kmem driver is available"),
        ("device_dax_driver", "bool", "the device_dax driver is available"),
        ("hotremove", "bool|null", "memory can be offlined (CONFIG_MEMORY_HOTREMOVE)"),
        ("kernel_cmdline", "string|null", "/proc/cmdline"),
    )),
    ObjectSpec("blocks", "`pmemctl blocks --json`", _ENVELOPE + (
        ("block_size", "int", "memory block size, bytes"),
        ("columns", "array<string>", "columns the ranges were merged by (`-o`)"),
        ("per_block", "bool", "`--all`: one range per block"),
        ("filters", "blocks_filters", "the filters given on the command line"),
        ("ranges", "array<block_range>", "block ranges in address order"),
        ("totals", "block_totals", "sums over the listed ranges"),
    )),
    ObjectSpec("blocks_filters", "`.filters`", (
        ("device", "string|null", "--device"),
        ("node", "int|null", "--node"),
        ("state", "string|null", "--state"),
    )),
    ObjectSpec("block_range", "`.ranges[]`", (
        ("first_block", "int", "first block id (N of memoryN)"),
        ("last_block", "int", "last block id"),
        ("blocks", "int", "number of blocks"),
        ("start", "int", "first byte"),
        ("end", "int", "last byte (inclusive)"),
        ("size", "int", "bytes"),
        ("state", "string", "the blocks' state"),
        ("zones", "array<string>|null",
         "valid_zones: the zone of an online block, the candidates of an offline one (first = default); "
         "`[]` when the block spans zones (`none`); null when not read (not in `-o`) or not provided by the kernel"),
        ("removable", "bool|null", "null when not read or not provided"),
        ("node", "int|null", "NUMA node; null when not read or unknown"),
        ("device", "string|null", "owning dax device; null for boot memory or when not read"),
    ), enums={"state": BLOCK_STATES, "zones": ZONES}),
    ObjectSpec("block_totals", "`.totals`", (
        ("blocks_online", "int", "blocks online"),
        ("blocks_offline", "int", "blocks not online"),
        ("size_online", "int", "bytes online"),
        ("size_offline", "int", "bytes not online"),
    )),
    ObjectSpec("topology", "`pmemctl topology --json`", _ENVELOPE + (
        ("possible_nodes", "array<int>", "node ids the kernel could bring online"),
        ("nodes", "array<node>", "online NUMA nodes"),
        ("tiers", "array<tier>", "memory tiers, fastest first"),
        ("weighted_interleave", "weighted_interleave|null",
         "MPOL_WEIGHTED_INTERLEAVE weights (Linux 6.9+); null where the kernel has none"),
        ("node_lists", "node_lists", "node lists ready for numactl --membind / cpuset.mems"),
        ("policy", "policy", "memory hotplug and demotion policy"),
        ("warnings", "array<string>", "problems found, one sentence each"),
    )),
    ObjectSpec("node", "`.nodes[]`", (
        ("id", "int", "node id"),
        ("path", "string", "kernel path"),
        ("kind", "string", "what backs it (inferred; see evidence)"),
        ("cpus", "array<int>", "CPU ids"),
        ("mem_total", "int|null", "MemTotal of online memory, bytes"),
        ("mem_free", "int|null", "MemFree, bytes"),
        ("blocks_total", "int", "memory blocks on the node"),
        ("blocks_online", "int", "of those, online"),
        ("zone_blocks", "object<string,int>", "online blocks per zone, keyed by zone (`{\"movable\": 120}`)"),
        ("memory_tier", "int|null", "N of memory_tierN"),
        ("dax_devices", "array<string>", "dax devices whose memory lives on this node"),
        ("has_memory", "bool", "in /sys/devices/system/node/has_memory"),
        ("has_normal_memory", "bool", "in has_normal_memory (kernel allocations possible)"),
        ("distances", "object<string,int>", "SLIT distance to each online node, keyed by node id"),
        ("access0", "access|null", "HMAT figures for the best initiators of any kind"),
        ("access1", "access|null", "HMAT figures for the best CPU initiators"),
        ("evidence", "array<string>", "why the node got its kind, one fact each"),
    ), enums={"zone_blocks": ZONES, "kind": NODE_KINDS}),
    ObjectSpec("access", "`.nodes[].access0`, `.nodes[].access1`", (
        ("initiators", "array<int>", "initiator node ids"),
        ("read_latency_ns", "int|null", "ns"),
        ("write_latency_ns", "int|null", "ns"),
        ("read_bandwidth_mib_s", "int|null", "MiB/s"),
        ("write_bandwidth_mib_s", "int|null", "MiB/s"),
    )),
    ObjectSpec("tier", "`.tiers[]`", (
        ("id", "int", "N of memory_tierN"),
        ("path", "string", "kernel path"),
        ("nodes", "array<int>", "node ids in the tier"),
        ("adistance_min", "int", "first abstract distance of the tier (N << 7; DRAM is 576, tier 4)"),
        ("adistance_max", "int", "last abstract distance of the tier; HMAT-derived since Linux 6.7"),
    )),
    ObjectSpec("weighted_interleave", "`.weighted_interleave`", (
        ("path", "string", "kernel path (/sys/kernel/mm/mempolicy/weighted_interleave)"),
        ("weights", "object<string,int>", "weight (1-255) per node id, for new allocations"),
        ("auto", "bool|null", "the kernel recomputes weights from bandwidth (~6.16+); null: no such switch"),
    )),
    ObjectSpec("node_lists", "`.node_lists`", (
        ("dram", "string", "DRAM nodes with memory, kernel list syntax (`0-1`); `\"\"` when none"),
        ("pmem", "string", "nodes of NVDIMM memory added by kmem"),
        ("cxl", "string", "nodes of CXL / soft-reserved memory added by kmem"),
        ("all_memory", "string", "every node with memory"),
    )),
    ObjectSpec("change", "`pmemctl reconfigure|online|offline --json` (with or without `--dry-run`)", _CHANGE),
    ObjectSpec("namespace_change",
               "`pmemctl namespace create|reconfigure|destroy --json` (with or without `--dry-run`)",
               _CHANGE + (
        ("backend", "string", "what carries out the namespace steps: `sysfs` or `ndctl` (`--backend`, `auto` "
         "resolved); `none` when the plan has no namespace step"),
    )),
    ObjectSpec("plan", "`.plan` (change, namespace_change)", (
        ("title", "string", "the change in a few words"),
        ("destructive", "bool", "it can lose data or take memory away: it needs `--yes` (or a \"yes\" typed on a "
         "terminal)"),
        ("consent", "string|null", "what `--yes` consents to, one sentence; null when not destructive"),
        ("targets", "array<string>", "names of the objects it changes (`dax0.0`, `namespace1.2`, `memory42`; the "
         "attribute path for a policy write)"),
        ("already", "array<string>", "targets already as requested (left alone), one sentence each"),
        ("notes", "array<string>", "rounding, chosen blocks, resolved names, one sentence each"),
        ("checks", "array<check>", "the pre-checks, in the order they ran"),
        ("steps", "array<step>", "the steps, in the order they run; `[]` when there is nothing to do"),
    )),
    ObjectSpec("check", "`.plan.checks[]`", (
        ("name", "string", "short name of the check (`zone-ratio`, `memmap`, `mounted`, ...)"),
        ("status", "string", "what it found, as the text output prints it"),
        ("message", "string", "what was found, one sentence"),
        ("override", "string|null", "the option that lifts this refusal (`--force`); null when it passed, warns or "
         "cannot be lifted"),
    ), enums={"status": CHECK_STATUSES}),
    ObjectSpec("step", "`.plan.steps[]`", (
        ("kind", "string", "the action: `unbind`, `bind`, `wait-blocks`, `online-block`, `offline-block`, "
         "`ns-create`, ..."),
        ("description", "string", "the step in words, as `--dry-run` prints it"),
        ("writes", "array<write>", "what it writes, in order; `[]` for a step that only waits"),
    )),
    ObjectSpec("write", "`.plan.steps[].writes[]`", (
        ("path", "string", "the sysfs attribute written; for `wipe` the block device (`/dev/pmem1`), for `ndctl` the "
         "word `ndctl`"),
        ("value", "string", "the value written; for `wipe` the word `zeros`, for `ndctl` the command's arguments, "
         "shell-quoted"),
        ("kind", "string", "what carries it out"),
    ), enums={"kind": WRITE_KINDS}),
    ObjectSpec("outcome", "`.outcome` (change, namespace_change, recovery)", (
        ("status", "string", "how the run ended"),
        ("title", "string", "what was done (the plan's title; `roll back: ...` for a rollback)"),
        ("message", "string", "the cause of a failure, or a summary"),
        ("machine_state", "array<string>", "the state of the targets afterwards, one sentence each; `[]` when not "
         "described"),
        ("target_states", "array<target_state>", "the same state, structured: each dax device and each run of "
         "memory blocks the plan touched; `[]` when not described or not readable"),
        ("already", "array<string>", "targets that were already as requested"),
        ("changed_units", "array<string>", "units (a device of `all`, a block of `online`) that changed"),
        ("failed_units", "array<string>", "units that failed; their steps were undone unless the status is "
         "`rollback-incomplete`"),
        ("steps", "array<outcome_step>", "what happened to each step taken, in order, undo steps included"),
        ("exit_code", "int", "the exit status this outcome gives (see EXIT STATUS); 0 for a `pmemctl rollback` "
         "whose outcome is `rolled-back`: it did what was asked, and exits 0"),
    ), enums={"status": OUTCOME_STATUSES}),
    ObjectSpec("target_state", "`.outcome.target_states[]`", (
        ("kind", "string", "what it is"),
        ("name", "string|null", "the dax device (`dax0.0`); null for memory blocks"),
        ("present", "bool", "it exists afterwards (false: the device or the blocks disappeared)"),
        ("driver", "string|null", "`device_dax`, `kmem`, or null (no driver, absent, or memory blocks)"),
        ("mode", "string|null", "`devdax`, `system-ram` or `disabled` (no driver); null for memory blocks or an "
         "absent device"),
        ("first_block", "int|null", "first block id of the run; null for a dax device"),
        ("last_block", "int|null", "last block id of the run; null for a dax device"),
        ("state", "string|null", "the blocks' state (`online`, `offline`, `going-offline`); null for a dax device "
         "or absent blocks"),
    ), enums={"kind": TARGET_KINDS}),
    ObjectSpec("outcome_step", "`.outcome.steps[]`", (
        ("action", "string", "the step in words (for an undo step, the undoing action)"),
        ("kind", "string", "the action, as in `.plan.steps[].kind`"),
        ("status", "string", "what happened to it"),
        ("error", "string|null", "why it failed; null unless `failed` or `undo-failed`"),
        ("errno", "int|null", "the errno of the failed write, when there was one"),
    ), enums={"status": STEP_STATUSES}),
    ObjectSpec("recovery", "`pmemctl rollback|resume --json`", _ENVELOPE + (
        ("dry_run", "bool", "`--dry-run`: the plan was only shown, nothing was written"),
        ("plan", "plan|null", "with `--dry-run`, what it would do: the undo steps newest first (rollback) or the "
         "steps left (resume), with their writes; null otherwise (the plan is the journal's)"),
        ("outcome", "outcome|null", "what the rollback or resume did; null with `--dry-run`"),
    )),
    ObjectSpec("status", "`pmemctl status --json`", _ENVELOPE + (
        ("unfinished", "journal_run|null", "a change that did not finish (the journal); null when none"),
        ("last_run", "journal_run|null", "the last change that finished; null when there was none"),
        ("in_progress", "in_progress|null", "the pmemctl run changing the machine now (it holds the run lock): "
         "`unfinished` is then its live journal, not one to resume or roll back; null when no run holds the lock "
         "(or it cannot be told without root)"),
        ("journal_readable", "bool", "false when the journal could not be read (its directory is root's, mode "
         "0700, and this is not root): `unfinished` and `last_run` are then null because they are unknown"),
    )),
    ObjectSpec("in_progress", "`.in_progress` (status)", (
        ("pid", "int|null", "the process holding the run lock; null when the kernel does not show it"),
    )),
    ObjectSpec("journal_run", "`.unfinished`, `.last_run` (status)", (
        ("title", "string|null", "the plan's title"),
        ("arguments", "string|null", "its command line after `pmemctl` (`--sysroot /m offline dax0.0 --yes`)"),
        ("state", "string|null", "where it stands"),
        ("status", "string|null", "its outcome status (see `.outcome.status`); null while unfinished"),
        ("pid", "int|null", "the process that ran it"),
        ("started", "string|null", "when it started (ISO 8601)"),
        ("steps", "int|null", "steps in its plan"),
        ("steps_done", "int|null", "of those, steps done; null for the last run (not recorded)"),
    ), enums={"state": RUN_STATES, "status": OUTCOME_STATUSES}),
    ObjectSpec("error_document", "any command given `--json` that fails instead of printing its own document",
               _ENVELOPE + (
        ("error", "error", "what went wrong"),
    )),
    ObjectSpec("error", "`.error`", (
        ("message", "string", "the one-line error, as printed on stderr without the `pmemctl: ` prefix"),
        ("status", "string", "name of the exit code: `refused`, `not-found`, `usage`, `failed`, ..."),
        ("exit_code", "int", "the process exit status (see EXIT STATUS)"),
    )),
    ObjectSpec("boot", "`pmemctl boot install|uninstall|status --json`", _ENVELOPE + (
        ("root", "string", "the directory the files are under (`--root`, default the sysroot)"),
        ("dry_run", "bool", "true when nothing was written (`--dry-run`); always false for `boot status`"),
        ("state", "string", "what the command found or did"),
        ("settings", "boot_settings|null", "what the install was asked for (from the manifest for `status` and "
         "`uninstall`); null when nothing is installed"),
        ("files", "array<boot_file>", "every file of the install, in the order written"),
        ("warnings", "array<string>", "files left in place because they were edited after install, and the like"),
    ), enums={"state": (
        ("changed", "install/uninstall wrote or removed files"),
        ("planned", "a dry run that would write or remove files"),
        ("unchanged", "install/uninstall had nothing to do (exit 3)"),
        ("not-installed", "status: no manifest under the root"),
        ("current", "status: every installed file is as written and as the templates give today"),
        ("drifted", "status: a file is missing, edited, or older than the templates (exit 11)"),
    )}),
    ObjectSpec("boot_settings", "`.settings` (boot)", (
        ("exec_start", "array<string>", "the pmemctl command the units run (found at install time)"),
        ("before", "array<string>", "workload units given a drop-in ordering them after `pmemctl-memory.target`"),
        ("udev_rule", "bool", "whether the udev rule and `pmemctl-apply-hotplug.service` are installed"),
        ("wait", "int", "seconds `apply --wait` waits for expected devices at boot"),
        ("timeout", "int", "`TimeoutStartSec=` of the apply service, in seconds"),
    )),
    ObjectSpec("boot_file", "`.files[]` (boot)", (
        ("path", "string", "the file's path on the machine that boots (`/etc/systemd/system/...`)"),
        ("host_path", "string", "where it is on this host (under `root`)"),
        ("role", "string", "what the file is"),
        ("change", "string|null", "what install/uninstall does to it; null for `status`"),
        ("state", "string|null", "how it compares (status only; null for install/uninstall)"),
        ("content", "string|null", "the content written (install), found (status, `keep`), null for a removal or "
         "a missing file"),
    ), enums={
        "role": (("service", "pmemctl-apply.service"), ("target", "pmemctl-memory.target"),
                 ("hotplug-service", "pmemctl-apply-hotplug.service (with the udev rule)"),
                 ("boot-drop-in", "multi-user.target.d/50-pmemctl.conf: apply runs at every boot"),
                 ("workload-drop-in", "UNIT.d/50-pmemctl.conf of a `--before` unit"),
                 ("udev-rule", "90-pmemctl.rules"), ("manifest", "/etc/pmemctl/boot-units.json")),
        "change": (("create", "written, was absent"), ("update", "rewritten"), ("remove", "removed"),
                   ("unchanged", "already as wanted"), ("keep", "edited after install, left in place")),
        "state": (("current", "as installed and as the templates give today"),
                  ("outdated", "as installed, but the templates changed since: install again"),
                  ("modified", "edited after install"), ("missing", "installed, then removed")),
    }),
    ObjectSpec("doctor", "`pmemctl doctor --json`", _ENVELOPE + (
        ("read_as_root", "bool", "the reader could see what only root sees (false: some findings say `needs_root`)"),
        ("groups", "array<string>", "the groups of checks that ran, from firmware to node (`--only`)"),
        ("counts", "object<string,int>", "findings per severity, keyed by severity"),
        ("healthy", "bool", "no finding above info"),
        ("exit_code", "int", "the exit status: 0 healthy, 12 warnings, 13 errors"),
        ("findings", "array<finding>", "what was found, grouped from firmware to node, most severe first"),
        ("layout_drift_checked", "bool", "the drift from a provisioning layout was checked"),
        ("fix", "doctor_fix|null", "with `--fix`: the plan of runtime-safe fixes and what happened"),
    ), enums={"counts": SEVERITIES, "groups": DOCTOR_GROUPS}),
    ObjectSpec("finding", "`.findings[]` (doctor)", (
        ("id", "string", "stable ID of the finding (`pmemctl doctor --explain ID`)"),
        ("severity", "string", "how bad it is"),
        ("group", "string", "the group of checks it belongs to"),
        ("title", "string", "one line"),
        ("subject", "string|null", "the object it is about (`dax0.0`, `node1`, a rules file), or null"),
        ("evidence", "array<evidence>", "the files and values it was read from"),
        ("fix", "finding_fix", "how to fix it"),
        ("needs_reboot", "bool", "the fix takes effect only after a reboot"),
        ("needs_root", "bool", "it could not be checked without root: run doctor as root"),
        ("runtime_fix", "runtime_fix|null", "the write `--fix` makes for it, when one is safe at runtime"),
    ), enums={"severity": SEVERITIES, "group": DOCTOR_GROUPS}),
    ObjectSpec("evidence", "`.findings[].evidence[]`", (
        ("path", "string", "the kernel path read (`/proc/cmdline`), `dmesg`, or `computed`"),
        ("value", "string", "what it said"),
    )),
    ObjectSpec("finding_fix", "`.findings[].fix`", (
        ("kind", "string", "what the fix is"),
        ("text", "string|null", "the command, setting or snippet; null when there is nothing to do"),
    ), enums={"kind": FIX_KINDS}),
    ObjectSpec("runtime_fix", "`.findings[].runtime_fix`", (
        ("path", "string", "the attribute `--fix` writes"),
        ("value", "string", "the value it writes"),
        ("previous", "string", "the value now (restored on rollback)"),
    )),
    ObjectSpec("doctor_fix", "`.fix` (doctor --fix)", (
        ("dry_run", "bool", "`--dry-run`: the plan was only shown"),
        ("plan", "plan", "the policy writes, as every change shows them"),
        ("outcome", "outcome|null", "what happened; null with `--dry-run`"),
    )),
    ObjectSpec("doctor_explain", "`pmemctl doctor --explain ID --json`", _ENVELOPE + (
        ("id", "string", "the finding's ID"),
        ("group", "string", "its group of checks"),
        ("severity", "string", "how bad it is"),
        ("title", "string", "its one-line title (`{subject}` stands for the object)"),
        ("explain", "string", "the reasoning: why it matters and what fixes it"),
        ("fix_kind", "string", "what kind of fix it has (as `.findings[].fix.kind`)"),
        ("needs_reboot", "bool", "its fix takes effect only after a reboot"),
    ), enums={"group": DOCTOR_GROUPS, "severity": SEVERITIES, "fix_kind": FIX_KINDS}),
    ObjectSpec("apply", "`pmemctl apply --json`", _ENVELOPE + (
        ("config_files", "array<string>", "the layout files read, in order"),
        ("check", "bool", "`--check`: only compared, nothing was written"),
        ("dry_run", "bool", "`--dry-run`: the plan was only shown, nothing was written"),
        ("items", "array<apply_item>", "each policy key, region entry and device entry of the layout"),
        ("plan", "plan|null", "the one plan for every item that differs; null when converged or with `--check`"),
        ("outcome", "outcome|null", "what running the plan did; null when nothing ran"),
        ("warnings", "array<string>", "selectors by device name, overridden policy keys, devices that never came "
         "(`--wait`), a journal of an earlier boot that was archived"),
        ("exit_code", "int", "the exit status (see EXIT STATUS): 0, 3 converged, 11 drift, ..."),
    )),
    ObjectSpec("apply_item", "`.items[]` (apply)", (
        ("name", "string", "entry name (`policy.KEY` for a policy key)"),
        ("selector", "string", "the selector (`namespace_uuid=...`, `range=0x...`), or the policy file"),
        ("matched", "array<string>", "the devices, namespaces or regions it matched on this machine"),
        ("desired", "object<string,any>", "what the layout asks for"),
        ("actual", "object<string,any>", "what the machine has (per matched device for a device entry)"),
        ("status", "string", "where the item stands"),
        ("difference", "string|null", "the difference or finding in words; null when none"),
    ), enums={"status": (
        ("converged", "already as the layout says"),
        ("planned", "differs; the plan changes it (`--dry-run`)"),
        ("changed", "changed by this run and verified"),
        ("drift", "differs from the layout (`--check`)"),
        ("failed", "still differs after the run"),
        ("missing", "fewer devices matched than `expect`"),
        ("optional-missing", "fewer devices matched than `expect`, and the entry is optional"),
        ("ambiguous", "more devices matched than `expect`: nothing is changed"),
        ("unmanaged", "`mode = \"unmanaged\"`: left as it is"),
        ("unsupported", "a policy key whose file this kernel lacks"),
    )}),
    ObjectSpec("config", "`pmemctl config validate|show --json`", _ENVELOPE + (
        ("config_files", "array<string>", "the layout files read, in order"),
        ("valid", "bool", "always true (an invalid layout gives an error document, exit 2)"),
        ("layout", "object<string,any>", "the merged layout, as the TOML data of one file"),
        ("matched", "object<string,array<string>>", "device entry name -> the devices it matches now"),
        ("warnings", "array<string>", "selectors by device name, overridden policy keys"),
    )),
    ObjectSpec("namespace_plan", "`pmemctl namespace plan --json`", _ENVELOPE + (
        ("region", "string", "the region carved from (`region0`)"),
        ("system_ram", "int", "the system RAM asked for, bytes (whole memory blocks)"),
        ("block_size", "int", "memory block size, bytes"),
        ("blocks", "int", "memory blocks asked for"),
        ("exact", "bool", "a namespace size giving exactly that many blocks exists and fits"),
        ("namespace_size", "int|null", "the namespace size to create, bytes (`--size`); null when none fits"),
        ("usable_size", "int|null", "the dax device's size after the devdax info block, bytes; null when none fits"),
        ("first_block", "int|null", "block id of the first whole memory block it would add; null when unknown"),
        ("start", "int|null", "predicted physical start address of the namespace; null when unknown"),
        ("align", "int", "devdax alignment, bytes"),
        ("region_max_available_extent", "int", "the region's largest free extent (`max_available_extent`, or "
         "`available_size` where the kernel lacks it), bytes"),
        ("region_align", "int", "the region's namespace size alignment, bytes"),
        ("interleave_ways", "int", "DIMMs the region is interleaved across"),
        ("nearest", "array<namespace_plan_option>", "the nearest sizes that fit when the request is not exact"),
        ("most", "namespace_plan_option|null", "the most system RAM the region can give; null when none"),
        ("problem", "string|null", "why the request cannot be met, one sentence; null when it can"),
        ("command_line", "string|null", "the `pmemctl namespace create` command that carries it out (with the same "
         "`--sysroot`); null when none fits"),
    )),
    ObjectSpec("namespace_plan_option", "`.nearest[]`, `.most` (namespace_plan)", (
        ("blocks", "int", "memory blocks"),
        ("system_ram", "int", "system RAM it gives, bytes"),
        ("namespace_size", "int", "namespace size, bytes"),
    )),
    ObjectSpec("sim_record", "`pmemctl sim record DIR --json`", _ENVELOPE + (
        ("recording", "recording", "what was recorded"),
    )),
    ObjectSpec("recording", "`.recording` (sim_record)", (
        ("dest", "string", "absolute path of the recording"),
        ("source", "string", "absolute path of the tree recorded (`/` for this machine)"),
        ("simulated", "bool", "the source was a simulated tree: the recording is a working simulated machine"),
        ("files", "int", "files copied"),
        ("links", "int", "symbolic links copied"),
        ("dirs", "int", "directories created"),
        ("errors", "object<string,string>", "path -> the errno name of a file that could not be read"),
        ("error_modes", "object<string,string>", "path -> the mode (octal, `0400`) of a file that could not be read"),
        ("truncated", "array<string>", "files cut at the size limit"),
        ("roots", "array<string>", "the directories recorded"),
        ("missing", "array<string>", "of those, directories absent on this machine"),
        ("seconds", "number", "how long it took, seconds (a float)"),
    )),
    ObjectSpec("sim_conditions", "`pmemctl sim conditions --json`", _ENVELOPE + (
        ("conditions", "array<sim_condition>", "conditions `pmemctl sim create --condition` puts into a tree"),
    )),
    ObjectSpec("sim_condition", "`.conditions[]` (sim_conditions)", (
        ("name", "string", "the condition (`--condition NAME` or `NAME=VALUE`)"),
        ("value", "string|null", "what VALUE means; null when it takes none"),
        ("help", "string", "what it puts into the tree"),
    )),
    ObjectSpec("journal_abandon", "`pmemctl journal abandon --json`", _ENVELOPE + (
        ("dry_run", "bool", "`--dry-run`: nothing was renamed"),
        ("unfinished", "journal_run|null", "the change given up; null when there is none or its journal cannot be "
         "read"),
        ("damaged", "string|null", "why the journal cannot be read, naming the file; null when it can"),
        ("machine_state", "array<string>", "where the devices and blocks it touched are now (left as they are), one "
         "sentence each; `[]` when there is no unfinished change"),
        ("target_states", "array<target_state>", "the same, structured (as `.outcome.target_states`)"),
        ("archived", "array<string>", "the journal files' new names; `[]` for a dry run or when there was nothing "
         "to abandon (exit 3)"),
    )),
    ObjectSpec("sim_list", "`pmemctl sim list --json`", _ENVELOPE + (
        ("scenarios", "array<scenario>", "scenarios `pmemctl sim create` can build"),
    )),
    ObjectSpec("scenario", "`.scenarios[]`", (
        ("name", "string", "scenario name (`--scenario`)"),
        ("summary", "string", "one-line description"),
        ("params", "array<scenario_param>", "parameters `--set KEY=VALUE` accepts"),
    )),
    ObjectSpec("scenario_param", "`.scenarios[].params[]`", (
        ("name", "string", "parameter name"),
        ("help", "string", "what it changes"),
        ("default", "string", "value used when not set"),
        ("choices", "array<string>", "allowed values; `[]` when free"),
    )),
)

#: Every object kind of the schema, by name.
OBJECTS: dict[str, ObjectSpec] = {s.kind: s for s in _SPECS}

#: What changed in each schema version, as (where, before, after); the README's
#: "JSON schema changelog" and pmemctl(1) are generated from it.  A test checks
#: that every key named under "after" exists in OBJECTS.
CHANGELOG: tuple[tuple[int, tuple[tuple[str, str, str], ...]], ...] = (
    (2, (
        ("every document: `.schema_version`", "`1`", "`2`"),
        ("every document: `.sysroot`", "as given on the command line, maybe relative (`\"m\"`)",
         "absolute (`\"/tmp/m\"`)"),
        ("blocks: `.ranges[].zones[]`", "the kernel's spelling (`\"Movable\"`, `\"Normal\"`)",
         "lower case, as `--zone` takes them (`\"movable\"`, `\"normal\"`); a closed set"),
        ("topology: `.nodes[].zone_blocks` keys", "`{\"Movable\": 120}`", "`{\"movable\": 120}`"),
        ("blocks: `.block_size_bytes`", "`block_size_bytes`", "`block_size` (as `namespace plan`)"),
        ("blocks: `.totals`", "`online_bytes`, `offline_bytes`, `online_blocks`, `offline_blocks`",
         "`size_online`, `size_offline`, `blocks_online`, `blocks_offline` (as `dax_device.blocks_online`; a size "
         "has no unit suffix)"),
        ("list, topology: `.policy.block_size_bytes`", "`block_size_bytes`", "`block_size`"),
        ("list, topology: `.policy.memmap_on_memory`", "string as the kernel prints it (`\"N\"`, `\"Y\"`, "
         "`\"force\"`)", "bool (`false`, `true`), as `dax_device.memmap_on_memory`; `force` is the new "
         "`.policy.memmap_on_memory_force` (bool)"),
        ("online, offline: `.plan.targets[]`", "block ids as strings (`\"174\"`)",
         "block names (`\"memory174\"`), as `.outcome.changed_units`"),
        ("every plan: `.plan.checks[]`", "`ok`, `warning`, `overridden` (bools; `ok` was false for a warning)",
         "one `status`: `ok`, `warning`, `refused` or `overridden`, the word the text output prints"),
        ("every outcome: `.outcome.target_states[]`", "(absent; only the `machine_state` sentences)",
         "new: the state of each touched dax device and run of blocks, structured (`target_state`)"),
        ("status: `.unfinished`, `.last_run`", "two kinds with different keys (`unfinished`: no `command`, "
         "`status`; `last_run`: no `steps_done`, and `version`)",
         "one kind, `journal_run`, with the same keys in both: `title`, `arguments`, `state`, `status`, `pid`, "
         "`started`, `steps`, `steps_done` (null where not known); `version` removed; `state` and `status` "
         "closed sets"),
        ("status: `.last_run.command`", "`command` (the command line, while the envelope's `command` is a "
         "command's name)", "`arguments`"),
        ("list: `.namespace.mode`, `.dax_device.mode`, `.dax_device.source`; blocks: `.ranges[].state`; "
         "topology: `.nodes[].kind`; doctor: `.counts` keys, `.groups[]`; doctor --explain: `severity`, `group`, "
         "`fix_kind`", "values listed in prose", "closed sets (the same values), refused if anything else"),
        ("doctor: `.root`", "`root` (bool; `boot`'s `root` is a directory)", "`read_as_root`"),
        ("namespace plan", "not in the schema reference", "documented as `namespace_plan` and "
         "`namespace_plan_option`; `command_line` and the sizes are null when nothing fits"),
        ("namespace plan: `.devdax_size`", "`devdax_size`", "`usable_size` (as `namespace.usable_size`)"),
        ("namespace plan: `.region_available`", "`region_available`", "`region_max_available_extent` (as "
         "`region.max_available_extent`)"),
        ("sim record", "`schema_version` always 1; not in the schema reference",
         "documented as `sim_record` and `recording`"),
        ("sim conditions, journal abandon", "no `--json`", "`--json` prints a `sim_conditions` or "
         "`journal_abandon` document"),
    )),
)


def _checks(spec: ObjectSpec) -> tuple[tuple[str, ...], frozenset[str], tuple[tuple[str, frozenset[str], bool], ...]]:
    """(keys, key set, (key, allowed values, may be null) per enumeration)."""
    types = {k: typ for k, typ, _ in spec.fields}
    enums = tuple((k, frozenset(spec.allowed(k) or ()), types[k].endswith("|null")) for k in spec.enums)
    return spec.keys, frozenset(spec.keys), enums


#: per kind, what _obj checks (computed once: a plan can hold one step per memory block)
_CHECKS = {kind: _checks(spec) for kind, spec in OBJECTS.items()}


def _obj(kind: str, /, **values: Any) -> dict[str, Any]:
    """Build one object of ``kind`` in specification order; refuse drift:
    a missing or extra key, or an enumeration value outside its set."""
    keys, keyset, enums = _CHECKS[kind]
    if values.keys() != keyset:
        extra = sorted(set(values) - keyset)
        missing = sorted(keyset - set(values))
        raise AssertionError(f"JSON {kind} object out of step with its schema: extra {extra}, missing {missing}")
    for key, allowed, nullable in enums:
        value = values[key] = enum_value(values[key])
        if value is None and nullable:
            continue
        # an array's items, a map's keys, or the value itself
        items = value if isinstance(value, (list, dict)) else (value,)
        wrong = [v for v in items if v not in allowed]
        if wrong:
            raise AssertionError(f"JSON {kind}.{key} holds {wrong[0]!r}, not one of "
                                 f"{list(OBJECTS[kind].allowed(key) or ())}")
    return {k: values[k] for k in keys}


def envelope(kind: str, command: str, sysroot: str, /, **body: Any) -> dict[str, Any]:
    """A top-level document; ``sysroot`` is printed absolute (a relative
    ``--sysroot`` is resolved against the working directory, as it was read)."""
    return _obj(kind, schema_version=SCHEMA_VERSION, command=command, sysroot=os.path.abspath(sysroot), **body)


def zone_names(zones: Iterable[str]) -> list[str]:
    """Kernel zone names (``Movable``, from valid_zones or zoneinfo) as the
    schema spells them: lower case, as ``--zone`` takes them."""
    return [z.lower() for z in zones]


def error_document(command: str, sysroot: str, message: str, exit_code: int) -> dict[str, Any]:
    """The document a ``--json`` command prints when it fails (see OBJECTS)."""
    from pmemctl.errors import ExitCode

    try:
        status = ExitCode(exit_code).name.lower().replace("_", "-")
    except ValueError:
        status = "failed"
    return envelope("error_document", command, sysroot,
                    error=_obj("error", message=message, status=status, exit_code=exit_code))


# --------------------------------------------------------------------------
# shared pieces


def policy_json(p: "Policy") -> dict[str, Any]:
    return _obj(
        "policy",
        block_size=p.block_size,
        auto_online_blocks=p.auto_online_blocks,
        memhp_default_state=p.memhp_default_state,
        movable_node=p.movable_node,
        demotion_enabled=p.demotion_enabled,
        online_policy=p.online_policy,
        auto_movable_ratio=p.auto_movable_ratio,
        memmap_on_memory=None if p.memmap_on_memory is None else _memmap_param(p.memmap_on_memory) != "n",
        memmap_on_memory_force=None if p.memmap_on_memory is None else _memmap_param(p.memmap_on_memory) == "force",
        kmem_driver=p.kmem_driver,
        device_dax_driver=p.device_dax_driver,
        hotremove=p.hotremove,
        kernel_cmdline=p.kernel_cmdline,
    )


def _memmap_param(text: str) -> str:
    """memory_hotplug.memmap_on_memory as one word: ``y``, ``n`` or ``force``
    (the kernel prints a bool parameter as Y/N; since 6.6 it also takes ``force``)."""
    word = text.strip().lower()
    return {"1": "y", "0": "n", "": "n"}.get(word, word)


# --------------------------------------------------------------------------
# list


def dax_json(dev: "DaxDevice", counts: Mapping[str, tuple[int, int]]) -> dict[str, Any]:
    total, online = counts.get(dev.name, (0, 0))
    return _obj(
        "dax_device",
        name=dev.name,
        path=dev.path,
        mode=dev.mode.value,
        driver=dev.driver,
        source=dev.source,
        namespace=dev.namespace,
        region_id=dev.region_id,
        size=dev.size,
        resource=dev.resource,
        align=dev.align,
        numa_node=dev.numa_node,
        target_node=dev.target_node,
        dev=dev.dev,
        memmap_on_memory=dev.memmap_on_memory,
        ranges=[_obj("dax_range", start=lo, end=hi - 1, size=hi - lo) for lo, hi in dev.ranges()],
        blocks_total=total,
        blocks_online=online,
    )


def _namespace_json(
    ns: "Namespace", dev: Optional["DaxDevice"], counts: Mapping[str, tuple[int, int]]
) -> dict[str, Any]:
    return _obj(
        "namespace",
        name=ns.name,
        path=ns.path,
        mode=ns.mode.value,
        size=ns.size,
        usable_size=ns.usable_size,
        uuid=ns.uuid,
        holder_uuid=ns.holder_uuid,
        alt_name=ns.alt_name,
        holder=ns.holder,
        blockdev=ns.blockdev,
        sector_size=ns.sector_size,
        align=ns.align,
        enabled=ns.enabled,
        idle=ns.is_seed_idle,
        resource=ns.resource,
        numa_node=ns.numa_node,
        target_node=ns.target_node,
        dax_device=None if dev is None else dax_json(dev, counts),
    )


def _region_json(region: "Region", namespaces: list[dict[str, Any]]) -> dict[str, Any]:
    return _obj(
        "region",
        name=region.name,
        id=region.id,
        path=region.path,
        type=region.type,
        size=region.size,
        available_size=region.available_size,
        max_available_extent=region.max_available_extent,
        align=region.align,
        numa_node=region.numa_node,
        target_node=region.target_node,
        resource=region.resource,
        persistence_domain=region.persistence_domain,
        read_only=region.read_only,
        enabled=region.enabled,
        mappings=[
            _obj("region_mapping", dimm=m.dimm, offset=m.offset, length=m.length, position=m.position)
            for m in region.mappings
        ],
        namespaces=namespaces,
    )


def list_json(view: "ListView", flt: "ListFilter") -> dict[str, Any]:
    topo = view.topology
    counts = dax_block_counts(topo)
    buses = [
        _obj(
            "bus",
            name=bv.bus.name,
            path=bv.bus.path,
            provider=bv.bus.provider,
            dimms=list(bv.bus.dimms),
            regions=[
                _region_json(rv.region, [_namespace_json(ns, dev, counts) for ns, dev in rv.namespaces])
                for rv in bv.regions
            ],
        )
        for bv in view.buses
    ]
    return envelope(
        "list",
        "list",
        topo.sysroot,
        filters=_obj(
            "list_filters",
            bus=flt.bus,
            region=flt.region,
            namespace=flt.namespace,
            device=flt.device,
            mode=flt.mode,
        ),
        buses=buses,
        standalone_dax_devices=[dax_json(d, counts) for d in view.standalone],
        policy=policy_json(topo.policy),
    )


# --------------------------------------------------------------------------
# blocks


def _range_json(r: "BlockRange", bs: int) -> dict[str, Any]:
    return _obj(
        "block_range",
        first_block=r.first,
        last_block=r.last,
        blocks=r.count,
        start=r.start(bs),
        end=r.end(bs),
        size=r.count * bs,
        state=r.state.value,
        zones=None if r.zones is None else zone_names(r.zones),
        removable=r.removable,
        node=r.node,
        device=r.device,
    )


def blocks_json(
    view: "BlocksView", *, device: Optional[str], node: Optional[int], state: Optional[str]
) -> dict[str, Any]:
    bs = view.block_size
    return _blocks_envelope(view, [_range_json(r, bs) for r in view.ranges], device=device, node=node, state=state)


def _blocks_envelope(
    view: "BlocksView", ranges: list[dict[str, Any]], *, device: Optional[str], node: Optional[int],
    state: Optional[str],
) -> dict[str, Any]:
    online_blocks = sum(r.count for r in view.ranges if r.state.value == "online")
    offline_blocks = sum(r.count for r in view.ranges) - online_blocks
    return envelope(
        "blocks",
        "blocks",
        view.topology.sysroot,
        block_size=view.block_size,
        columns=list(view.columns),
        per_block=view.per_block,
        filters=_obj("blocks_filters", device=device, node=node, state=state),
        ranges=ranges,
        totals=_obj(
            "block_totals",
            blocks_online=online_blocks,
            blocks_offline=offline_blocks,
            size_online=view.online_bytes,
            size_offline=view.offline_bytes,
        ),
    )


#: The block_range keys, in schema order (checked before streaming).
_RANGE_KEYS = ("first_block", "last_block", "blocks", "start", "end", "size", "state", "zones", "removable",
               "node", "device")
#: Records sit at depth 2 (envelope, ranges list): braces at 4 spaces, fields at 6.
_FIELD_SEP = ",\n      "
_RECORD_SEP = "}" + _FIELD_SEP + "{"  # between two records of one chunk: no string holds a raw newline
_RANGES_OPEN = '\n  "ranges": ['


def blocks_json_text(
    view: "BlocksView", *, device: Optional[str], node: Optional[int], state: Optional[str], chunk: int = 2048
) -> Iterator[str]:
    """The text ``json.dumps(blocks_json(...), indent=2, ensure_ascii=False) + "\n"``,
    byte for byte, in pieces, so the document is never held whole.

    The envelope is encoded once with an empty ``ranges``.  Records go
    ``chunk`` at a time through the C encoder (which ``indent`` never uses)
    with the indented document's field separator; the separators between
    records and the few distinct zone lists (stood in for by a token holding
    a NUL, which no sysfs name can) are then put in place with ``str.replace``."""
    bs = view.block_size
    head_text = json.dumps(_blocks_envelope(view, [], device=device, node=node, state=state),
                           indent=2, ensure_ascii=False) + "\n"
    pos = head_text.find(_RANGES_OPEN + "]")
    if not view.ranges or pos < 0 or _CHECKS["block_range"][0] != _RANGE_KEYS:
        yield json.dumps(blocks_json(view, device=device, node=node, state=state), indent=2, ensure_ascii=False) + "\n"
        return
    _range_json(view.ranges[0], bs)  # the schema check, once
    cut = pos + len(_RANGES_OPEN)
    yield head_text[:cut] + "\n"
    encode = json.JSONEncoder(ensure_ascii=False, separators=(_FIELD_SEP, ": "), check_circular=False).encode
    tokens: dict[tuple[str, ...], str] = {}
    replacements: list[tuple[str, str]] = []
    ranges = view.ranges
    for lo in range(0, len(ranges), chunk):
        rows = []
        for r in ranges[lo:lo + chunk]:
            zones: Any = r.zones
            if zones:
                token = tokens.get(zones)
                if token is None:
                    token = tokens[zones] = f"\0z{len(tokens)}"
                    replacements.append((json.dumps(token), "[\n        " + ",\n        ".join(
                        json.dumps(z, ensure_ascii=False) for z in zone_names(zones)) + "\n      ]"))
                zones = token
            elif zones is not None:
                zones = []
            count = r.last - r.first + 1
            rows.append({"first_block": r.first, "last_block": r.last, "blocks": count, "start": r.first * bs,
                         "end": (r.last + 1) * bs - 1, "size": count * bs, "state": r.state.value,
                         "zones": zones, "removable": r.removable, "node": r.node, "device": r.device})
        text = encode(rows)[2:-2].replace(_RECORD_SEP, "\n    },\n    {\n      ")
        for token_json, zones_json in replacements:
            text = text.replace(token_json, zones_json)
        yield "    {\n      " + text + ("\n    }\n" if lo + chunk >= len(ranges) else "\n    },\n")
    yield "  ]" + head_text[cut + 1:]


# --------------------------------------------------------------------------
# topology


def _access_json(a: Optional["AccessClass"]) -> Optional[dict[str, Any]]:
    if a is None:
        return None
    return _obj(
        "access",
        initiators=list(a.initiators),
        read_latency_ns=a.read_latency,
        write_latency_ns=a.write_latency,
        read_bandwidth_mib_s=a.read_bandwidth,
        write_bandwidth_mib_s=a.write_bandwidth,
    )


def topology_json(view: "TopologyView") -> dict[str, Any]:
    topo = view.topology
    nodes = [
        _obj(
            "node",
            id=n.id,
            path=n.path,
            kind=n.kind.value,
            cpus=list(n.cpus),
            mem_total=n.mem_total,
            mem_free=n.mem_free,
            blocks_total=n.blocks_total,
            blocks_online=n.blocks_online,
            zone_blocks={z.lower(): count for z, count in n.zone_blocks.items()},
            memory_tier=n.memory_tier,
            dax_devices=list(n.dax_devices),
            has_memory=n.has_memory,
            has_normal_memory=n.has_normal_memory,
            distances={str(k): v for k, v in sorted(n.distances.items())},
            access0=_access_json(n.access0),
            access1=_access_json(n.access1),
            evidence=list(n.evidence),
        )
        for n in view.nodes
    ]
    nl = view.node_lists
    return envelope(
        "topology",
        "topology",
        topo.sysroot,
        possible_nodes=list(topo.possible_nodes),
        nodes=nodes,
        tiers=[_obj("tier", id=t.id, path=t.path, nodes=list(t.nodes), adistance_min=tier_adistance(t.id)[0],
                    adistance_max=tier_adistance(t.id)[1]) for t in topo.tiers],
        weighted_interleave=None if view.interleave is None else _obj(
            "weighted_interleave", path=view.interleave.path,
            weights={str(n): w for n, w in view.interleave.weights}, auto=view.interleave.auto),
        node_lists=_obj("node_lists", dram=nl.dram, pmem=nl.pmem, cxl=nl.cxl, all_memory=nl.all_memory),
        policy=policy_json(topo.policy),
        warnings=list(view.warnings),
    )


# --------------------------------------------------------------------------
# sim list


def sim_list_json(sysroot: str, scenarios: Iterable[Any]) -> dict[str, Any]:
    """``scenarios``: :class:`pmemctl.sim.scenario.ScenarioInfo` records."""
    return envelope(
        "sim_list",
        "sim list",
        sysroot,
        scenarios=[
            _obj(
                "scenario",
                name=s.name,
                summary=s.summary,
                params=[
                    _obj("scenario_param", name=p.name, help=p.help, default=p.default, choices=list(p.choices))
                    for p in s.params
                ],
            )
            for s in scenarios
        ],
    )


# --------------------------------------------------------------------------
# namespace plan, sim record


def _plan_option(blocks: int, block_size: int, namespace_size: int) -> dict[str, Any]:
    return _obj("namespace_plan_option", blocks=blocks, system_ram=blocks * block_size, namespace_size=namespace_size)


def namespace_plan_json(sysroot: str, result: Any) -> dict[str, Any]:
    """``result``: :class:`pmemctl.ops.sizes.SizePlan` (the plan, the
    region, its geometry and the command line that carries it out)."""
    p, geo = result.plan, result.geometry
    return envelope(
        "namespace_plan", "namespace plan", sysroot,
        region=result.region.name, system_ram=p.ram, block_size=p.block_size, blocks=p.blocks, exact=p.exact,
        namespace_size=p.ns_size, usable_size=p.usable, first_block=p.first_block, start=p.start, align=p.align,
        region_max_available_extent=geo.available, region_align=geo.align, interleave_ways=geo.ways,
        nearest=[_plan_option(n, p.block_size, size) for n, size in p.nearest],
        most=None if p.most is None else _plan_option(p.most[0], p.block_size, p.most[1]),
        problem=p.problem, command_line=result.command,
    )


def target_states_json(machine_state: Any) -> list[dict[str, Any]]:
    """The structured twin of ``machine_state`` sentences
    (:class:`pmemctl.ops.outcome.MachineState`); ``[]`` for plain sentences."""
    return [_obj("target_state", kind=t.kind, name=t.name, present=t.present, driver=t.driver, mode=t.mode,
                 first_block=t.first_block, last_block=t.last_block, state=t.state)
            for t in getattr(machine_state, "targets", ())]


def sim_conditions_json(sysroot: str, conditions: Iterable[Any]) -> dict[str, Any]:
    """``conditions``: :class:`pmemctl.sim.conditions.Condition` records."""
    return envelope("sim_conditions", "sim conditions", sysroot, conditions=[
        _obj("sim_condition", name=c.name, value=c.value, help=c.help) for c in conditions])


def sim_record_json(sysroot: str, recording: Mapping[str, Any]) -> dict[str, Any]:
    """``recording``: :meth:`pmemctl.sim.record.Recording.to_dict`."""
    return envelope("sim_record", "sim record", sysroot, recording=_obj("recording", **recording))


# --------------------------------------------------------------------------
# documentation


def schema_markdown() -> str:
    """The schema as Markdown (README section body; also used for the man page)."""
    out = [
        f"Every read command and every command that changes the machine takes `--json` and "
        f"prints one object, schema version {SCHEMA_VERSION}. Rules:",
        "",
        "- The top level always starts with `schema_version`, `command` and `sysroot` (an absolute path).",
        "- Every object of a kind has exactly the keys listed below, every time: unknown or",
        "  absent values are `null`, empty collections are `[]`/`{}`, never a missing key.",
        "- Sizes, addresses and offsets are integers in bytes; `end` is the last byte",
        "  (inclusive). Latencies are ns, bandwidths MiB/s.",
        "- Enumerations are lower-case strings (`online`, `system-ram`, `dram`). Where a key",
        "  lists its values (\"one of ...\"), the set is closed: no other value is printed.",
        "- Maps keyed by a node id use the id as a string (`\"distances\": {\"0\": 10}`).",
        "- Adding a key is compatible; renaming or removing one, or changing a type,",
        "  bumps `schema_version`.",
        "- A command given `--json` that fails (refused, not found, bad usage...) prints",
        "  an `error_document` instead of its own: the same first three keys, then",
        "  `error`. Stdout always holds exactly one JSON object.",
    ]
    out += ["- `number` is a JSON number that may have a fraction (`seconds`); every other number is an `int`.",
            "- The changes between versions are listed under \"JSON schema changelog\" below."]
    for spec in _SPECS:
        out += ["", f"#### `{spec.kind}` — {spec.where}", "", "| key | type | meaning |", "|---|---|---|"]
        for key, typ, meaning in spec.rows():
            cells = (f"`{key}`", f"`{typ}`", meaning)
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")  # GFM: \| inside a cell
    return "\n".join(out) + "\n"


def changelog_markdown() -> str:
    """The README's "JSON schema changelog": every change, old and new form."""
    out = ["Every change of a key, a value's type or a value's spelling, newest version first. "
           "A consumer reads `schema_version` first; keys added within a version are not listed."]
    for version, changes in reversed(CHANGELOG):
        out += ["", f"#### Version {version} (from {version - 1})", "", "| where | before | after |", "|---|---|---|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in changes]
    return "\n".join(out) + "\n"
