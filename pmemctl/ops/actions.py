"""Actions: the steps of a plan, as data.

Each action knows
  * ``describe()``  — one sentence for people,
  * ``writes()``    — the exact sysfs writes (rendered as ``echo VALUE > PATH``),
  * ``satisfied()`` — whether the machine is already in the action's end state
                      (then it is skipped and needs no undo),
  * ``verify()``    — the read-back after the writes (None = good, else why not),
  * ``inverse()``   — the action that undoes it (used by rollback).

Actions name kernel objects by kernel name (``dax0.0``, block 42), never by
snapshot records, so a plan can be serialised into the journal and replayed
by ``pmemctl resume`` / ``pmemctl rollback`` in another process.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Optional

from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot


@dataclass(frozen=True)
class Write:
    """One sysfs write.  ``ignore_errnos``: errnos that are expected and harmless
    (the verify read decides), e.g. EBUSY from ``bind`` after ``new_id`` already
    bound the device (kernel-abi.md §4.3)."""

    path: str
    value: str
    ignore_errnos: tuple[int, ...] = ()
    #: what carries it out: "sysfs" (an attribute write), "wipe" (zeroing a
    #: device's info block) or "ndctl" (one ndctl command line)
    kind: ClassVar[str] = "sysfs"

    def shell(self) -> str:
        return f"echo {self.value} > {self.path}"


#: zone request -> value written to memoryN/state (Documentation/admin-guide/mm/memory-hotplug.rst)
ONLINE_VALUE = {"movable": "online_movable", "normal": "online_kernel", "auto": "online"}
#: zone request -> valid_zones of an online block that satisfies it
ZONE_NAME = {"movable": "Movable", "normal": "Normal"}


def block_state(door: SysfsRoot, index: int) -> Optional[str]:
    return door.read_optional(f"{paths.memory_block(index)}/state")


def block_zone(door: SysfsRoot, index: int) -> Optional[str]:
    text = door.read_optional(f"{paths.memory_block(index)}/valid_zones")
    if not text:
        return None
    return text.split()[0]


def device_driver(door: SysfsRoot, device: str) -> Optional[str]:
    return door.link_basename(f"{paths.DAX_DEVICES}/{device}/driver")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


@dataclass(frozen=True)
class Action:
    kind: ClassVar[str] = "action"
    #: does undoing it need consent / can it lose data
    destructive: ClassVar[bool] = False
    #: how many memory blocks the action walks (for progress)
    blocks: ClassVar[int] = 0
    #: False for waits: their end state is a consequence of an earlier step of
    #: this run, so they always count as done (and are undone on rollback)
    skippable: ClassVar[bool] = True

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def writes(self) -> list[Write]:  # pragma: no cover - abstract
        raise NotImplementedError

    def satisfied(self, door: SysfsRoot) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def verify(self, door: SysfsRoot) -> Optional[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self) -> Optional["Action"]:
        return None

    #: True when the write itself tells "already there" (EINVAL from memoryN/state
    #: for a block already in that state), so no read is needed before it
    write_detects_done: ClassVar[bool] = False

    def to_dict(self) -> dict[str, Any]:
        # not dataclasses.asdict (it deep-copies): plans hold one action per block
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in fields(self))
        return {"kind": self.kind, **{n: getattr(self, n) for n in names}}


@dataclass(frozen=True)
class OnlineBlock(Action):
    index: int
    zone: str = "movable"  # movable / normal / auto
    kind: ClassVar[str] = "online-block"
    blocks: ClassVar[int] = 1
    write_detects_done: ClassVar[bool] = True

    @property
    def path(self) -> str:
        return f"{paths.memory_block(self.index)}/state"

    def describe(self) -> str:
        where = {"movable": "ZONE_MOVABLE", "normal": "ZONE_NORMAL", "auto": "the zone the kernel picks"}[self.zone]
        return f"online memory block {self.index} into {where}"

    def writes(self) -> list[Write]:
        return [Write(self.path, ONLINE_VALUE[self.zone])]

    def satisfied(self, door: SysfsRoot) -> bool:
        return block_state(door, self.index) == "online" and self._zone_ok(door)

    def _zone_ok(self, door: SysfsRoot) -> bool:
        want = ZONE_NAME.get(self.zone)
        return want is None or block_zone(door, self.index) in (want, None)

    def verify(self, door: SysfsRoot) -> Optional[str]:
        state = block_state(door, self.index)
        if state is None:
            return f"memory block {self.index} disappeared"
        if state != "online":
            return f"memory block {self.index} is {state}, not online"
        if not self._zone_ok(door):
            return (
                f"memory block {self.index} is online in {block_zone(door, self.index)}, "
                f"not {ZONE_NAME[self.zone]} (another agent onlined it first?)"
            )
        return None

    def inverse(self) -> Action:
        return OfflineBlock(self.index)


@dataclass(frozen=True)
class OfflineBlock(Action):
    index: int
    #: zone the block was in, so the inverse puts it back there
    zone: str = "movable"
    kind: ClassVar[str] = "offline-block"
    blocks: ClassVar[int] = 1
    write_detects_done: ClassVar[bool] = True

    @property
    def path(self) -> str:
        return f"{paths.memory_block(self.index)}/state"

    def describe(self) -> str:
        return f"offline memory block {self.index}"

    def writes(self) -> list[Write]:
        return [Write(self.path, "offline")]

    def satisfied(self, door: SysfsRoot) -> bool:
        return block_state(door, self.index) in ("offline", None)

    def verify(self, door: SysfsRoot) -> Optional[str]:
        state = block_state(door, self.index)
        if state not in ("offline", None):
            return f"memory block {self.index} is still {state}"
        return None

    def inverse(self) -> Action:
        return OnlineBlock(self.index, self.zone)


@dataclass(frozen=True)
class UnbindDevice(Action):
    """Detach a dax device from its driver: remove_id, then unbind.

    remove_id first, so the driver does not immediately re-claim the device by
    id match (kernel-abi.md §4.3).  Never used on kmem while a block is online:
    the kernel would strand the memory until reboot (real-kernel-lab.md).
    """

    device: str
    driver: str
    kind: ClassVar[str] = "unbind"
    destructive: ClassVar[bool] = True

    def describe(self) -> str:
        return f"detach {self.device} from the {self.driver} driver"

    def writes(self) -> list[Write]:
        drv = paths.dax_driver(self.driver)
        # remove_id of an id that was never added is a silent success.
        return [Write(drv + "/remove_id", self.device), Write(drv + "/unbind", self.device)]

    def satisfied(self, door: SysfsRoot) -> bool:
        return device_driver(door, self.device) is None

    def verify(self, door: SysfsRoot) -> Optional[str]:
        bound = device_driver(door, self.device)
        if bound is not None:
            return f"{self.device} is still bound to {bound}"
        return None

    def inverse(self) -> Action:
        return BindDevice(self.device, self.driver)


@dataclass(frozen=True)
class BindDevice(Action):
    """Attach a dax device to a driver: new_id (which already binds on 6.x), then bind.

    ``bind`` after a successful ``new_id`` fails with EBUSY because the device is
    already bound; that is expected, the driver link decides (kernel-abi.md §4.3).
    """

    device: str
    driver: str
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

    def satisfied(self, door: SysfsRoot) -> bool:
        return device_driver(door, self.device) == self.driver

    def verify(self, door: SysfsRoot) -> Optional[str]:
        bound = device_driver(door, self.device)
        if bound != self.driver:
            return f"{self.device} is bound to {bound or 'no driver'}, not {self.driver}"
        return None

    def inverse(self) -> Action:
        return UnbindDevice(self.device, self.driver)


@dataclass(frozen=True)
class _WaitForBlockRange(Action):
    """Wait until the first and last block of a device's range exist (or not)."""

    device: str
    first: int
    last: int
    timeout: float = 30.0
    skippable: ClassVar[bool] = False  # the end state comes from this run's bind/unbind
    present: ClassVar[bool] = True

    def describe(self) -> str:
        what = "appear" if self.present else "be removed"
        return f"wait for memory blocks {self.first}-{self.last} of {self.device} to {what}"

    def writes(self) -> list[Write]:
        return []

    def satisfied(self, door: SysfsRoot) -> bool:
        return self.verify(door) is None

    def verify(self, door: SysfsRoot) -> Optional[str]:
        for i in (self.first, self.last):
            if door.exists(paths.memory_block(i)) != self.present:
                state = "has not appeared" if self.present else "is still present"
                return f"memory block {i} of {self.device} {state}"
        return None


