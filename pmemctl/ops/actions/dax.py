"""dax driver steps: attach a dax device to device_dax or kmem, and detach it.

Sequences from kernel-abi.md §4.3 (what daxctl does): ``remove_id`` before
``unbind`` so the driver does not re-claim the device by id match;
``new_id`` (which already binds on 6.x) before ``bind``.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import ClassVar, Mapping, Optional

from pmemctl.errors import KernelError
from pmemctl.model.discover import read_block_size, read_dax_ranges
from pmemctl.model.records import kmem_blocks
from pmemctl.ops.actions.base import Action, JournalPolicy, Problem, ProblemKind, Touches, Write, not_done
from pmemctl.ops.actions.memory import block_state
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot


def device_driver(door: SysfsRoot, device: str) -> Optional[str]:
    return door.link_basename(f"{paths.DAX_DEVICES}/{device}/driver")


def online_blocks_of(door: SysfsRoot, device: str, seen: Mapping[int, Optional[str]] | None = None) -> list[int]:
    """Blocks of ``device``'s ranges that are online now (read, not planned;
    ``seen``: states this run read back since, which need no second read).
    A block size no kernel could hold is a BadAttribute, never a guess: a
    wrong size would make online blocks look absent and let kmem go."""
    block_size = read_block_size(door)
    if block_size is None:
        return []
    blocks = kmem_blocks(read_dax_ranges(door, device), block_size)
    if not seen:
        return [idx for idx in blocks if block_state(door, idx) == "online"]
    return [idx for idx in blocks if (seen[idx] if idx in seen else block_state(door, idx)) == "online"]


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
        return self.precheck_seen(door, {})

    def precheck_seen(self, door: SysfsRoot, seen: Mapping[int, Optional[str]]) -> Optional[Problem]:
        """The blocks this run itself just offlined and read back count as
        read; every other block of the device is read now."""
        if self.driver != "kmem":
            return None
        online = online_blocks_of(door, self.device, seen)
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
        return BindDevice(self.device, self.driver)


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
