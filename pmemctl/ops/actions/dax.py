"""dax driver steps: attach a dax device to device_dax or kmem, and detach it.

Sequences from kernel-abi.md §4.3 (what daxctl does): ``remove_id`` before
``unbind`` so the driver does not re-claim the device by id match;
``new_id`` (which already binds on 6.x) before ``bind``.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import ClassVar, Optional

from pmemctl.commandline import command_line
from pmemctl.errors import KernelError
from pmemctl.model.discover import read_block_size, read_dax_ranges
from pmemctl.model.records import kmem_blocks
from pmemctl.model.zoneinfo import read_zoneinfo
from pmemctl.ops.actions.base import Action, JournalPolicy, Problem, ProblemKind, Touches, Write, not_done
from pmemctl.ops.actions.memory import ZONE_NAME, block_state, block_zone
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot


def _byte_runs(blocks: list[int], block_size: int) -> list[tuple[int, int]]:
    """The byte ranges runs of consecutive (sorted) block indexes cover."""
    runs: list[tuple[int, int]] = []
    first = prev = blocks[0]
    for idx in blocks[1:]:
        if idx != prev + 1:
            runs.append((first * block_size, (prev + 1) * block_size))
            first = idx
        prev = idx
    runs.append((first * block_size, (prev + 1) * block_size))
    return runs


def device_driver(door: SysfsRoot, device: str) -> Optional[str]:
    return door.link_basename(f"{paths.DAX_DEVICES}/{device}/driver")


def online_blocks_of(door: SysfsRoot, device: str) -> list[int]:
    """Blocks of ``device``'s ranges that are online now (read, not planned).
    A block size no kernel could hold is a BadAttribute, never a guess: a
    wrong size would make online blocks look absent and let kmem go.

    First one read of /proc/zoneinfo: where no populated zone's span meets
    the blocks, none of them is online (an online block lies inside its
    zone's span, and offlining shrinks the span past offline memory:
    :mod:`pmemctl.model.zoneinfo`), and no block is read (issue 14).
    Otherwise each block's state says."""
    block_size = read_block_size(door)
    if block_size is None:
        return []
    blocks = kmem_blocks(read_dax_ranges(door, device), block_size)
    if not blocks:
        return []
    zone_info = read_zoneinfo(door)
    if zone_info is not None and zone_info.no_online_memory_in(_byte_runs(blocks, block_size)):
        return []
    # every block read now, in one batched walk of the memory directory (door.read_table)
    states = door.read_table(paths.MEMORY, [f"memory{idx}" for idx in blocks], ["state"])[0]
    return [idx for idx, state in zip(blocks, states, strict=True) if state == "online"]


@dataclass(frozen=True)
class _DriverStep(Action):
    """A change of a dax device's driver; the kernel finishes it asynchronously."""

    device: str
    driver: str
    journal: ClassVar[JournalPolicy] = JournalPolicy.SYNC
    settles: ClassVar[bool] = True

    def touches(self) -> Touches:
        return Touches(devices=(self.device,))


@dataclass(frozen=True)
class UnbindDevice(_DriverStep):
    """Detach a dax device from its driver: remove_id, then unbind.

    Never used on kmem while a block is online: the kernel would strand the
    memory until reboot (real-kernel-lab.md); :meth:`precheck` re-reads that.
    """

    kind: ClassVar[str] = "unbind"
    destructive: ClassVar[bool] = True

    def describe(self) -> str:
        return f"detach {self.device} from the {self.driver} driver"

    def writes(self) -> list[Write]:
        drv = paths.dax_driver(self.driver)
        # remove_id of an id that was never added is a silent success.
        return [Write(drv + "/remove_id", self.device), Write(drv + "/unbind", self.device)]

    def precheck(self, door: SysfsRoot) -> Optional[Problem]:
        # Every block is read now, even those this run just offlined and read
        # back: a udev rule or another agent can online one in between, and
        # kmem let go under online memory strands it until reboot.  One read
        # per block of one step is the price of that guarantee.
        if self.driver != "kmem":
            return None
        online = online_blocks_of(door, self.device)
        if not online:
            return None
        return Problem(
            ProblemKind.UNSAFE,
            f"refusing to detach {self.device} from kmem: memory block(s) {online[:5]} are still "
            "online, and the kernel would strand that memory until reboot",
        )

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        bound = device_driver(door, self.device)
        if bound is not None:
            return not_done(f"{self.device} is still bound to {bound}")
        return None

    def inverse(self) -> Action:
        return RestoreBinding(self.device, self.driver)


