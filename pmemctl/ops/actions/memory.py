"""Memory-block steps: online, offline, and waiting for kmem's hot-add/remove.

Write values and zones: Documentation/admin-guide/mm/memory-hotplug.rst.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Optional, Sequence

from pmemctl.commandline import command_line
from pmemctl.ops.actions.base import (
    Action,
    JournalPolicy,
    Problem,
    ProblemKind,
    Touches,
    Write,
    not_done,
)
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import format_cpulist

#: zone request -> value written to memoryN/state
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


def _offline_write(index: int) -> Write:
    # EINVAL = already offline (device_offline returns 1): the read-back decides.
    return Write(f"{paths.memory_block(index)}/state", "offline", ignore_errnos=(errno.EINVAL,))


@dataclass(frozen=True)
class _BlockStateStep(Action):
    """A write to one memory block's ``state``: one per block of a walk."""

    index: int
    #: online: the zone asked for (movable / normal / auto); offline: the zone
    #: the block was in, so the inverse puts it back there
    zone: str = "movable"
    blocks: ClassVar[int] = 1
    write_detects_done: ClassVar[bool] = True
    journal: ClassVar[JournalPolicy] = JournalPolicy.BATCH
    block_step: ClassVar[bool] = True

    @property
    def path(self) -> str:
        return f"{paths.memory_block(self.index)}/state"

    def writes(self) -> list[Write]:
        return [self.state_write()]

    def read_back(self, door: SysfsRoot) -> tuple[Optional[Problem], Mapping[int, Optional[str]]]:
        state = block_state(door, self.index)
        return self.state_problem(state), {self.index: state}

    def touches(self) -> Touches:
        return Touches(blocks=(self.index,))

    def to_dict(self) -> dict[str, Any]:
        # a journalled plan holds one per block: the generic walk over the
        # fields costs four times this (issue 14); subclasses with more fields take it
        if type(self) in _INDEX_AND_ZONE_ONLY:
            return {"kind": self.kind, "index": self.index, "zone": self.zone}
        return super().to_dict()


@dataclass(frozen=True)
class OnlineBlock(_BlockStateStep):
    kind: ClassVar[str] = "online-block"

    def describe(self) -> str:
        where = {"movable": "ZONE_MOVABLE", "normal": "ZONE_NORMAL", "auto": "the zone the kernel picks"}[self.zone]
        return f"online memory block {self.index} into {where}"

    def state_write(self) -> Write:
        return Write(self.path, ONLINE_VALUE[self.zone])

    def _zone_ok(self, door: SysfsRoot) -> bool:
        want = ZONE_NAME.get(self.zone)
        return want is None or block_zone(door, self.index) in (want, None)

    def state_problem(self, state: Optional[str]) -> Optional[Problem]:
        """After our own write went through, the state alone decides.  The
        zone needs no read then: the kernel accepted online_movable /
        online_kernel, so it onlined the block into the zone that value names
        (or refused it: mm/memory_hotplug.c, zone_for_pfn_range).  Where the
        write was refused as already done (EINVAL), :meth:`verify` reads the zone too."""
        if state is None:
            return Problem(ProblemKind.GONE, f"memory block {self.index} disappeared")
        if state != "online":
            return not_done(f"memory block {self.index} is {state}, not online")
        return None

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        problem = self.state_problem(block_state(door, self.index))
        if problem is None and not self._zone_ok(door):
            return Problem(
                ProblemKind.CONFLICT,
                f"memory block {self.index} is online in {block_zone(door, self.index)}, "
                f"not {ZONE_NAME[self.zone]} (another agent onlined it first?)",
            )
        return problem

    def inverse(self) -> Action:
        return OfflineBlock(self.index, self.zone)


@dataclass(frozen=True)
class OfflineBlock(_BlockStateStep):
    kind: ClassVar[str] = "offline-block"
    bounded: ClassVar[bool] = True

    def describe(self) -> str:
        return f"offline memory block {self.index}"

    def state_write(self) -> Write:
        return Write(self.path, "offline")

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        return self.state_problem(block_state(door, self.index))

    def state_problem(self, state: Optional[str]) -> Optional[Problem]:
        if state not in ("offline", None):
            return not_done(f"memory block {self.index} is still {state}")
        return None

    def inverse(self) -> Action:
        return ReonlineBlock(self.index, self.zone)


