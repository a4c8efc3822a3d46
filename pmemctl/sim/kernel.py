"""The simulated kernel: a sysfs door whose writes the kernel reacts to.

:class:`SimulatedKernel` is a :class:`~pmemctl.sysfs.door.SysfsRoot` over a
materialised tree (one with ``.pmemctl-sim/``).  Reads are plain file reads;
writes first pass the same checks as on the real door (no create, write bits,
confinement), then go to a handler that does what a 6.1+ kernel does, with
the kernel's errnos (kernel-abi.md §7, real-kernel-lab.md "Write semantics"):

* ``memoryN/state`` and ``memoryN/online``: state transitions, zones,
  ``valid_zones`` of the other offline blocks, node and /proc meminfo, node
  masks, memory tiers;
* ``/sys/bus/dax/drivers/{kmem,device_dax}/{new_id,remove_id,bind,unbind}``:
  driver links, memory blocks created and removed by kmem, nodes coming
  online and going offline, /proc/iomem, and the stranded device that
  unbinding kmem under online memory leaves behind;
* ``auto_online_blocks`` and ``demotion_enabled``: validated policy values.

Where the truth lives: the tree itself (driver links, block files).  The
resolved machine description (``scenario.json``) supplies static facts
(node DRAM ranges, distances, HMAT, device ranges).  Simulator-only state
(driver id lists, stranded devices, write counters) is in
``.pmemctl-sim/kernel-state.json``; injected faults in ``faults.json``
(:mod:`pmemctl.sim.faults`).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from pmemctl.errors import kernel_error
from pmemctl.sim import layout, objects
from pmemctl.sim.faults import Faults
from pmemctl.sim.machine import DaxDeviceSpec, MachineSpec, NodeSpec
from pmemctl.sim.tree import MARKER_DIR, SCENARIO_FILE, TreeWriter
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot, ToolResult, ToolUnavailable, clean_value

STATE_FILE = "kernel-state.json"
HOLDERS_FILE = "holders.json"

_BLOCK_ATTR_RE = re.compile(r"^/sys/devices/system/memory/memory(\d+)/(state|online)$")
_DRIVER_FILE_RE = re.compile(r"^/sys/bus/dax/drivers/([a-z_]+)/(new_id|remove_id|bind|unbind)$")
_DAX_NAME_RE = re.compile(r"^dax\d+\.\d+$")
_ONLINE_VALUES = ("online", "online_kernel", "online_movable")
_AUTO_ONLINE_VALUES = ("offline", "online", "online_kernel", "online_movable")
_KERNEL_ZONES = ("DMA", "DMA32", "Normal")


class _KernelSays(Exception):
    """A handler's errno for the write (turned into the door's typed error)."""

    def __init__(self, err: int) -> None:
        super().__init__(err)
        self.errno = err


@dataclass
class _NodeBlocks:
    """Cached view of one node's blocks, kept in step with our own writes."""

    node: int
    state: dict[int, tuple[bool, str]]  # index -> (online, valid_zones text)
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # zone -> byte span
    online_kb: int = 0  # present memory of the online blocks
    online_count: int = 0
    kernel_count: int = 0  # online blocks in a kernel zone (not Movable)

    def account(self, present_kb: int, zone: str, sign: int) -> None:
        self.online_kb += sign * present_kb
        self.online_count += sign
        if zone != "Movable":
            self.kernel_count += sign


