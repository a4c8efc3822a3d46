"""The dax bus of the simulated kernel: device_dax and kmem (kernel-abi.md §7.5, §7.6).

:class:`DaxDrivers` answers writes to
``/sys/bus/dax/drivers/{kmem,device_dax}/{new_id,remove_id,bind,unbind}``:
the drivers' dynamic id lists, binding and unbinding, kmem's probe (hot-add
of the block-aligned part of each range, through :mod:`.memory`) and remove
(hot-remove, or -- with memory still online -- the stranded device that
unbinding leaves behind), and a dax device vanishing (a surprise removal,
injected through :mod:`.faults`).
"""

from __future__ import annotations

import errno
import posixpath
import re
from typing import Any, Callable, Optional

from pmemctl.sim import layout, objects
from pmemctl.sim.kernel.context import SimContext
from pmemctl.sim.kernel.errors import WriteRefused, kstrtobool
from pmemctl.sim.kernel.memory import MemoryBlocks
from pmemctl.sysfs import abi, paths

_DRIVER_FILE_RE = re.compile(r"^/sys/bus/dax/drivers/([a-z_]+)/(new_id|remove_id|bind|unbind)$")


def hotplug_ranges(ranges: list[tuple[int, int]], block_size: int) -> list[tuple[int, int]]:
    """(start, end exclusive) kmem hot-adds for a device whose ranges are
    ``ranges`` (start, end inclusive, as ``mappingN`` shows them): each range
    trimmed to whole blocks (drivers/dax/kmem.c), empty ones dropped."""
    return [rng for start, end in ranges if (rng := layout.kmem_hotplug_range(start, end, block_size)) is not None]


def hotplug_indexes(ranges: list[tuple[int, int]], block_size: int) -> list[int]:
    """The memory blocks kmem hot-adds for a device with ``ranges`` (end inclusive)."""
    return [i for lo, hi in hotplug_ranges(ranges, block_size) for i in layout.block_indexes(lo, hi, block_size)]