@dataclass(frozen=True)
class SetMemmapOnMemory(Action):
    """Write ``daxX.Y/memmap_on_memory`` (6.8+): kmem then places the memory
    map of the blocks it hot-adds in those blocks themselves.  Only while kmem
    does not hold the device (EBUSY otherwise), so before it binds; ``previous``
    is the value to put back on rollback."""

    device: str
    value: bool
    previous: bool = False
    kind: ClassVar[str] = "memmap-on-memory"

    def describe(self) -> str:
        how = "in the hot-added memory itself" if self.value else "in existing RAM"
        return f"have kmem keep the memory map of {self.device} {how} (memmap_on_memory={int(self.value)})"

    def writes(self) -> list[Write]:
        return [Write(f"{paths.DAX_DEVICES}/{self.device}/memmap_on_memory", "1" if self.value else "0")]

    def touches(self) -> Touches:
        return Touches(devices=(self.device,))

    def precheck(self, door: SysfsRoot) -> Optional[Problem]:
        # a device made earlier in the same plan (namespace -> devdax) is only
        # known now: the kernel must have the attribute (6.8+)
        if door.read_optional(f"{paths.DAX_DEVICES}/{self.device}/memmap_on_memory") is None:
            return Problem(ProblemKind.UNSAFE, f"{self.device} has no memmap_on_memory attribute: "
                                               "this kernel (before 6.8) cannot place the memory map there")
        return None

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        text = door.read_optional(f"{paths.DAX_DEVICES}/{self.device}/memmap_on_memory")
        if text is None:
            return Problem(ProblemKind.GONE, f"{self.device} has no memmap_on_memory attribute")
        if (text.strip() in ("1", "Y", "y")) != self.value:
            return not_done(f"{self.device}'s memmap_on_memory reads {text.strip()}, not {int(self.value)}")
        return None

    def inverse(self) -> Action:
        return SetMemmapOnMemory(self.device, self.previous, self.value)


@dataclass(frozen=True)
class BindDevice(_DriverStep):
    """Attach a dax device to a driver: new_id (which already binds on 6.x), then bind.

    ``bind`` after a successful ``new_id`` fails with EBUSY because the device is
    already bound; that is expected, the driver link decides (kernel-abi.md §4.3).
    """

    kind: ClassVar[str] = "bind"

    def describe(self) -> str:
        what = "hot-add its memory as system RAM" if self.driver == "kmem" else "make /dev/" + self.device + " usable"
        return f"attach {self.device} to the {self.driver} driver ({what})"

    def writes(self) -> list[Write]:
        drv = paths.dax_driver(self.driver)
        return [
            Write(drv + "/new_id", self.device, ignore_errnos=(errno.EEXIST, errno.EBUSY)),
            Write(drv + "/bind", self.device, ignore_errnos=(errno.EBUSY,)),
        ]

    def after_failure(self, door: SysfsRoot) -> None:
        """new_id may have added an id that would claim the device later."""
        try:
            door.write(f"{paths.dax_driver(self.driver)}/remove_id", self.device)
        except KernelError:
            pass

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        bound = device_driver(door, self.device)
        if bound != self.driver:
            return not_done(f"{self.device} is bound to {bound or 'no driver'}, not {self.driver}")
        return None

    def inverse(self) -> Action:
        return UnbindDevice(self.device, self.driver)