#: the block steps whose fields are exactly index and zone (``to_dict``'s short way)
_INDEX_AND_ZONE_ONLY = frozenset({OnlineBlock, OfflineBlock})


@dataclass(frozen=True)
class ReonlineBlock(OnlineBlock):
    """Undo of an offline: the block is online again, in the zone it was in
    if the kernel lets us choose.  Another agent (a udev rule, the kernel's
    auto_online_blocks) may have onlined it first into another zone: that
    counts as undone (the memory is back in use; offlining it to retry the
    zone could fail for good), and :meth:`state_lines` says where it is.
    Only ever made by :meth:`OfflineBlock.inverse`: never planned or journalled."""

    kind: ClassVar[str] = "reonline-block"

    def describe(self) -> str:
        return f"online memory block {self.index} again (it was in {_ZONE_WORDS[self.zone]})"

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        return self.state_problem(block_state(door, self.index))

    def state_lines(self, door: SysfsRoot) -> list[str]:
        return self.group_state_lines(door, [self])

    @classmethod
    def group_state_lines(cls, door: SysfsRoot, actions: Sequence[Action]) -> list[str]:
        """Where the blocks are that are online again in another zone than
        they were in, folded into one line per (zone now, zone before)."""
        moved: dict[tuple[str, str], list[int]] = {}
        for a in actions:
            assert isinstance(a, ReonlineBlock)
            if block_state(door, a.index) == "online" and not a._zone_ok(door):
                moved.setdefault((block_zone(door, a.index) or "?", a.zone), []).append(a.index)
        lines = []
        for (now, was), indexes in moved.items():
            blocks = format_cpulist(sorted(indexes))
            offline = command_line("offline", "--blocks", blocks, sysroot=door.root)
            online = command_line("online", "--blocks", blocks, "--zone", was, sysroot=door.root)
            lines.append(
                f"memory block(s) {blocks} are online again but in {now}, not in {_ZONE_WORDS[was]} where they "
                f"were (another agent onlined them first); to move them back run '{offline}' then '{online}'"
            )
        return lines


_ZONE_WORDS = {"movable": "ZONE_MOVABLE", "normal": "ZONE_NORMAL", "auto": "the zone the kernel picked"}


@dataclass(frozen=True)
class _WaitForBlockRange(Action):
    """Wait until the first and last block of a device's range exist (or not)."""

    device: str
    first: int
    last: int
    timeout: float = 30.0
    skippable: ClassVar[bool] = False  # the end state comes from this run's bind/unbind
    settles: ClassVar[bool] = True
    uevents: ClassVar[bool] = True
    present: ClassVar[bool] = True

    def describe(self) -> str:
        what = "appear" if self.present else "be removed"
        return f"wait for memory blocks {self.first}-{self.last} of {self.device} to {what}"

    def writes(self) -> list[Write]:
        return []

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        for i in (self.first, self.last):
            if door.exists(paths.memory_block(i)) != self.present:
                state = "has not appeared" if self.present else "is still present"
                return not_done(f"memory block {i} of {self.device} {state}")
        return None

    def touches(self) -> Touches:
        return Touches(devices=(self.device,))


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
    bounded: ClassVar[bool] = True

    def describe(self) -> str:
        return f"offline every online memory block of {self.device} ({self.first}-{self.last})"

    def writes(self) -> list[Write]:
        return [_offline_write(i) for i in range(self.first, self.last + 1)]

    def pending_writes(self, door: SysfsRoot) -> list[Write]:
        """The writes for the blocks that are online now (the rest need none)."""
        return [_offline_write(i) for i in range(self.first, self.last + 1) if block_state(door, i) == "online"]

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        for i in range(self.first, self.last + 1):
            if block_state(door, i) == "online":
                return not_done(f"memory block {i} of {self.device} is still online")
        return None

    def touches(self) -> Touches:
        return Touches(devices=(self.device,))