class DaxDrivers:
    """device_dax and kmem over one :class:`SimContext`."""

    def __init__(self, ctx: SimContext, memory: MemoryBlocks, refresh_iomem: Callable[[], None]) -> None:
        self.ctx = ctx
        self.tree = ctx.tree
        self.memory = memory
        self.refresh_iomem = refresh_iomem

    def driver_write(self, target: str, text: str) -> None:
        m = _DRIVER_FILE_RE.match(target)
        if m is None:
            self.ctx.store_plain(target, text)
            return
        driver, op = m.group(1), m.group(2)
        state = self.ctx.load_state()
        ids: list[str] = state.setdefault("dax_ids", {}).setdefault(driver, [])
        if op in ("new_id", "remove_id"):
            # input must be exactly daxN.M (sysfs_streq), else EINVAL (kernel-abi.md §7.5)
            if not abi.DAX_DEVICE_RE.match(text):
                raise WriteRefused(errno.EINVAL)
            if op == "remove_id":
                if text in ids:
                    ids.remove(text)
                    self.ctx.save_state(state)
                return
            if text not in ids:
                ids.append(text)
                self.ctx.save_state(state)
            # new_id runs driver_attach: binds an unbound device; probe errors are swallowed
            dev_kpath = self._dax_kpath(text)
            if dev_kpath is not None and objects.bound_driver(self.tree, dev_kpath) is None:
                try:
                    self._probe(driver, text, dev_kpath, state)
                except WriteRefused:
                    pass
            return
        dev_kpath = self._dax_kpath(text)
        if dev_kpath is None:
            raise WriteRefused(errno.ENODEV)
        bound = objects.bound_driver(self.tree, dev_kpath)
        if op == "bind":
            if bound is not None:
                raise WriteRefused(errno.EBUSY)
            if driver == "kmem" and text not in ids:
                # kmem matches a pmem/hmem dax device only by id (6.3+ dax_bus_match)
                raise WriteRefused(errno.ENODEV)
            self._probe(driver, text, dev_kpath, state)
        else:  # unbind
            if bound != driver:
                raise WriteRefused(errno.ENODEV)
            self.remove(driver, text, dev_kpath, state)

    def memmap_on_memory_write(self, target: str, text: str) -> None:
        """``daxX.Y/memmap_on_memory`` (6.8+, drivers/dax/bus.c): a boolean;
        EOPNOTSUPP to turn it on when memory_hotplug.memmap_on_memory is off,
        EBUSY to change it while kmem holds the device."""
        value = kstrtobool(text)
        enabled = (self.ctx.read_optional(f"{paths.MEMORY_HOTPLUG_PARAMS}/memmap_on_memory") or "N").strip()
        if value and enabled not in ("Y", "y", "1", "force"):
            raise WriteRefused(errno.EOPNOTSUPP)
        dev_kpath = posixpath.dirname(target)
        current = self.ctx.read(target).strip() == "1"
        if current != value and objects.bound_driver(self.tree, dev_kpath) == "kmem":
            raise WriteRefused(errno.EBUSY)
        self.ctx.store_plain(target, "1" if value else "0")

    def _dax_kpath(self, name: str) -> Optional[str]:
        if not abi.DAX_DEVICE_RE.match(name) or not self.ctx.exists(f"{paths.DAX_DEVICES}/{name}"):
            return None
        return self.ctx.door.resolve(f"{paths.DAX_DEVICES}/{name}")

    def device_ranges(self, dev_kpath: str) -> list[tuple[int, int]]:
        """(start, end inclusive) of each ``mappingN`` of a device, else its resource and size."""
        out = []
        for entry in sorted(self.tree.listdir(dev_kpath)):
            if re.fullmatch(r"mapping\d+", entry):
                start = int(self.ctx.read(f"{dev_kpath}/{entry}/start"), 0)
                end = int(self.ctx.read(f"{dev_kpath}/{entry}/end"), 0)
                out.append((start, end))
        if not out:
            start = int(self.ctx.read(f"{dev_kpath}/resource"), 0)
            out.append((start, start + int(self.ctx.read(f"{dev_kpath}/size")) - 1))
        return out

    def _probe(self, driver: str, name: str, dev_kpath: str, state: dict[str, Any]) -> None:
        if name in state.get("stranded", []):
            # the range is still claimed by the memory kmem could not remove
            raise WriteRefused(errno.EBUSY)
        self.ctx.faults.check_bind(driver, name)
        if driver == "kmem":
            self._kmem_probe(dev_kpath)
        elif driver != "device_dax":
            raise WriteRefused(errno.ENODEV)
        objects.bind_driver(self.tree, "dax", driver, dev_kpath)
        self.refresh_iomem()

    def _kmem_probe(self, dev_kpath: str) -> None:
        """kmem probe (drivers/dax/kmem.c, kernel-abi.md §7.6): hot-add the
        block-aligned part of each range on target_node."""
        target = self.ctx.read_optional(f"{dev_kpath}/target_node")
        node_id = int(target) if target is not None else -1
        if node_id < 0:
            raise WriteRefused(errno.EINVAL)  # "rejecting DAX region with invalid node"
        indexes = hotplug_indexes(self.device_ranges(dev_kpath), self.ctx.block_size)
        if not indexes:
            raise WriteRefused(errno.EINVAL)  # "without any memory after alignment"
        self.memory.hot_add(node_id, indexes)
        policy = (self.ctx.read_optional(paths.AUTO_ONLINE_BLOCKS) or "offline").strip()
        self._record_state(dev_kpath, policy if policy in ("online", "online_kernel", "online_movable") else "offline")

    def _record_state(self, dev_kpath: str, value: str) -> None:
        """kmem's record in the proposed ``daxX.Y/state`` where the kernel
        profile has the file (:mod:`.dax_state`)."""
        if self.tree.exists(f"{dev_kpath}/state"):
            self.ctx.store_plain(f"{dev_kpath}/state", value)

    def remove(self, driver: str, name: str, dev_kpath: str, state: Optional[dict[str, Any]] = None) -> None:
        """The driver's remove on unbind (which cannot fail); ``state`` is the
        kernel state the caller already holds (loaded when None)."""
        if driver == "kmem":
            bs = self.ctx.block_size
            ranges = self.device_ranges(dev_kpath)
            present = [i for i in hotplug_indexes(ranges, bs) if self.tree.is_dir(paths.memory_block(i))]
            if any(self.memory.is_online(i) for i in present):
                # remove_memory() fails while any block is online, but unbind
                # cannot fail: the device is unbound, the blocks stay, and the
                # range stays claimed until reboot (real-kernel-lab.md).
                if state is None:
                    state = self.ctx.load_state()
                state.setdefault("stranded", []).append(name)
                for lo, hi in hotplug_ranges(ranges, bs):
                    state.setdefault("stranded_kmem", []).append([name, lo, hi])
                self.ctx.save_state(state)
            else:
                self.memory.hot_remove(present)
            self._record_state(dev_kpath, "unplugged")
        objects.unbind_driver(self.tree, "dax", dev_kpath)
        self.refresh_iomem()

    def vanish_device(self, name: str) -> None:
        """Make a dax device disappear (a surprise removal / hot-unplug)."""
        dev = self.ctx.machine.dax_device(name)
        if dev is None or not self.ctx.exists(f"{paths.DAX_DEVICES}/{name}"):
            return
        objects.remove_dax_device(self.tree, dev)


__all__ = ["DaxDrivers", "hotplug_indexes", "hotplug_ranges"]
