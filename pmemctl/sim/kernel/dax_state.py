"""The proposed whole-device hotplug file ``daxX.Y/state`` (simulator only).

No released kernel has it.  reference/provisioning.md §5: "Coming ABI:
``/sys/bus/dax/devices/daxX.Y/state`` (values ``unplugged``, ``online``,
``online_kernel``, ``online_movable``; ``offline`` readable only): an atomic
whole-device hotplug with rollback, proposed in 2026 to close the race
between offlining and removal."  Only the kernel profile that carries it
(``sim create --kernel 6.12+dax-state``, :mod:`pmemctl.sim.kernels`) gives
dax devices the file.

The details below follow the proposal's own description (the 2026 dax/kmem
series, whose revisions before v5 named the file ``hotplug``):

* the file holds kmem's record of the device, not a census of its blocks:
  kmem's probe sets it from ``auto_online_blocks`` (``offline`` when the
  policy leaves the new blocks offline, else the policy's online type);
  a device kmem does not hold reads ``unplugged``;
* ``unplugged``: every block of the device is offlined and removed (kmem
  stays bound, the blocks are gone); from any online type or ``offline``;
* ``online`` / ``online_kernel`` / ``online_movable``: the blocks are added
  and every one onlined in that zone; only from ``unplugged`` (a device in
  another state must be unplugged first);
* all or nothing: when one block refuses, the blocks already changed are
  put back and the write fails with that block's errno (EBUSY for an
  offline that cannot migrate pages, the injected errno of ``online-fail``,
  EINTR for ``offline-hang``); a signal that ends a retrying offline (the
  writer's timeout) undoes it the same way; the file keeps its value;
* the blocks are onlined before anyone else sees them, so the ``udev-race``
  fault (an agent onlining each new block) has no window here.

Errnos the proposal does not name are this simulator's choice, mirroring
``memoryN/state`` (kernel-abi.md §7.2): EINVAL for a value outside the four
writable ones (``offline`` included: read-only) and for a transition the
proposal does not allow (online from anything but ``unplugged``, unplug of
an unplugged device); ENXIO when kmem does not hold the device.
"""

from __future__ import annotations

import errno
import posixpath
import re
from typing import Optional

from pmemctl.sim import objects
from pmemctl.sim.kernel.context import SimContext
from pmemctl.sim.kernel.dax import DaxDrivers, hotplug_indexes
from pmemctl.sim.kernel.errors import WriteRefused
from pmemctl.sim.kernel.memory import MemoryBlocks
from pmemctl.sim.machine import MachineSpec
from pmemctl.sim.tree import MODE_RW, TreeWriter
from pmemctl.sysfs import paths

#: what ``daxX.Y/state`` accepts (``offline`` is a state it only reports)
WRITABLE = ("unplugged", "online", "online_kernel", "online_movable")
ONLINE_TYPES = WRITABLE[1:]
UNPLUGGED = "unplugged"

#: a dax device's ``state`` (the resolved device path ends in daxX.Y)
STATE_FILE_RE = re.compile(r"/dax\d+\.\d+/state$")


def value_of_blocks(online_zones: list[str], present: int) -> str:
    """A booted device's value from its blocks (the zones of the online
    ones, ``present`` blocks in all): what kmem's probe would have recorded."""
    if not present:
        return UNPLUGGED
    if not online_zones:
        return "offline"
    if all(z == "Movable" for z in online_zones):
        return "online_movable"
    if not any(z == "Movable" for z in online_zones):
        return "online_kernel"
    return "online"


def add_state_file(tree: TreeWriter, dev_kpath: str, value: str) -> None:
    tree.attr(f"{dev_kpath}/state", value, MODE_RW)


def add_state_files(tree: TreeWriter, m: MachineSpec) -> None:
    """Every dax device's ``state`` at boot (build time)."""
    for dev in m.dax_devices:
        if dev.driver != "kmem":
            add_state_file(tree, dev.kpath, UNPLUGGED)
            continue
        blocks = m.blocks_of(dev.name)
        add_state_file(tree, dev.kpath, value_of_blocks([b.zone for b in blocks if b.online], len(blocks)))


class DaxHotplugState:
    """Answers writes to ``daxX.Y/state`` over the memory and dax subsystems."""

    def __init__(self, ctx: SimContext, memory: MemoryBlocks, dax: DaxDrivers) -> None:
        self.ctx = ctx
        self.tree = ctx.tree
        self.memory = memory
        self.dax = dax

    def write(self, target: str, text: str) -> None:
        if text not in WRITABLE:
            raise WriteRefused(errno.EINVAL)  # "offline" included: reported, never written
        dev_kpath = posixpath.dirname(target)
        if objects.bound_driver(self.tree, dev_kpath) != "kmem":
            raise WriteRefused(errno.ENXIO)
        current = self.ctx.read(target).strip()
        indexes = hotplug_indexes(self.dax.device_ranges(dev_kpath), self.ctx.block_size)
        if text == UNPLUGGED:
            if current == UNPLUGGED:
                raise WriteRefused(errno.EINVAL)
            self._unplug(indexes)
        else:
            if current != UNPLUGGED:
                raise WriteRefused(errno.EINVAL)  # onlined only from unplugged
            self._plug(self._target_node(dev_kpath), indexes, text)
        self.ctx.store_plain(target, text)
        self.dax.refresh_iomem()

    def _target_node(self, dev_kpath: str) -> int:
        text = self.ctx.read_optional(f"{dev_kpath}/target_node")
        return int(text) if text is not None else -1

    def _block_write(self, index: int, value: str) -> None:
        self.memory.block_write(f"{paths.memory_block(index)}/state", value)

    def _zone(self, index: int) -> str:
        return (self.ctx.read_optional(f"{paths.memory_block(index)}/valid_zones") or "").strip()

    def _unplug(self, indexes: list[int]) -> None:
        """Offline every online block (highest first), then remove them all;
        on a refusal the blocks offlined so far go back online, in their zones."""
        present = [i for i in indexes if self.tree.is_dir(paths.memory_block(i))]
        done: list[tuple[int, str]] = []
        for i in sorted((i for i in present if self.memory.is_online(i)), reverse=True):
            zone = self._zone(i)
            try:
                self._block_write(i, "offline")
            except BaseException:  # a refusal, or a signal ending a retrying offline: undo all
                for j, was in reversed(done):
                    self._put_back(j, "online_movable" if was == "Movable" else "online_kernel")
                raise
            done.append((i, zone))
        self.memory.hot_remove(present)

    def _plug(self, node_id: int, indexes: list[int], online_type: str) -> None:
        """Add the blocks (no policy, no other agent) and online each in
        ``online_type``; on a refusal, offline and remove them all again."""
        if node_id < 0:
            raise WriteRefused(errno.EINVAL)
        self.memory.hot_add(node_id, indexes, auto_online=False)
        onlined: list[int] = []
        for i in indexes:
            try:
                self._block_write(i, online_type)
            except BaseException:  # a refusal, or a signal: undo all
                for j in reversed(onlined):
                    self._put_back(j, "offline")
                self.memory.hot_remove(indexes)
                raise
            onlined.append(i)

    def _put_back(self, index: int, value: str) -> Optional[int]:
        """Best effort (the proposal: a failed rollback leaves what it leaves)."""
        try:
            self._block_write(index, value)
        except WriteRefused as said:
            return said.errno
        return None


__all__ = [
    "DaxHotplugState",
    "ONLINE_TYPES",
    "STATE_FILE_RE",
    "UNPLUGGED",
    "WRITABLE",
    "add_state_file",
    "add_state_files",
    "value_of_blocks",
]
