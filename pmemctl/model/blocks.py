"""Memory blocks read as columns: the block walk of ``blocks`` and discovery.

A big machine has 196,608 blocks and a handful of distinct attribute values
across them, so the walk is shaped around that (issue 14):

* the block and node listings are matched in one regular-expression pass
  over the joined names (no Python work per entry);
* node membership comes from one readdir per node directory (its memoryN
  links), not one per block directory as lsmem scans them;
* only the attributes the caller asks for are read, all of one block in one
  pass through the door's bulk read (:meth:`SysfsRoot.read_table`);
* each distinct text is parsed once, and the columns are mapped in C;
* no per-block record is built unless asked for (:meth:`BlockTable.records`).

Attribute formats: Documentation/ABI/testing/sysfs-devices-memory
(kernel-abi.md §4).
"""

from __future__ import annotations

import bisect
import re
from typing import Callable, Iterable, Optional, TypeVar

from pmemctl.errors import BadAttribute
from pmemctl.model.records import BlockState, DaxDevice, MemoryBlock
from pmemctl.model.zoneinfo import ZoneInfo
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import parse_bool01, parse_zones

T = TypeVar("T")

#: memoryN names in a listing joined by newlines (matched in C).
MEMORY_LINE_RE = re.compile(r"^memory(\d+)$", re.M)
_NODE_DIR_RE = re.compile(r"^node(\d+)$")
_STATE_BY_TEXT = {s.value: s for s in BlockState}


class BlockTable:
    """Memory blocks as parallel columns, sorted by index: position ``i`` of
    every list is one block.  A field not read is None in every row.  (A
    plain class: no dataclass decoration on the start-up path.)"""

    __slots__ = ("indexes", "states", "zones", "removable", "nodes", "devices")

    def __init__(self, indexes: list[int], states: list[BlockState], zones: list[Optional[tuple[str, ...]]],
                 removable: list[Optional[bool]], nodes: list[Optional[int]], devices: list[Optional[str]]) -> None:
        self.indexes = indexes
        self.states = states
        self.zones = zones
        self.removable = removable
        self.nodes = nodes
        self.devices = devices

    def __len__(self) -> int:
        return len(self.indexes)

    def records(self) -> list[MemoryBlock]:
        """One MemoryBlock per row."""
        return list(map(MemoryBlock, self.indexes, self.states, self.zones, self.removable, self.nodes,
                        self.devices))

    def where(self, keep: list[bool]) -> "BlockTable":
        """The rows whose ``keep`` is true."""
        def pick(column: list[T]) -> list[T]:
            return [v for v, k in zip(column, keep, strict=True) if k]

        return BlockTable(pick(self.indexes), pick(self.states), pick(self.zones), pick(self.removable),
                          pick(self.nodes), pick(self.devices))


def block_indexes(door: SysfsRoot) -> list[int]:
    """The memoryN directories of /sys/devices/system/memory, sorted."""
    found = MEMORY_LINE_RE.findall("\n".join(door.listdir(paths.MEMORY)))
    return sorted(map(int, found))


def node_links(door: SysfsRoot, nodes: Iterable[int]) -> dict[int, int]:
    """Block index → node, from the node directories' memoryN links (one readdir per node)."""
    out: dict[int, int] = {}
    for nid in nodes:
        found = MEMORY_LINE_RE.findall("\n".join(door.listdir(paths.node_dir(nid))))
        out.update(dict.fromkeys(map(int, found), nid))
    return out


def block_nodes(door: SysfsRoot, nodes: Iterable[int], indexes: list[int],
                links: Optional[dict[int, int]] = None) -> dict[int, int]:
    """Block index → node, from one readdir per node (nodeK/memoryN links;
    ``links``: those already listed).

    lsmem opens every memoryN directory to find its nodeK link; listing the
    node directories instead costs one readdir per node.  Blocks not found
    there (kernels without the node links) fall back to their own nodeK link.
    """
    out = dict(links) if links is not None else node_links(door, nodes)
    if len(out) < len(indexes):
        for idx in indexes:
            if idx in out:
                continue
            for entry in door.listdir(paths.memory_block(idx)):
                m = _NODE_DIR_RE.match(entry)
                if m:
                    out[idx] = int(m.group(1))
                    break
    return out