@dataclass(frozen=True)
class RestoreBinding(BindDevice):
    """The undo of a detach: attach the device to its old driver again, even
    when a failed later step left it bound to device_dax.

    A namespace step that fails puts its old personality back, and re-enabling
    a devdax namespace binds the new dax device to device_dax by default; the
    device must leave device_dax before kmem can take it (kernel-abi.md §4.3,
    daxctl's reconfigure-device order).  Only ever an undo, so it is never in
    a plan shown beforehand; it journals and renders as a ``bind``.
    """

    def _taking_from_device_dax(self, door: SysfsRoot) -> bool:
        """device_dax holds the device and the old driver is another one."""
        return self.driver != "device_dax" and device_driver(door, self.device) == "device_dax"

    def pending_writes(self, door: SysfsRoot) -> list[Write]:
        if not self._taking_from_device_dax(door):
            return self.writes()
        # the detach sequence itself (remove_id, then unbind), from device_dax
        return [*UnbindDevice(self.device, "device_dax").writes(), *self.writes()]

    def precheck(self, door: SysfsRoot) -> Optional[Problem]:
        if not self._taking_from_device_dax(door):
            return None
        users = door.processes_using(f"/dev/{self.device}")
        if users:
            names = ", ".join(f"{name} (pid {pid})" for pid, name in users[:3])
            return Problem(ProblemKind.UNSAFE, f"/dev/{self.device} is open ({names}): it is not taken from "
                                               f"device_dax to give it back to {self.driver}")
        return None


# ---------------------------------------------------------------------------
# The proposed whole-device hotplug file daxX.Y/state.  reference/provisioning.md
# §5: values unplugged, online, online_kernel, online_movable; offline readable
# only; an atomic whole-device hotplug with rollback; "use it when the file
# exists; fall back to per-block writes otherwise".  In no released kernel
# (the 2026 dax/kmem series; before its v5 the file was called "hotplug").
# The series: a device is onlined only from "unplugged" (one in another state
# is unplugged first); "unplugged" offlines and removes every block at once.

#: the online types daxX.Y/state takes, by the zone asked for
DAX_STATE_ONLINE = {"movable": "online_movable", "normal": "online_kernel", "auto": "online"}
DAX_STATE_UNPLUGGED = "unplugged"
#: every value the file may read (offline: kmem added the blocks, nothing onlined them)
DAX_STATE_VALUES = frozenset({DAX_STATE_UNPLUGGED, "offline", *DAX_STATE_ONLINE.values()})
_STATE_ZONE = {"online_movable": "movable", "online_kernel": "normal", "online": "auto"}


def read_dax_state(door: SysfsRoot, device: str) -> Optional[str]:
    """What ``daxX.Y/state`` reads, None where the kernel has no such file
    (every released kernel) or it reads something this pmemctl does not know."""
    text = door.read_optional(paths.dax_state(device))
    if text is None or text.strip() not in DAX_STATE_VALUES:
        return None
    return text.strip()


def _device_blocks(door: SysfsRoot, device: str) -> list[int]:
    block_size = read_block_size(door)
    return kmem_blocks(read_dax_ranges(door, device), block_size) if block_size else []


