"""Memory blocks, zones, nodes and tiers of the simulated kernel (kernel-abi.md §7.1-§7.4).

:class:`MemoryBlocks` answers writes to ``memoryN/state`` and
``memoryN/online`` (state transitions, zones, ``valid_zones`` of the other
offline blocks), ``auto_online_blocks`` and ``demotion_enabled``, and keeps
what follows from a block changing state: node and /proc meminfo, node masks,
memory tiers.  It also hot-adds and hot-removes blocks for kmem
(:mod:`.dax`), bringing memory-only nodes online and offline with them.
"""

from __future__ import annotations

import errno
import os
import re
import time
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence

from pmemctl.sim import layout, objects
from pmemctl.sim.kernel.context import SimContext
from pmemctl.sim.kernel.errors import WriteRefused, kstrtobool
from pmemctl.sim.kernels import profile_for_release
from pmemctl.sim.machine import MachineSpec
from pmemctl.sim.objects import kernel_attrs
from pmemctl.sim.tree import MODE_RO, MODE_RW, TreeWriter
from pmemctl.sysfs import paths
from pmemctl.units import parse_cpulist

_BLOCK_ATTR_RE = re.compile(r"^/sys/devices/system/memory/memory(\d+)/(state|online)$")
_ONLINE_VALUES = ("online", "online_kernel", "online_movable")
#: what a write to ``memoryN/state`` may ask for (anything else: EINVAL)
_STATE_REQUESTS = frozenset((*_ONLINE_VALUES, "offline"))
#: a block's ``online`` and ``state`` files by its state (``valid_zones`` goes with them)
_ONLINE_FILES = (("online", b"1\n", MODE_RW), ("state", b"online\n", MODE_RW))
_OFFLINE_FILES = (("state", b"offline\n", MODE_RW), ("online", b"0\n", MODE_RW))
_AUTO_ONLINE_VALUES = ("offline", "online", "online_kernel", "online_movable")