@dataclass(frozen=True)
class WaitForBlocks(_WaitForBlockRange):
    """After kmem binds, the kernel hot-adds the device's blocks."""

    kind: ClassVar[str] = "wait-blocks"

    def inverse(self) -> Action:
        # Undoing the hot-add starts by taking every block of the device
        # offline, whoever onlined it (the kernel, a udev rule, or us).
        return OfflineRange(self.device, self.first, self.last)


@dataclass(frozen=True)
class WaitForBlocksGone(_WaitForBlockRange):
    """After kmem unbinds, the kernel removes the blocks (remove_memory)."""

    kind: ClassVar[str] = "wait-blocks-gone"
    present: ClassVar[bool] = False


@dataclass(frozen=True)
class OfflineRange(Action):
    """Offline every online block in [first, last] (rollback of a hot-add)."""

    device: str
    first: int
    last: int
    kind: ClassVar[str] = "offline-range"

    def describe(self) -> str:
        return f"offline every online memory block of {self.device} ({self.first}-{self.last})"

    def writes(self) -> list[Write]:
        # EINVAL = already offline (device_offline returns 1): the read-back decides.
        return [
            Write(f"{paths.memory_block(i)}/state", "offline", ignore_errnos=(errno.EINVAL,))
            for i in range(self.first, self.last + 1)
        ]

    def pending_writes(self, door: SysfsRoot) -> list[Write]:
        """The writes for the blocks that are online now (the rest need none)."""
        return [
            Write(f"{paths.memory_block(i)}/state", "offline", ignore_errnos=(errno.EINVAL,))
            for i in range(self.first, self.last + 1)
            if block_state(door, i) == "online"
        ]

    def satisfied(self, door: SysfsRoot) -> bool:
        return self.verify(door) is None

    def verify(self, door: SysfsRoot) -> Optional[str]:
        for i in range(self.first, self.last + 1):
            if block_state(door, i) == "online":
                return f"memory block {i} of {self.device} is still online"
        return None


ACTION_TYPES: dict[str, type[Action]] = {
    cls.kind: cls
    for cls in (OnlineBlock, OfflineBlock, OfflineRange, UnbindDevice, BindDevice, WaitForBlocks, WaitForBlocksGone)
}


#: modules that register more action kinds in ACTION_TYPES when imported
#: (loaded on demand, so a journal written by them can be replayed anywhere)
ACTION_MODULES = ("pmemctl.ops.namespace",)


def action_from_dict(data: dict[str, Any]) -> Action:
    data = dict(data)
    kind = data.pop("kind")
    if kind not in ACTION_TYPES:
        import importlib

        for module in ACTION_MODULES:
            importlib.import_module(module)
    cls = ACTION_TYPES[kind]
    return cls(**data)


@dataclass(slots=True)
class ActionResult:
    """What happened to one action during apply or rollback."""

    action: Action
    status: str  # done / skipped (already satisfied) / failed / undone / undo-failed / not-run
    error: Optional[str] = None
    errno: Optional[int] = None