@dataclass(frozen=True)
class SetDaxState(Action):
    """One whole-device hotplug through ``daxX.Y/state``: every memory block
    of the device onlined into one zone, or offlined and removed
    (``unplugged``), by the kernel in one step that it rolls back itself on
    failure.  Onlining a device that is not unplugged writes ``unplugged``
    first (the proposal allows online only from there).  ``previous``: what
    the file read when planned (``offline`` when kmem had just added the
    blocks), so the inverse puts the device back.  Make one with
    :func:`dax_state_step`: an unplug is an :class:`UnplugDaxDevice`."""

    device: str
    value: str
    previous: str = DAX_STATE_UNPLUGGED
    kind: ClassVar[str] = "dax-state"
    journal: ClassVar[JournalPolicy] = JournalPolicy.SYNC  # the whole device moves at once

    @property
    def path(self) -> str:
        return paths.dax_state(self.device)

    def describe(self) -> str:
        if self.value == DAX_STATE_UNPLUGGED:
            return f"offline and remove every memory block of {self.device} in one step ({self.path})"
        where = {"online_movable": "ZONE_MOVABLE", "online_kernel": "ZONE_NORMAL"}.get(
            self.value, "the zone the kernel picks")
        return f"online every memory block of {self.device} into {where} in one step ({self.path})"

    def writes(self) -> list[Write]:
        if self.previous == self.value:  # e.g. auto_online_blocks onlines them so already
            return []
        if self.value != DAX_STATE_UNPLUGGED and self.previous != DAX_STATE_UNPLUGGED:
            return [Write(self.path, DAX_STATE_UNPLUGGED), Write(self.path, self.value)]
        return [Write(self.path, self.value)]

    def pending_writes(self, door: SysfsRoot) -> list[Write]:
        current = read_dax_state(door, self.device)
        if current == self.value:
            return []
        if self.value != DAX_STATE_UNPLUGGED and current != DAX_STATE_UNPLUGGED:
            return [Write(self.path, DAX_STATE_UNPLUGGED), Write(self.path, self.value)]
        return [Write(self.path, self.value)]

    def precheck(self, door: SysfsRoot) -> Optional[Problem]:
        # a device made earlier in the same plan is only known now
        if door.read_optional(self.path) is None:
            return Problem(ProblemKind.UNSAFE, f"{self.device} has no state file ({self.path}): this kernel "
                                               "has no whole-device hotplug")
        return None

    def after_failure(self, door: SysfsRoot) -> None:
        """Onlining writes unplugged first: when the online then fails, put
        the device back where it was if that is a state the file takes."""
        current = read_dax_state(door, self.device)
        if current == DAX_STATE_UNPLUGGED and self.previous in DAX_STATE_ONLINE.values():
            try:
                door.write(self.path, self.previous)
            except KernelError:
                pass

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        """Read back the file, then the blocks it speaks for."""
        current = read_dax_state(door, self.device)
        if current is None:
            return Problem(ProblemKind.GONE, f"{self.device} has no readable state file ({self.path})")
        if current != self.value:
            return not_done(f"{self.path} reads {current}, not {self.value}")
        blocks = _device_blocks(door, self.device)
        if self.value == DAX_STATE_UNPLUGGED:
            left = [i for i in blocks if block_state(door, i) is not None]
            return not_done(f"memory block {left[0]} of {self.device} is still present") if left else None
        want = ZONE_NAME.get(_STATE_ZONE[self.value])
        for i in blocks:
            state = block_state(door, i)
            if state != "online":
                return not_done(f"memory block {i} of {self.device} is {state or 'missing'}, not online")
            if want is not None and block_zone(door, i) not in (want, None):
                return Problem(ProblemKind.CONFLICT, f"memory block {i} of {self.device} is online in "
                                                     f"{block_zone(door, i)}, not {want}")
        return None

    def inverse(self) -> Action:
        # offline is read-only: the nearest state to put back is unplugged
        # (nothing online either way)
        back = self.previous if self.previous in DAX_STATE_ONLINE.values() else DAX_STATE_UNPLUGGED
        return dax_state_step(self.device, back, self.value)

    def touches(self) -> Touches:
        return Touches(devices=(self.device,))

    def state_lines(self, door: SysfsRoot) -> list[str]:
        """What the file reads now, with the way back from an unplug."""
        current = read_dax_state(door, self.device)
        if current is None or device_driver(door, self.device) != "kmem":
            return []
        if current == DAX_STATE_UNPLUGGED:
            online = command_line("online", self.device, sysroot=door.root)
            return [f"{self.path} reads unplugged: kmem holds {self.device} but its memory blocks are removed; "
                    f"'{online}' adds and onlines them again"]
        return [f"{self.path} reads {current}"]


@dataclass(frozen=True)
class UnplugDaxDevice(SetDaxState):
    """``unplugged`` through ``daxX.Y/state``: offlining may never finish
    (the kernel retries until a signal), so the write is bounded by the
    offline timeout -- for the whole device, as it is one write."""

    kind: ClassVar[str] = "dax-unplug"
    bounded: ClassVar[bool] = True


def dax_state_step(device: str, value: str, previous: str) -> SetDaxState:
    """The step that writes ``value`` to ``device``'s ``daxX.Y/state``."""
    cls = UnplugDaxDevice if value == DAX_STATE_UNPLUGGED else SetDaxState
    return cls(device, value, previous)