@dataclass
class NodeBlocks:
    """Cached view of one node's blocks, kept in step with our own writes."""

    node: int
    state: dict[int, tuple[bool, str]]  # index -> (online, valid_zones text)
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # zone -> byte span
    online_kb: int = 0  # KiB present in the online blocks
    online_count: int = 0
    kernel_count: int = 0  # online blocks in a kernel zone (not Movable)
    zone_bytes: dict[str, int] = field(default_factory=dict)  # zone -> bytes present (/proc/zoneinfo)

    def account_whole(self, zone: str, nbytes: int, sign: int) -> None:
        """:meth:`account` of a block present whole in one zone (hot-added memory)."""
        self.online_kb += sign * (nbytes // 1024)
        self.online_count += sign
        if zone != "Movable":
            self.kernel_count += sign
        self.zone_bytes[zone] = self.zone_bytes.get(zone, 0) + sign * nbytes

    def account(self, present: Mapping[str, int], zone: str, sign: int) -> None:
        """Count an online block in (``sign`` +1) or out (-1); ``present``:
        its bytes present per zone (:func:`block_zone_bytes`)."""
        self.online_kb += sign * (sum(present.values()) // 1024)
        self.online_count += sign
        if zone != "Movable":
            self.kernel_count += sign
        for z, n in present.items():
            self.zone_bytes[z] = self.zone_bytes.get(z, 0) + sign * n


def _only_block_moved(small: Optional[tuple[int, int]], large: Optional[tuple[int, int]], lo: int, hi: int) -> bool:
    """Whether the zone span ``large`` is ``small`` (None: no span) plus
    the block ``[lo, hi)`` alone, at one of its edges: a block going online
    at a zone's edge, or offline from it.  Then no other block's
    ``valid_zones`` changes (only blocks that meet a moved part of a span do)."""
    if large is None:
        return False
    if small is None:
        return large == (lo, hi)
    return (large[0] == lo and small[0] == hi and large[1] == small[1]) or (
        large[1] == hi and small[1] == lo and large[0] == small[0])


# --------------------------------------------------------------------------
# /proc/zoneinfo (mm/vmstat.c zoneinfo_show): every zone of every online
# node, populated or not; a populated zone adds its counters, pagesets and
# start_pfn; the node's own counters follow the head of its first populated zone.

#: The zones of an x86-64 node, in the kernel's order (ZONE_DEVICE last).
ZONEINFO_ZONES = ("DMA", "DMA32", "Normal", "Movable", "Device")
_ZONE_LIMITS = {"DMA": (0, layout.DMA_END), "DMA32": (layout.DMA_END, layout.DMA32_END),
                "Normal": (layout.DMA32_END, 1 << 64)}
_NODE_STATS = ("nr_inactive_anon", "nr_active_anon", "nr_inactive_file", "nr_active_file", "nr_unevictable",
               "nr_anon_pages", "nr_mapped", "nr_file_pages", "nr_dirty", "nr_writeback", "nr_shmem")
_ZONE_STATS = ("nr_free_pages", "nr_zone_inactive_anon", "nr_zone_active_anon", "nr_zone_inactive_file",
               "nr_zone_active_file", "nr_zone_unevictable", "nr_zone_write_pending", "nr_mlock", "nr_bounce",
               "nr_free_cma")


def block_zone_bytes(zone: str, lo: int, hi: int, dram: Iterable[tuple[int, int]]) -> dict[str, int]:
    """Bytes present per zone in the online block ``[lo, hi)`` whose zone is
    ``zone``: a boot block counts the DRAM inside it (holes), a hot-added block
    counts whole; a block spanning zones (``none``) splits by the zones'
    address ranges."""
    boot = [(max(lo, a), min(hi, b)) for a, b in dram if min(hi, b) > max(lo, a)]
    if zone != "none":
        return {zone: sum(b - a for a, b in boot) if boot else hi - lo}
    out: dict[str, int] = {}
    for z, limits in _ZONE_LIMITS.items():
        n = sum(layout.overlap(r, limits) for r in boot) if boot else layout.overlap((lo, hi), limits)
        if n:
            out[z] = n
    return out


def format_zoneinfo_node(node_id: int, present: Mapping[str, int], spans: Mapping[str, tuple[int, int]],
                         page_size: int) -> str:
    """One node's part of /proc/zoneinfo: ``present`` bytes and the byte
    ``spans`` of its zones (a kernel zone's span clipped to its addresses)."""
    out: list[str] = []
    first = True
    for zone in ZONEINFO_ZONES:
        pages = present.get(zone, 0) // page_size
        lo, hi = spans.get(zone, (0, 0))
        if zone in _ZONE_LIMITS and hi > lo:
            lo, hi = max(lo, _ZONE_LIMITS[zone][0]), min(hi, _ZONE_LIMITS[zone][1])
        spanned = max(hi - lo, 0) // page_size
        out.append(f"Node {node_id}, zone {zone:>8}\n")
        if pages and first:
            first = False
            out.append("  per-node stats\n" + "".join(f"      {k:<12} 0\n" for k in _NODE_STATS))
        out.append(f"  pages free     {pages}\n        boost    0\n        min      0\n        low      0\n"
                   f"        high     0\n        spanned  {spanned}\n        present  {pages}\n"
                   f"        managed  {pages}\n        cma      0\n        protection: (0, 0, 0, 0, 0)\n")
        if not pages:
            continue
        out.append(f"      {_ZONE_STATS[0]:<12} {pages}\n" + "".join(f"      {k:<12} 0\n" for k in _ZONE_STATS[1:]))
        out.append("  pagesets\n    cpu: 0\n              count:    0\n              high:     0\n"
                   "              batch:    1\n  vm stats threshold: 4\n  node_unreclaimable:  0\n"
                   f"  start_pfn:           {lo // page_size}\n")
    return "".join(out)


def write_zoneinfo(tree: TreeWriter, parts: Iterable[str]) -> None:
    """/proc/zoneinfo from the online nodes' parts, in node order (/proc exists)."""
    tree.write_bytes(PROC_ZONEINFO, "".join(parts).encode())


PROC_ZONEINFO = "/proc/zoneinfo"


def machine_zoneinfo(tree: TreeWriter, machine: MachineSpec) -> None:
    """/proc/zoneinfo of a freshly built machine (its blocks as described)."""
    page = os.sysconf("SC_PAGE_SIZE")
    bs = machine.block_size
    dram = {n.id: n.dram for n in machine.nodes}
    online_nodes = set(machine.online_nodes())
    present: dict[int, dict[str, int]] = {n: {} for n in online_nodes}
    members: dict[int, list[tuple[str, int, int]]] = {n: [] for n in online_nodes}
    for b in machine.blocks:
        if not b.online or b.node not in present:
            continue
        lo, hi = b.index * bs, (b.index + 1) * bs
        for z, n in block_zone_bytes(b.zone, lo, hi, dram.get(b.node, ())).items():
            present[b.node][z] = present[b.node].get(z, 0) + n
        members[b.node].append((b.zone, lo, hi))
    tree.mkdir("/proc")
    write_zoneinfo(tree, (format_zoneinfo_node(nid, present[nid], layout.zone_spans(members[nid]), page)
                          for nid in sorted(online_nodes)))


class MemoryBlocks:
    """The memory hotplug subsystem over one :class:`SimContext`."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.tree = ctx.tree
        self._nodes: Optional[dict[int, NodeBlocks]] = None
        #: block index -> node, for the blocks seen so far
        self.node_of: dict[int, int] = {}
        self._last_masks: Optional[tuple[tuple[int, ...], tuple[int, ...]]] = None
        #: what this kernel last wrote: node -> (MemTotal, MemFree) KiB, the
        #: /proc/meminfo pair, node -> its /proc/zoneinfo part (a block write
        #: rewrites only what it changed)
        self._meminfo_written: dict[int, tuple[int, int]] = {}
        self._proc_meminfo_written: Optional[tuple[int, int]] = None
        self._zoneinfo_parts: dict[int, tuple[tuple[object, ...], str]] = {}
        self._zoneinfo_nodes: Optional[tuple[int, ...]] = None
        self._page_size = os.sysconf("SC_PAGE_SIZE")
        #: while a write is answered: node and /proc meminfo and /proc/zoneinfo wait (:meth:`refresh_node_totals`)
        self.held = False
        #: when (time.monotonic_ns) those files first went stale; None: they are as the blocks say
        self.stale_since: Optional[int] = None

    # ------------------------------------------------------------ block cache

    @property
    def loaded(self) -> bool:
        """Whether every block's state is cached (the first block write loads it)."""
        return self._nodes is not None

    def nodes(self) -> dict[int, NodeBlocks]:
        if self._nodes is None:
            # built whole before it is kept: an exception while loading (a
            # SIGALRM bounding the write that asked first) leaves no partial
            # cache behind, and the next write loads again
            loaded: dict[int, NodeBlocks] = {}
            try:
                for entry in self.tree.listdir(paths.NODE):
                    if entry.startswith("node") and entry[4:].isdigit():
                        node_id = int(entry[4:])
                        loaded[node_id] = self._load_node(node_id)
            except BaseException:
                self.node_of.clear()
                raise
            self._nodes = loaded
        return self._nodes

    def _load_node(self, node_id: int) -> NodeBlocks:
        indexes = objects.node_block_indexes(self.tree, node_id)
        rel_state = [f"memory{i}/state" for i in indexes]
        rel_zones = [f"memory{i}/valid_zones" for i in indexes]
        states = self.ctx.door.read_many(rel_state, paths.MEMORY)
        zones = self.ctx.door.read_many(rel_zones, paths.MEMORY)
        nb = NodeBlocks(node_id, {})
        bs = self.ctx.block_size
        for i, st, z in zip(indexes, states, zones, strict=True):
            if st is None:
                continue
            nb.state[i] = (st == "online", (z or "").strip())
            self.node_of[i] = node_id
        nb.spans = layout.zone_spans(
            (z, i * bs, (i + 1) * bs) for i, (on, z) in nb.state.items() if on
        )
        for i, (on, z) in nb.state.items():
            if on:
                nb.account(self._present(node_id, i, z), z, +1)
        return nb

    def _account(self, nb: NodeBlocks, index: int, zone: str, sign: int) -> None:
        """Count block ``index`` of ``zone`` in (+1) or out (-1) of its node's online memory."""
        if zone != "none" and not self.ctx.node_info(nb.node).dram:  # hot-added: the whole block (_present)
            nb.account_whole(zone, self.ctx.block_size, sign)
        else:
            nb.account(self._present(nb.node, index, zone), zone, sign)

    def _present(self, node_id: int, index: int, zone: str) -> dict[str, int]:
        """Bytes present per zone in an online block: a boot block counts only
        the DRAM inside it (holes), a hot-added block counts whole
        (objects.node_mem_total_kb)."""
        bs = self.ctx.block_size
        dram = self.ctx.node_info(node_id).dram
        if not dram and zone != "none":  # (hot-added memory: the whole block, block_zone_bytes's answer)
            return {zone: bs}
        return block_zone_bytes(zone, index * bs, (index + 1) * bs, dram)

    def _block_node(self, index: int) -> int:
        self.nodes()
        node = self.node_of.get(index)
        if node is None:
            found = objects.memory_block_node(self.tree, index)
            if found is None:
                raise WriteRefused(errno.ENOENT)
            node = found
        return node

    def is_online(self, index: int) -> bool:
        """Whether block ``index`` is online (False for a block not seen)."""
        nodes = self.nodes()
        nb = nodes.get(self.node_of.get(index, -1))
        return bool(nb is not None and nb.state.get(index, (False, ""))[0])

    # ------------------------------------------------------- memory blocks

    def block_write(self, target: str, text: str) -> None:
        m = _BLOCK_ATTR_RE.match(target)
        if m is None:  # other block attributes are read-only (the door refused) or plain
            self.ctx.store_plain(target, text)
            return
        index, attr = int(m.group(1)), m.group(2)
        node = self.node_of.get(index) if self._nodes is not None else None
        if node is None:
            node = self._block_node(index)
        nb = self.nodes()[node]
        online, zones_text = nb.state[index]
        if attr == "online":
            # kstrtobool; onlining an online block through "online" succeeds (kernel-abi.md §7.2)
            want = kstrtobool(text)
            if want == online:
                return
            request = "online" if want else "offline"
        else:
            request = text
            if request not in _STATE_REQUESTS:
                raise WriteRefused(errno.EINVAL)
            # device_online/offline return 1 when already there -> EINVAL
            if (request != "offline") == online:
                raise WriteRefused(errno.EINVAL)
        if request == "offline":
            self._offline_block(nb, index, zones_text)
        else:
            self._online_block(nb, index, request, zones_text)

    def _online_block(self, nb: NodeBlocks, index: int, request: str, zones_text: str, *, agent: bool = False) -> str:
        allowed = zones_text.split()
        if request == "online_movable":
            zone = "Movable"
        elif request == "online_kernel":
            zone = next((z for z in allowed if z in layout.KERNEL_ZONES), "")
        else:
            zone = allowed[0] if allowed else ""
        if not zone or zone not in allowed:
            raise WriteRefused(errno.EINVAL)
        if not agent:
            self.ctx.faults.check_online(index)
        bs = self.ctx.block_size
        self._set_block(index, online=True, valid_zones=zone)
        nb.state[index] = (True, zone)
        self._account(nb, index, zone, +1)
        spans = nb.spans
        old: Optional[dict[str, tuple[int, int]]] = None  # the spans before, when one grew
        lo_b, hi_b = index * bs, (index + 1) * bs
        for z in (zone,) if zone != "none" else layout.zones_of_online_block(zone, lo_b, hi_b):
            span = spans.get(z)
            grown = (lo_b, hi_b) if span is None else (min(span[0], lo_b), max(span[1], hi_b))
            if grown != span:
                if old is None and not _only_block_moved(span, grown, lo_b, hi_b):
                    old = dict(spans)
                spans[z] = grown
        self._after_change(nb, old, zone)
        return zone

    def _offline_block(self, nb: NodeBlocks, index: int, zones_text: str) -> None:
        if zones_text == "none":  # spans zones: cannot be offlined (drivers/base/memory.c)
            raise WriteRefused(errno.EINVAL)
        self.ctx.faults.check_offline(index)  # EBUSY, or never finishing, when injected
        bs = self.ctx.block_size
        zone = zones_text.split()[0] if zones_text else "Normal"  # (an online block has one zone, or none)
        nb.state[index] = (False, "")
        self._account(nb, index, zone, -1)
        spans = nb.spans
        before = spans.get(zone)
        self._shrink_span(nb, zone, index)
        old: Optional[dict[str, tuple[int, int]]] = None  # the spans before, when the zone's shrank
        after = spans.get(zone)
        if after != before and not _only_block_moved(after, before, index * bs, (index + 1) * bs):
            old = dict(spans)
            if before is not None:
                old[zone] = before
        vz = layout.offline_valid_zones(index * bs, (index + 1) * bs, spans, self.ctx.machine.movable_node)
        self._set_block(index, online=False, valid_zones=vz)
        nb.state[index] = (False, vz)
        self._after_change(nb, old, zone)

    def _set_block(self, index: int, *, online: bool, valid_zones: str) -> None:
        """A block's ``valid_zones``, ``online`` and ``state`` after a state
        change, in the order of :func:`objects.set_memory_block` (no reader
        sees an online block with an offline block's zone list); each is
        replaced whole by the file its value shares with other blocks
        (:data:`confined.SHARED_ATTRS`)."""
        zones = ("valid_zones", f"{valid_zones}\n".encode(), MODE_RO)
        if online:  # the zone first, then online and state
            self.tree.replace_block_attrs(index, (zones, *_ONLINE_FILES))
        else:  # state and online first, then the zone list
            self.tree.replace_block_attrs(index, (*_OFFLINE_FILES, zones))

    def _shrink_span(self, nb: NodeBlocks, zone: str, index: int) -> None:
        """A zone shrinks at its edges when memory leaves it (shrink_zone_span);
        a block leaving the middle of a span leaves the span as it is."""
        bs = self.ctx.block_size
        span = nb.spans.get(zone)
        if span is None:
            return
        lo, hi = span[0] // bs, span[1] // bs
        if lo < index < hi - 1:
            return

        def member(i: int) -> bool:
            st = nb.state.get(i)
            return st is not None and st[0] and st[1] == zone

        # walk in from each edge to the first block still in the zone, as the
        # kernel does (find_smallest/biggest_section_pfn): offlining a run
        # from its top edge costs one step a block, not the whole span
        first = lo
        while first < hi and not member(first):
            first += 1
        if first == hi:
            nb.spans.pop(zone, None)
            return
        last = hi - 1
        while not member(last):
            last -= 1
        nb.spans[zone] = (first * bs, (last + 1) * bs)

    def _after_change(self, nb: NodeBlocks, old_spans: Optional[dict[str, tuple[int, int]]], zone: str) -> None:
        """Everything derived from a block of ``zone`` changing state
        (``old_spans``: the node's zone spans before, None when none changed)."""
        if old_spans is not None and old_spans != nb.spans:
            self._refresh_offline_zones(nb, old_spans)
        # the node masks change only when the node's first online block (or
        # first in a kernel zone) comes or its last one goes
        masks = nb.online_count <= 1 or (zone != "Movable" and nb.kernel_count <= 1)
        if masks or self._last_masks is None or not self.held or self.stale_since is None:
            self.refresh_node_totals(masks=masks)
        # (otherwise there is nothing to do: the derived files are stale already
        # and wait for the door, the masks cannot have changed)

    def _refresh_offline_zones(self, nb: NodeBlocks, old_spans: dict[str, tuple[int, int]]) -> None:
        """Rewrite valid_zones of offline blocks where a zone span changed
        (the symmetric difference of old and new spans), not node-wide."""
        bs = self.ctx.block_size
        changed: list[tuple[int, int]] = [a for z, a in old_spans.items() if z not in nb.spans]
        for z, b in nb.spans.items():
            a = old_spans.get(z)
            if a == b:
                continue
            if a is None:
                changed.append(b)
                continue
            # symmetric difference of two intervals: the moved edges only
            if a[0] != b[0]:
                changed.append((min(a[0], b[0]), max(a[0], b[0])))
            if a[1] != b[1]:
                changed.append((min(a[1], b[1]), max(a[1], b[1])))
        movable_node = self.ctx.machine.movable_node
        seen: set[int] = set()
        for lo_b, hi_b in changed:
            for i in range(lo_b // bs, -(-hi_b // bs)):
                if i in seen:
                    continue
                seen.add(i)
                cur = nb.state.get(i)
                if cur is None or cur[0]:
                    continue
                vz = layout.offline_valid_zones(i * bs, (i + 1) * bs, nb.spans, movable_node)
                if vz != cur[1]:
                    self.tree.replace_block_attrs(i, (("valid_zones", f"{vz}\n".encode(), MODE_RO),))
                    nb.state[i] = (False, vz)

    # --------------------------------------------------- hot-add, hot-remove

    def hot_add(self, node_id: int, indexes: Sequence[int], *, auto_online: bool = True) -> None:
        """add_memory_driver_managed for kmem: the blocks appear offline on
        ``node_id`` (which comes online first if it was not), then the kernel
        (``auto_online_blocks``) or another agent (an injected udev rule)
        onlines them.  ``auto_online`` False: neither (the proposed
        ``daxX.Y/state`` onlines them itself, :mod:`.dax_state`)."""
        bs = self.ctx.block_size
        nodes = self.nodes()
        if node_id not in nodes:
            self._node_online(node_id)
        nb = nodes[node_id]
        policy = (self.ctx.read_optional(paths.AUTO_ONLINE_BLOCKS) or "offline").strip() if auto_online else "offline"
        movable_node = self.ctx.machine.movable_node
        for i in indexes:
            vz = layout.offline_valid_zones(i * bs, (i + 1) * bs, nb.spans, movable_node)
            objects.add_memory_block(self.tree, i, node_id, online=False, valid_zones=vz)
            nb.state[i] = (False, vz)
            self.node_of[i] = node_id
        if policy != "offline":
            for i in indexes:  # the kernel onlines new memory itself (auto_online_blocks)
                self._online_block(nb, i, policy, nb.state[i][1], agent=True)
        agent_zone = self.ctx.faults.udev_race_zone() if auto_online else None
        if agent_zone is not None:
            request = "online_movable" if agent_zone == "Movable" else "online_kernel"
            for i in indexes:  # another agent (a udev rule) onlines each block as it appears
                if not nb.state[i][0]:
                    self._online_block(nb, i, request, nb.state[i][1], agent=True)
        self.refresh_node_totals()

    def hot_remove(self, indexes: Sequence[int]) -> None:
        """remove_memory of offline blocks: they go, and a node left without
        memory, CPUs and boot DRAM goes offline."""
        nodes = self.nodes()
        for i in indexes:
            node_id = self.node_of.pop(i, None)
            objects.remove_memory_block(self.tree, i)
            if node_id is not None and node_id in nodes:
                nodes[node_id].state.pop(i, None)
                self._last_masks = None
        for node_id in list(nodes):
            nb = nodes[node_id]
            info = self.ctx.node_info(node_id)
            if not nb.state and not info.cpus and not info.dram:
                self._node_offline(node_id)
        self.refresh_node_totals()

    # --------------------------------------------------------------- totals

    def refresh_node_totals(self, *, masks: bool = True) -> None:
        """What follows from the per-node counters: node masks and memory
        tiers at once (they change only when a node gains or loses its first
        block: ``masks`` False when a block change cannot have done that);
        node meminfo, /proc/meminfo and /proc/zoneinfo at once too,
        unless a write is being answered (:attr:`held`): then they are marked
        stale and the door writes them when it is done (:meth:`write_derived`),
        once for a kmem hot-add of many blocks and once per burst of block
        writes instead of once per block."""
        nodes = self.nodes()
        if self.stale_since is None:
            self.stale_since = time.monotonic_ns()
        if not self.held:
            self.write_derived()
        if not masks and self._last_masks is not None:
            return
        has_memory = [n for n, nb in sorted(nodes.items()) if nb.online_count]
        has_normal = [n for n, nb in sorted(nodes.items()) if nb.kernel_count]
        key = (tuple(has_memory), tuple(has_normal))
        if key == self._last_masks:
            return
        self._last_masks = key
        self._write_masks(has_memory=has_memory, has_normal=has_normal)
        tiers: dict[int, list[int]] = {}
        for node_id in has_memory:
            tiers.setdefault(self.ctx.node_info(node_id).memory_tier, []).append(node_id)
        if self._current_tiers() != {t: sorted(n) for t, n in tiers.items()}:
            objects.set_memory_tiers(self.tree, tiers)

    def write_derived(self) -> None:
        """Node meminfo, /proc/meminfo and /proc/zoneinfo from the per-node
        counters (O(nodes), not O(blocks)), if a change made them stale; a
        file is rewritten only when what it shows changed."""
        if self.stale_since is None:
            return
        nodes = self.nodes()
        total_kb = free_kb = 0
        for node_id, nb in sorted(nodes.items()):
            info = self.ctx.node_info(node_id)
            node_total = max(nb.online_kb - info.reserved_kb, 0)
            node_free = max(node_total - info.used_kb, 0)
            if self._meminfo_written.get(node_id) != (node_total, node_free):
                objects.write_node_meminfo(self.tree, node_id, node_total, node_free)
                self._meminfo_written[node_id] = (node_total, node_free)
            total_kb += node_total
            free_kb += node_free
        if self._proc_meminfo_written != (total_kb, free_kb):
            # (/proc exists: objects.write_proc_meminfo would make sure first)
            self.tree.attr(paths.PROC_MEMINFO, objects.format_proc_meminfo(total_kb, free_kb))
            self._proc_meminfo_written = (total_kb, free_kb)
        self._refresh_zoneinfo(nodes)
        self.stale_since = None

    def _refresh_zoneinfo(self, nodes: dict[int, NodeBlocks]) -> None:
        """/proc/zoneinfo, each node's part formatted again only when its
        zones' present bytes or spans changed."""
        changed = self._zoneinfo_nodes != tuple(sorted(nodes))
        parts = self._zoneinfo_parts
        for node_id, nb in nodes.items():
            key = (tuple(sorted(nb.zone_bytes.items())), tuple(sorted(nb.spans.items())))
            cached = parts.get(node_id)
            if cached is None or cached[0] != key:
                parts[node_id] = (key, format_zoneinfo_node(node_id, nb.zone_bytes, nb.spans, self._page_size))
                changed = True
        if changed:
            self._zoneinfo_nodes = tuple(sorted(nodes))
            write_zoneinfo(self.tree, (parts[n][1] for n in self._zoneinfo_nodes))

    def _current_tiers(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for name in self.tree.listdir(paths.MEMORY_TIERING):
            if name.startswith("memory_tier") and name[11:].isdigit():
                text = self.ctx.read_optional(f"{paths.MEMORY_TIERING}/{name}/nodelist") or ""
                out[int(name[11:])] = list(parse_cpulist(text))
        return out

    def _write_masks(self, *, has_memory: Optional[list[int]] = None, has_normal: Optional[list[int]] = None,
                     online: Optional[list[int]] = None) -> None:
        def cur(name: str) -> tuple[int, ...]:
            return parse_cpulist(self.ctx.read_optional(f"{paths.NODE}/{name}") or "")

        objects.set_node_masks(
            self.tree,
            possible=cur("possible"),
            online=online if online is not None else cur("online"),
            has_cpu=cur("has_cpu"),
            has_memory=has_memory if has_memory is not None else cur("has_memory"),
            has_normal_memory=has_normal if has_normal is not None else cur("has_normal_memory"),
            has_generic_initiator=cur("has_generic_initiator"),
        )

    # -------------------------------------------------------------- policy

    def auto_online_write(self, target: str, text: str) -> None:
        if text not in _AUTO_ONLINE_VALUES:
            raise WriteRefused(errno.EINVAL)
        objects.set_auto_online_blocks(self.tree, text)

    def demotion_write(self, target: str, text: str) -> None:
        objects.set_demotion_enabled(self.tree, kstrtobool(text))  # kstrtobool: "t", "yup", "of" too

    # --------------------------------------------------------------- nodes

    def _online_node_ids(self) -> list[int]:
        return list(parse_cpulist(self.ctx.read_optional(f"{paths.NODE}/online") or ""))

    def _node_online(self, node_id: int) -> None:
        """A memory-only node comes online when kmem first adds memory to it:
        its directory appears and every online node's distance row grows."""
        online = sorted(set(self._online_node_ids()) | {node_id})
        info = self.ctx.node_info(node_id)
        m = self.ctx.machine
        row = [m.distance_between(node_id, other) for other in online]
        objects.add_node(self.tree, info, nr_cpu_ids=m.nr_cpu_ids, distance_row=row)
        kernel_attrs.add_node_extras(self.tree, node_id, profile_for_release(m.kernel_release))
        for other in online:
            if other != node_id:
                objects.set_node_distance(self.tree, other, [m.distance_between(other, o) for o in online])
        state = self.ctx.load_state()
        # HMAT access classes are registered once per node (6.1: hmat.c
        # registers a memory target when it first comes online); after the
        # node went offline and came back they are gone (seen on the real
        # kernel, tests/vm/README.md).
        if node_id not in state.get("hmat_unregistered", []):
            for idx, access in ((0, info.access0), (1, info.access1)):
                if access is not None:
                    objects.add_node_access(self.tree, node_id, idx, access)
        self._write_masks(online=online)
        assert self._nodes is not None
        self._nodes[node_id] = NodeBlocks(node_id, {})
        self._last_masks = None
        self._meminfo_written.pop(node_id, None)  # add_node wrote an empty meminfo

    def _node_offline(self, node_id: int) -> None:
        """After hot-remove of all its memory a CPU-less node goes offline."""
        info = self.ctx.node_info(node_id)
        for idx, access in ((0, info.access0), (1, info.access1)):
            if access is not None:
                objects.remove_node_access(self.tree, node_id, idx, access)
        state = self.ctx.load_state()
        gone = state.setdefault("hmat_unregistered", [])
        if node_id not in gone:
            gone.append(node_id)
            self.ctx.save_state(state)
        objects.remove_node(self.tree, node_id)
        online = [n for n in self._online_node_ids() if n != node_id]
        m = self.ctx.machine
        for other in online:
            objects.set_node_distance(self.tree, other, [m.distance_between(other, o) for o in online])
        self._write_masks(online=online)
        assert self._nodes is not None
        self._nodes.pop(node_id, None)
        self._last_masks = None
        self._meminfo_written.pop(node_id, None)
        self._zoneinfo_parts.pop(node_id, None)


__all__ = ["MemoryBlocks", "NodeBlocks"]