#: Subdirectories of /sys/devices/system/memory other than the blocks.
MEMORY_OTHER_SUBDIRS = ("power",)


def memory_block_count(door: SysfsRoot) -> Optional[int]:
    """How many memoryN directories /sys/devices/system/memory holds, from
    its link count without listing it (kernfs and tmpfs count 2 +
    subdirectories); None where that is unknown (ext4 past 65,000
    subdirectories, btrfs)."""
    subdirs = door.subdir_count(paths.MEMORY)
    if subdirs is None:
        return None
    return subdirs - sum(door.exists(f"{paths.MEMORY}/{d}") for d in MEMORY_OTHER_SUBDIRS)


def walk_indexes(door: SysfsRoot, nodes: Iterable[int], with_nodes: bool) -> tuple[list[int], Optional[dict[int, int]]]:
    """The blocks to walk, sorted, and (``with_nodes``) block → node.

    With the nodes wanted, the node directories are listed first: where they
    link as many blocks as /sys/devices/system/memory has subdirectories,
    they link every block, and that directory (one entry per block) need
    not be listed as well."""
    if not with_nodes:
        return block_indexes(door), None
    links = node_links(door, nodes)
    if links and len(links) == memory_block_count(door):
        return sorted(links), links
    indexes = block_indexes(door)
    return indexes, block_nodes(door, nodes, indexes, links)


def _parse_column(raw: list[Optional[str]], indexes: list[int], parser: Callable[[str], T], attr: str,
                  expected: str) -> list[Optional[T]]:
    """Parse one attribute of every block: each distinct text once, then a
    dictionary lookup per block (in C)."""
    parsed: dict[Optional[str], Optional[T]] = {None: None}
    for text in set(raw):
        if text is None:
            continue
        try:
            parsed[text] = parser(text)
        except (ValueError, KeyError) as err:
            idx = indexes[raw.index(text)]
            raise BadAttribute(f"{paths.memory_block(idx)}/{attr}", text, expected) from err
    return list(map(parsed.__getitem__, raw))


def _parse_state(text: str) -> BlockState:
    return _STATE_BY_TEXT[text.strip()]