class SimulatedKernel(SysfsRoot):
    """A sysroot whose writes are answered the way the Linux kernel answers them."""

    machine = "simulated"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        super().__init__(root)
        self.tree = TreeWriter(self.root)
        self.marker = os.path.join(self.root, MARKER_DIR)
        self.faults = Faults(self.root)
        self._machine: Optional[MachineSpec] = None
        self._nodes: Optional[dict[int, _NodeBlocks]] = None
        self._node_of: dict[int, int] = {}
        self._block_size: Optional[int] = None
        self._last_masks: Optional[tuple[tuple[int, ...], tuple[int, ...]]] = None
        #: nanoseconds spent reacting to writes (benchmarks subtract it)
        self.sim_time_ns = 0

    # ------------------------------------------------------------------ door

    def write(self, kpath: str, value: str) -> None:
        target = self.check_writable(kpath, value)
        start = time.perf_counter_ns()
        try:
            text = clean_value(value.encode())
            self.faults.count_write(self, target)
            handler = self._handler_for(target)
            if handler is None:
                self.tree.write_bytes(target, (text + "\n").encode(), self._mode(target))
            else:
                handler(target, text)
        except _KernelSays as said:
            raise kernel_error(kpath, said.errno, value=value) from None
        finally:
            self.sim_time_ns += time.perf_counter_ns() - start

    def processes_using(self, devnode: str) -> list[tuple[int, str]]:
        """Processes declared in ``.pmemctl-sim/holders.json`` as using ``devnode``."""
        try:
            with open(os.path.join(self.marker, HOLDERS_FILE)) as fh:
                holders = json.load(fh)
        except FileNotFoundError:
            return []
        return [(int(h["pid"]), str(h["name"])) for h in holders if h.get("path") == devnode]

    def wipe_info_block(self, devnode: str, nbytes: int = 8192) -> Optional[bool]:
        """The door's info-block wipe (kernel-abi.md §5.3) on a tree that keeps
        no device contents: the info block the simulated drivers recorded on
        the media of the raw namespace behind ``devnode`` is forgotten, as the
        FUSE bridge's stand-in disk does when ndctl zeroes it."""
        from pmemctl.sim import nd_kernel

        disk = devnode.rsplit("/", 1)[-1]
        target = self.tree.resolve_link(f"/sys/class/block/{disk}")
        ns = os.path.dirname(os.path.dirname(target)) if target else None
        if ns is None or not os.path.basename(ns).startswith("namespace"):
            raise kernel_error(devnode, errno.ENOENT, op="open")  # no raw namespace disk of that name
        had = nd_kernel.info_block(self.root, ns) is not None
        nd_kernel.forget_info_block(self.root, ns)
        return had

    def tool_unavailable_reason(self, tool: str) -> Optional[str]:
        """Real tools run against this tree through the FUSE bridge (pmemctl.sim.fuse)."""
        return tool_unavailable_reason(tool)

    def run_tool(self, argv: Sequence[str], *, timeout: float) -> ToolResult:
        """Run the real tool with this tree as its machine (the FUSE bridge):
        its writes reach this simulated kernel."""
        reason = self.tool_unavailable_reason(argv[0])
        if reason is not None:
            raise ToolUnavailable(reason)
        from pmemctl.sim import fuse

        try:
            proc = fuse.run_real_tool_on_sim(Path(self.root), list(argv), timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise kernel_error(shlex.join(argv), errno.ETIMEDOUT, op="run") from err
        except (RuntimeError, OSError) as err:  # FuseUnavailable is a RuntimeError
            raise ToolUnavailable(f"cannot run {argv[0]} on the simulated tree: {err}") from err
        return ToolResult(tuple(argv), proc.returncode, proc.stdout or "", proc.stderr or "")

    def _mode(self, target: str) -> int:
        return os.stat(self.host_path(target)).st_mode & 0o777

    def _handler_for(self, target: str) -> Optional[Callable[[str, str], None]]:
        if target.startswith("/sys/devices/system/memory/memory"):
            return self._block_write
        if target == paths.AUTO_ONLINE_BLOCKS:
            return self._auto_online_write
        if target == paths.DEMOTION_ENABLED:
            return self._demotion_write
        if target.startswith(paths.DAX_DRIVERS + "/"):
            return self._driver_write
        if target.startswith(paths.ND_DRIVERS + "/") or (target.startswith("/sys/devices/") and "/ndbus" in target):
            from pmemctl.sim import nd_kernel  # nd bus: namespaces, seeds, nd drivers (kernel-abi.md §5, §7.7)

            return nd_kernel.handler(self)
        return None

    # ------------------------------------------------------------- static facts

    @property
    def machine(self) -> MachineSpec:
        """The resolved scenario, without its (large) block list."""
        if self._machine is None:
            with open(os.path.join(self.marker, SCENARIO_FILE), encoding="utf-8") as fh:
                data = json.load(fh)["machine"]
            data["blocks"] = []
            data["dax_devices"] = [dict(d, blocks=[]) for d in data.get("dax_devices", [])]
            self._machine = MachineSpec.from_dict(data)
        return self._machine

    @property
    def block_size(self) -> int:
        if self._block_size is None:
            self._block_size = int(self.read(paths.BLOCK_SIZE_BYTES), 16)
        return self._block_size

    def _node_info(self, node_id: int) -> NodeSpec:
        node = self.machine.node(node_id)
        if node is None:  # a node the scenario did not describe: memory only, no DRAM
            node = NodeSpec(id=node_id, cpus=(), dram=(), reserved_kb=0, used_kb=0, memory_tier=22)
        return node

    def _load_state(self) -> dict[str, Any]:
        try:
            with open(os.path.join(self.marker, STATE_FILE)) as fh:
                return json.load(fh)
        except FileNotFoundError:
            # A device the scenario boots on kmem got there by new_id (daxctl
            # or a boot-time rule), so kmem's id list starts with it.
            kmem_ids = [d.name for d in self.machine.dax_devices if d.driver == "kmem"]
            return {"dax_ids": {"kmem": kmem_ids} if kmem_ids else {}, "stranded": []}

    def _save_state(self, state: dict[str, Any]) -> None:
        tmp = os.path.join(self.marker, STATE_FILE + ".tmp")
        with open(tmp, "w") as fh:
            json.dump(state, fh, indent=1, sort_keys=True)
        os.replace(tmp, os.path.join(self.marker, STATE_FILE))

    # ------------------------------------------------------------ block cache

    def _all_nodes(self) -> dict[int, _NodeBlocks]:
        if self._nodes is None:
            self._nodes = {}
            for entry in self.tree.listdir(paths.NODE):
                if entry.startswith("node") and entry[4:].isdigit():
                    self._load_node(int(entry[4:]))
        return self._nodes

    def _load_node(self, node_id: int) -> _NodeBlocks:
        assert self._nodes is not None
        indexes = objects.node_block_indexes(self.tree, node_id)
        rel_state = [f"memory{i}/state" for i in indexes]
        rel_zones = [f"memory{i}/valid_zones" for i in indexes]
        states = self.read_many(rel_state, paths.MEMORY)
        zones = self.read_many(rel_zones, paths.MEMORY)
        nb = _NodeBlocks(node_id, {})
        bs = self.block_size
        for i, st, z in zip(indexes, states, zones):
            if st is None:
                continue
            nb.state[i] = (st == "online", (z or "").strip())
            self._node_of[i] = node_id
        nb.spans = layout.zone_spans(
            (z, i * bs, (i + 1) * bs) for i, (on, z) in nb.state.items() if on
        )
        for i, (on, z) in nb.state.items():
            if on:
                nb.account(self._present_kb(node_id, i), z, +1)
        self._nodes[node_id] = nb
        return nb

    def _present_kb(self, node_id: int, index: int) -> int:
        """Memory present in a block: a boot block counts only the DRAM inside
        it (holes), a hot-added block counts whole (objects.node_mem_total_kb)."""
        bs = self.block_size
        lo, hi = index * bs, (index + 1) * bs
        boot = sum(layout.overlap((lo, hi), r) for r in self._node_info(node_id).dram)
        return (boot if boot else bs) // 1024

    def _block_node(self, index: int) -> int:
        self._all_nodes()
        node = self._node_of.get(index)
        if node is None:
            found = objects.memory_block_node(self.tree, index)
            if found is None:
                raise _KernelSays(errno.ENOENT)
            node = found
        return node

    # ------------------------------------------------------- memory blocks

    def _block_write(self, target: str, text: str) -> None:
        m = _BLOCK_ATTR_RE.match(target)
        if m is None:  # other block attributes are read-only (the door refused) or plain
            self.tree.write_bytes(target, (text + "\n").encode(), self._mode(target))
            return
        index, attr = int(m.group(1)), m.group(2)
        node = self._block_node(index)
        nb = self._all_nodes()[node]
        online, zones_text = nb.state[index]
        if attr == "online":
            # kstrtobool; onlining an online block through "online" succeeds (kernel-abi.md §7.2)
            want = _kstrtobool(text)
            if want == online:
                return
            request = "online" if want else "offline"
        else:
            request = text
            if request not in _ONLINE_VALUES and request != "offline":
                raise _KernelSays(errno.EINVAL)
            # device_online/offline return 1 when already there -> EINVAL
            if (request != "offline") == online:
                raise _KernelSays(errno.EINVAL)
        if request == "offline":
            self._offline_block(nb, index, zones_text)
        else:
            self._online_block(nb, index, request, zones_text)

    def _online_block(self, nb: _NodeBlocks, index: int, request: str, zones_text: str, *, agent: bool = False) -> str:
        allowed = zones_text.split()
        if request == "online_movable":
            zone = "Movable"
        elif request == "online_kernel":
            zone = next((z for z in allowed if z in _KERNEL_ZONES), "")
        else:
            zone = allowed[0] if allowed else ""
        if not zone or zone not in allowed:
            raise _KernelSays(errno.EINVAL)
        if not agent:
            self.faults.check_online(index)
        bs = self.block_size
        objects.set_memory_block(self.tree, index, online=True, valid_zones=zone)
        nb.state[index] = (True, zone)
        nb.account(self._present_kb(nb.node, index), zone, +1)
        old = dict(nb.spans)
        for z in layout.zones_of_online_block(zone, index * bs, (index + 1) * bs):
            lo, hi = nb.spans.get(z, (index * bs, (index + 1) * bs))
            nb.spans[z] = (min(lo, index * bs), max(hi, (index + 1) * bs))
        self._after_change(nb, old)
        return zone

    def _offline_block(self, nb: _NodeBlocks, index: int, zones_text: str) -> None:
        if zones_text == "none":  # spans zones: cannot be offlined (drivers/base/memory.c)
            raise _KernelSays(errno.EINVAL)
        self.faults.check_offline(index)  # EBUSY, or never finishing, when injected
        bs = self.block_size
        zone = zones_text.split()[0] if zones_text else "Normal"
        nb.state[index] = (False, "")
        nb.account(self._present_kb(nb.node, index), zone, -1)
        old = dict(nb.spans)
        self._shrink_span(nb, zone, index)
        vz = layout.offline_valid_zones(index * bs, (index + 1) * bs, nb.spans, self.machine.movable_node)
        objects.set_memory_block(self.tree, index, online=False, valid_zones=vz)
        nb.state[index] = (False, vz)
        self._after_change(nb, old)

    def _shrink_span(self, nb: _NodeBlocks, zone: str, index: int) -> None:
        """A zone shrinks at its edges when memory leaves it (shrink_zone_span);
        a block leaving the middle of a span leaves the span as it is."""
        bs = self.block_size
        span = nb.spans.get(zone)
        if span is None:
            return
        lo, hi = span[0] // bs, span[1] // bs
        if lo < index < hi - 1:
            return
        members = [i for i in range(lo, hi) if nb.state.get(i, (False, ""))[0] and nb.state[i][1] == zone]
        if not members:
            nb.spans.pop(zone, None)
        else:
            nb.spans[zone] = (min(members) * bs, (max(members) + 1) * bs)

    def _after_change(self, nb: _NodeBlocks, old_spans: dict[str, tuple[int, int]]) -> None:
        """Everything derived from a block state change."""
        if old_spans != nb.spans:
            self._refresh_offline_zones(nb, old_spans)
        self._refresh_node_totals()

    def _refresh_offline_zones(self, nb: _NodeBlocks, old_spans: dict[str, tuple[int, int]]) -> None:
        """Rewrite valid_zones of offline blocks where a zone span changed
        (the symmetric difference of old and new spans), not node-wide."""
        bs = self.block_size
        changed: list[tuple[int, int]] = []
        for z in set(old_spans) | set(nb.spans):
            a, b = old_spans.get(z), nb.spans.get(z)
            if a == b:
                continue
            if a is None or b is None:
                changed.append(a or b)  # type: ignore[arg-type]
                continue
            # symmetric difference of two intervals: the moved edges only
            for x, y in ((a[0], b[0]), (a[1], b[1])):
                if x != y:
                    changed.append((min(x, y), max(x, y)))
        movable_node = self.machine.movable_node
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
                    self.tree.attr(f"{paths.MEMORY}/memory{i}/valid_zones", vz)
                    nb.state[i] = (False, vz)

    def _refresh_node_totals(self) -> None:
        """Node meminfo, /proc/meminfo, node masks and memory tiers, from the
        per-node counters (O(nodes), not O(blocks): the big scenario onlines
        49,152 blocks one write at a time)."""
        nodes = self._all_nodes()
        total_kb = free_kb = 0
        has_memory: list[int] = []
        has_normal: list[int] = []
        for node_id, nb in sorted(nodes.items()):
            info = self._node_info(node_id)
            node_total = max(nb.online_kb - info.reserved_kb, 0)
            node_free = max(node_total - info.used_kb, 0)
            objects.write_node_meminfo(self.tree, node_id, node_total, node_free)
            total_kb += node_total
            free_kb += node_free
            if nb.online_count:
                has_memory.append(node_id)
            if nb.kernel_count:
                has_normal.append(node_id)
        objects.write_proc_meminfo(self.tree, total_kb, free_kb)
        key = (tuple(has_memory), tuple(has_normal))
        if key == getattr(self, "_last_masks", None):
            return
        self._last_masks = key
        self._write_masks(has_memory=has_memory, has_normal=has_normal)
        tiers: dict[int, list[int]] = {}
        for node_id in has_memory:
            tiers.setdefault(self._node_info(node_id).memory_tier, []).append(node_id)
        if self._current_tiers() != {t: sorted(n) for t, n in tiers.items()}:
            objects.set_memory_tiers(self.tree, tiers)

    def _current_tiers(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for name in self.tree.listdir(paths.MEMORY_TIERING):
            if name.startswith("memory_tier") and name[11:].isdigit():
                text = self.read_optional(f"{paths.MEMORY_TIERING}/{name}/nodelist") or ""
                from pmemctl.units import parse_cpulist

                out[int(name[11:])] = list(parse_cpulist(text))
        return out

    def _write_masks(self, *, has_memory: Optional[list[int]] = None, has_normal: Optional[list[int]] = None,
                     online: Optional[list[int]] = None) -> None:
        from pmemctl.units import parse_cpulist

        def cur(name: str) -> tuple[int, ...]:
            return parse_cpulist(self.read_optional(f"{paths.NODE}/{name}") or "")

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

    def _auto_online_write(self, target: str, text: str) -> None:
        if text not in _AUTO_ONLINE_VALUES:
            raise _KernelSays(errno.EINVAL)
        objects.set_auto_online_blocks(self.tree, text)

    def _demotion_write(self, target: str, text: str) -> None:
        try:
            value = _kstrtobool(text)
        except _KernelSays:
            raise
        objects.set_demotion_enabled(self.tree, value)

    # ------------------------------------------------------------ dax drivers

    def _driver_write(self, target: str, text: str) -> None:
        m = _DRIVER_FILE_RE.match(target)
        if m is None:
            self.tree.write_bytes(target, (text + "\n").encode(), self._mode(target))
            return
        driver, op = m.group(1), m.group(2)
        state = self._load_state()
        ids: list[str] = state.setdefault("dax_ids", {}).setdefault(driver, [])
        if op in ("new_id", "remove_id"):
            # input must be exactly daxN.M (sysfs_streq), else EINVAL (kernel-abi.md §7.5)
            if not _DAX_NAME_RE.match(text):
                raise _KernelSays(errno.EINVAL)
            if op == "remove_id":
                if text in ids:
                    ids.remove(text)
                    self._save_state(state)
                return
            if text not in ids:
                ids.append(text)
                self._save_state(state)
            # new_id runs driver_attach: binds an unbound device; probe errors are swallowed
            dev_kpath = self._dax_kpath(text)
            if dev_kpath is not None and objects.bound_driver(self.tree, dev_kpath) is None:
                try:
                    self._probe(driver, text, dev_kpath, state)
                except _KernelSays:
                    pass
            return
        dev_kpath = self._dax_kpath(text)
        if dev_kpath is None:
            raise _KernelSays(errno.ENODEV)
        bound = objects.bound_driver(self.tree, dev_kpath)
        if op == "bind":
            if bound is not None:
                raise _KernelSays(errno.EBUSY)
            if driver == "kmem" and text not in ids:
                # kmem matches a pmem/hmem dax device only by id (6.3+ dax_bus_match)
                raise _KernelSays(errno.ENODEV)
            self._probe(driver, text, dev_kpath, state)
        else:  # unbind
            if bound != driver:
                raise _KernelSays(errno.ENODEV)
            self._remove(driver, text, dev_kpath, state)

    def _dax_kpath(self, name: str) -> Optional[str]:
        if not _DAX_NAME_RE.match(name) or not self.exists(f"{paths.DAX_DEVICES}/{name}"):
            return None
        return self.resolve(f"{paths.DAX_DEVICES}/{name}")

    def _device_ranges(self, dev_kpath: str) -> list[tuple[int, int]]:
        out = []
        for entry in sorted(self.tree.listdir(dev_kpath)):
            if re.fullmatch(r"mapping\d+", entry):
                start = int(self.read(f"{dev_kpath}/{entry}/start"), 0)
                end = int(self.read(f"{dev_kpath}/{entry}/end"), 0)
                out.append((start, end))
        if not out:
            start = int(self.read(f"{dev_kpath}/resource"), 0)
            out.append((start, start + int(self.read(f"{dev_kpath}/size")) - 1))
        return out

    def _hotplug_ranges(self, dev_kpath: str) -> list[tuple[int, int]]:
        """(start, end exclusive) kmem hot-adds for a device: each range
        trimmed to whole blocks."""
        bs = self.block_size
        return [rng for start, end in self._device_ranges(dev_kpath)
                if (rng := layout.kmem_hotplug_range(start, end, bs)) is not None]

    def _hotplug_indexes(self, dev_kpath: str) -> list[int]:
        """Blocks kmem hot-adds for a device."""
        bs = self.block_size
        return [i for lo, hi in self._hotplug_ranges(dev_kpath) for i in layout.block_indexes(lo, hi, bs)]

    def _probe(self, driver: str, name: str, dev_kpath: str, state: dict[str, Any]) -> None:
        if name in state.get("stranded", []):
            # the range is still claimed by the memory kmem could not remove
            raise _KernelSays(errno.EBUSY)
        self.faults.check_bind(driver, name)
        if driver == "kmem":
            self._kmem_probe(name, dev_kpath)
        elif driver != "device_dax":
            raise _KernelSays(errno.ENODEV)
        objects.bind_driver(self.tree, "dax", driver, dev_kpath)
        self._refresh_iomem()

    def _kmem_probe(self, name: str, dev_kpath: str) -> None:
        """kmem probe (drivers/dax/kmem.c, kernel-abi.md §7.6): hot-add the
        block-aligned part of each range on target_node."""
        target = self.read_optional(f"{dev_kpath}/target_node")
        node_id = int(target) if target is not None else -1
        if node_id < 0:
            raise _KernelSays(errno.EINVAL)  # "rejecting DAX region with invalid node"
        bs = self.block_size
        indexes = self._hotplug_indexes(dev_kpath)
        if not indexes:
            raise _KernelSays(errno.EINVAL)  # "without any memory after alignment"
        nodes = self._all_nodes()
        if node_id not in nodes:
            self._node_online(node_id)
        nb = self._nodes[node_id]  # type: ignore[index]
        policy = (self.read_optional(paths.AUTO_ONLINE_BLOCKS) or "offline").strip()
        movable_node = self.machine.movable_node
        for i in indexes:
            vz = layout.offline_valid_zones(i * bs, (i + 1) * bs, nb.spans, movable_node)
            objects.add_memory_block(self.tree, i, node_id, online=False, valid_zones=vz)
            nb.state[i] = (False, vz)
            self._node_of[i] = node_id
        if policy != "offline":
            for i in indexes:  # the kernel onlines new memory itself (auto_online_blocks)
                self._online_block(nb, i, policy, nb.state[i][1], agent=True)
        agent_zone = self.faults.udev_race_zone()
        if agent_zone is not None:
            request = "online_movable" if agent_zone == "Movable" else "online_kernel"
            for i in indexes:  # another agent (a udev rule) onlines each block as it appears
                if not nb.state[i][0]:
                    self._online_block(nb, i, request, nb.state[i][1], agent=True)
        self._refresh_node_totals()

    def _remove(self, driver: str, name: str, dev_kpath: str, state: dict[str, Any]) -> None:
        if driver == "kmem":
            indexes = self._hotplug_indexes(dev_kpath)
            present = [i for i in indexes if self.tree.is_dir(paths.memory_block(i))]
            nodes = self._all_nodes()
            online = [i for i in present if nodes.get(self._node_of.get(i, -1), _NodeBlocks(-1, {})).state.get(i, (False, ""))[0]]
            if online:
                # remove_memory() fails while any block is online, but unbind
                # cannot fail: the device is unbound, the blocks stay, and the
                # range stays claimed until reboot (real-kernel-lab.md).
                state.setdefault("stranded", []).append(name)
                for lo, hi in self._hotplug_ranges(dev_kpath):
                    state.setdefault("stranded_kmem", []).append([name, lo, hi])
                self._save_state(state)
            else:
                for i in present:
                    node_id = self._node_of.pop(i, None)
                    objects.remove_memory_block(self.tree, i)
                    if node_id is not None and node_id in nodes:
                        nodes[node_id].state.pop(i, None)
                        self._last_masks = None
                for node_id in list(nodes):
                    nb = nodes[node_id]
                    info = self._node_info(node_id)
                    if not nb.state and not info.cpus and not info.dram:
                        self._node_offline(node_id)
                self._refresh_node_totals()
        objects.unbind_driver(self.tree, "dax", dev_kpath)
        self._refresh_iomem()

    # --------------------------------------------------------------- nodes

    def _online_node_ids(self) -> list[int]:
        from pmemctl.units import parse_cpulist

        return list(parse_cpulist(self.read_optional(f"{paths.NODE}/online") or ""))

    def _node_online(self, node_id: int) -> None:
        """A memory-only node comes online when kmem first adds memory to it:
        its directory appears and every online node's distance row grows."""
        online = sorted(set(self._online_node_ids()) | {node_id})
        info = self._node_info(node_id)
        m = self.machine
        row = [m.distance_between(node_id, other) for other in online]
        objects.add_node(self.tree, info, nr_cpu_ids=m.nr_cpu_ids, distance_row=row)
        for other in online:
            if other != node_id:
                objects.set_node_distance(self.tree, other, [m.distance_between(other, o) for o in online])
        state = self._load_state()
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
        self._nodes[node_id] = _NodeBlocks(node_id, {})
        self._last_masks = None

    def _node_offline(self, node_id: int) -> None:
        """After hot-remove of all its memory a CPU-less node goes offline."""
        info = self._node_info(node_id)
        for idx, access in ((0, info.access0), (1, info.access1)):
            if access is not None:
                objects.remove_node_access(self.tree, node_id, idx, access)
        state = self._load_state()
        gone = state.setdefault("hmat_unregistered", [])
        if node_id not in gone:
            gone.append(node_id)
            self._save_state(state)
        objects.remove_node(self.tree, node_id)
        online = [n for n in self._online_node_ids() if n != node_id]
        m = self.machine
        for other in online:
            objects.set_node_distance(self.tree, other, [m.distance_between(other, o) for o in online])
        self._write_masks(online=online)
        assert self._nodes is not None
        self._nodes.pop(node_id, None)
        self._last_masks = None

    # --------------------------------------------------------------- iomem

    def _refresh_iomem(self) -> None:
        """Rewrite /proc/iomem from the live tree (drivers, namespaces and dax
        devices created or removed since the scenario was built)."""
        from pmemctl.sim import nd_kernel

        nd_kernel.refresh_iomem(self)

    # ------------------------------------------------------------- faults

    def vanish_device(self, name: str) -> None:
        """Make a dax device disappear (a surprise removal / hot-unplug)."""
        dev: Optional[DaxDeviceSpec] = self.machine.dax_device(name)
        if dev is None or not self.exists(f"{paths.DAX_DEVICES}/{name}"):
            return
        objects.remove_dax_device(self.tree, dev)


def _kstrtobool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "y", "yes", "on", "true"):
        return True
    if t in ("0", "n", "no", "off", "false"):
        return False
    raise _KernelSays(errno.EINVAL)


def tool_unavailable_reason(tool: str) -> Optional[str]:
    """Why the real ``tool`` cannot run on a simulated tree here (None: it can)."""
    if shutil.which(tool) is None:
        return f"{tool} is not installed"
    from pmemctl.sim import fuse  # loads the FUSE binding: only when a tool runs

    return fuse.fuse_skip_reason()