def _owners(indexes: list[int], block_size: Optional[int], devices: Iterable[DaxDevice]) -> list[Optional[str]]:
    """The dax device owning each block: the one whose range holds the block's
    start (N × block size; N == phys_index, drivers/base/memory.c;
    kernel-abi.md §4.2).  A range's slice of the sorted indexes is found by
    bisection, so the cost is per range, not per block."""
    owners: list[Optional[str]] = [None] * len(indexes)
    if not block_size:
        return owners
    spans = sorted((lo, hi, dev.name) for dev in devices for lo, hi in dev.ranges())
    for k, (lo, hi, name) in enumerate(spans):
        # a block belongs to the last range starting at or before its start
        stop = min(hi, spans[k + 1][0]) if k + 1 < len(spans) else hi
        if stop <= lo:
            continue
        first = bisect.bisect_left(indexes, -(-lo // block_size))
        last = bisect.bisect_left(indexes, -(-stop // block_size))
        owners[first:last] = [name] * (last - first)
    return owners


#: the kernel's release, and a parameter of memory_hotplug that Linux 5.15 added
#: (mm/memory_hotplug.c, "auto-movable" online policy): either tells a kernel
#: that prints one ``removable`` for every block
_OSRELEASE = "/proc/sys/kernel/osrelease"
_SINCE_5_15 = f"{paths.MEMORY_HOTPLUG_PARAMS}/online_policy"


def removable_is_constant(door: SysfsRoot) -> bool:
    """Whether this kernel shows the same ``removable`` for every block.

    Since Linux 5.7 (commit 53cdc1cb29e8, "indicate all memory blocks as
    removable") removable_show() prints IS_ENABLED(CONFIG_MEMORY_HOTREMOVE):
    the same for every block, documented as legacy
    (Documentation/ABI/testing/sysfs-devices-memory).  Known from the
    release in /proc/sys/kernel/osrelease, or where a tree has none, from
    memory_hotplug's ``online_policy`` parameter (5.15+).  False otherwise:
    an older kernel's per-block heuristic is read block by block."""
    release = door.read_optional(_OSRELEASE)
    m = re.match(r"(\d+)\.(\d+)", release.strip()) if release else None
    if m:
        return (int(m.group(1)), int(m.group(2))) >= (5, 7)
    return door.exists(_SINCE_5_15)


def _sample_removable(door: SysfsRoot, first: str) -> Optional[str]:
    """The ``removable`` text of every block, from the block directory
    ``first`` when it says "1" on a kernel that shows every block the same
    (:func:`removable_is_constant`); None (read each block) otherwise: a
    "0" there is a kernel without memory hot-remove, and each block is read
    to show it (issue 14: one file fewer per block offlined or walked)."""
    return _removable_of_every_block(door, first) if removable_is_constant(door) else None


def _removable_of_every_block(door: SysfsRoot, first: str) -> Optional[str]:
    """What block ``first``'s ``removable`` reads when it is "1" (on a kernel
    that shows every block the same: every block's); else None."""
    text = door.read_optional(f"{paths.MEMORY}/{first}/removable")
    return text if text == "1" else None


def _zones_from_spans(zone_info: ZoneInfo, node_of: dict[int, int], block_size: int, indexes: list[int],
                      positions: list[int]) -> tuple[list[Optional[str]], list[int]]:
    """The valid_zones text of the online blocks at ``positions`` that
    /proc/zoneinfo's spans place in one zone (the name, as valid_zones
    reads for an online block), and the positions still to read."""
    column: list[Optional[str]] = [None] * len(indexes)
    rest: list[int] = []
    runs: dict[int, list[tuple[int, int, str]]] = {}
    for pos in positions:
        idx = indexes[pos]
        node = node_of.get(idx)
        if node is not None:
            if node not in runs:
                runs[node] = zone_info.sole_zones(node, block_size)
            for first, end, zone in runs[node]:
                if first <= idx < end:
                    column[pos] = zone
                    break
            else:
                rest.append(pos)
        else:
            rest.append(pos)
    return column, rest


def read_block_table(
    door: SysfsRoot,
    indexes: list[int],
    block_size: Optional[int],
    devices: Iterable[DaxDevice],
    nodes: Iterable[int],
    fields: frozenset[str],
    node_of: Optional[dict[int, int]] = None,
    detail_device: Optional[str] = None,
    zone_info: Optional[ZoneInfo] = None,
) -> BlockTable:
    """Read the blocks ``indexes`` (a vanished one is left out): their state
    and the ``fields`` asked for ("zones", "online_zones": valid_zones of
    online blocks only, "removable", "online_removable", "sampled_removable":
    see :func:`_sample_removable`, "node", "device").
    ``node_of``: block → node already read from the node directories (else
    listed here).  ``detail_device``: the attributes other than state are read
    only for that dax device's blocks (the others' are None); ignored unless
    it owns a block and "device" is among ``fields``.  ``zone_info``: with
    ``node_of`` and "online_zones", an online block inside one zone's span
    alone is in that zone, and its valid_zones is not read
    (:meth:`ZoneInfo.sole_zones`; issue 14: one file fewer per block offlined)."""
    devices = list(devices)
    dirs = [f"memory{i}" for i in indexes]
    detailing = detail_device is not None and "device" in fields
    attrs = ["state"]
    if "zones" in fields and not detailing:
        attrs.append("valid_zones")
    # every block's removable: sampled from one block where the kernel shows
    # all the same (below), else read with the state
    sample_every = "removable" in fields and not detailing and bool(indexes) and removable_is_constant(door)
    if "removable" in fields and not detailing and not sample_every:
        attrs.append("removable")
    columns = dict(zip(attrs, door.read_table(paths.MEMORY, dirs, attrs), strict=True))
    raw_states = columns["state"]
    if None in raw_states:  # blocks that vanished between readdir and read (hot-remove race)
        keep = [s is not None for s in raw_states]
        indexes = [i for i, k in zip(indexes, keep, strict=True) if k]
        dirs = [d for d, k in zip(dirs, keep, strict=True) if k]
        columns = {a: [v for v, k in zip(col, keep, strict=True) if k] for a, col in columns.items()}
        raw_states = columns["state"]
    states: list[BlockState] = _parse_column(raw_states, indexes, _parse_state, "state",  # type: ignore[assignment]
                                             "online, offline or going-offline")
    none: list[None] = [None] * len(indexes)
    owners = _owners(indexes, block_size, devices) if "device" in fields else list(none)
    detailed = [o == detail_device for o in owners] if detailing and detail_device in owners else None

    def chosen(every: str) -> list[int]:
        """Positions of the blocks whose attribute is read: every block for
        field ``every``, else the online ones; limited to ``detail_device``'s."""
        return [pos for pos, st in enumerate(states)
                if (every in fields or st is BlockState.ONLINE) and (detailed is None or detailed[pos])]

    # the attributes still to read (attr -> its field for every block), grouped
    # by the blocks they are read for, each group in one batched read_table
    wanted = {attr: every for attr, every, online_only in
              (("valid_zones", "zones", "online_zones"), ("removable", "removable", "online_removable"))
              if attr not in columns and (every in fields or online_only in fields)}
    if sample_every and indexes:
        sampled_all = _removable_of_every_block(door, dirs[0])
        if sampled_all is not None:
            columns["removable"] = [sampled_all] * len(indexes)
            wanted.pop("removable", None)
    if "removable" not in wanted and "removable" not in columns and "sampled_removable" in fields:
        online_positions = chosen("removable")  # ("removable" is not asked for:) the online blocks (of detail_device)
        sampled = _sample_removable(door, dirs[online_positions[0]]) if online_positions else None
        if sampled is not None:
            column: list[Optional[str]] = list(none)
            for pos in online_positions:
                column[pos] = sampled
            columns["removable"] = column
        else:
            wanted["removable"] = "removable"  # each online block's
    positions_of = {attr: chosen(every) for attr, every in wanted.items()}
    if wanted.get("valid_zones") == "zones" and "zones" not in fields and zone_info is not None \
            and node_of is not None and block_size:
        columns["valid_zones"], positions_of["valid_zones"] = _zones_from_spans(
            zone_info, node_of, block_size, indexes, positions_of["valid_zones"])
    groups: dict[tuple[int, ...], list[str]] = {}
    for attr, at in positions_of.items():
        groups.setdefault(tuple(at), []).append(attr)
    for group_at, group in groups.items():
        read = door.read_table(paths.MEMORY, [dirs[pos] for pos in group_at], group)
        for attr, texts in zip(group, read, strict=True):
            if len(group_at) == len(indexes):
                columns[attr] = texts
                continue
            out: list[Optional[str]] = columns.get(attr) or list(none)
            for pos, text in zip(group_at, texts, strict=True):
                out[pos] = text
            columns[attr] = out

    raw_zones = columns.get("valid_zones")
    zones = none if raw_zones is None else _parse_column(raw_zones, indexes, parse_zones, "valid_zones",
                                                         "zone names")
    raw_removable = columns.get("removable")
    removable = none if raw_removable is None else _parse_column(raw_removable, indexes, parse_bool01,
                                                                 "removable", "0 or 1")
    node_list: list[Optional[int]] = list(none)
    if "node" in fields:
        links = node_of if node_of is not None else block_nodes(door, nodes, indexes)
        node_list = list(map(links.get, indexes))
    return BlockTable(indexes, states, zones, removable, node_list, owners)  # type: ignore[arg-type]
