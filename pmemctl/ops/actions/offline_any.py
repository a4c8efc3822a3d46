"""Offline one block of a device, or a spare of the same device when it is busy.

``pmemctl offline DEV --count N`` / ``--size S`` asks for an amount of memory,
not for particular blocks.  Like chmem, when the kernel cannot offline the
block the planner chose, another online block of the same device is taken
instead: offline_pages() fails with EBUSY when a page cannot be migrated
(pinned, or held by the kernel), with EHWPOISON for a hardware-poisoned page,
and retries until a signal is pending (our timeout, then EINTR)
(mm/memory_hotplug.c; Documentation/admin-guide/mm/memory-hotplug.rst).

The planner gives each step a pool of spare candidates: the device's other
online, removable ZONE_MOVABLE blocks that no step targets (a block list,
``spares``, as ``lsmem``-style ranges).  A spare is taken only if it is still
online, removable and movable when it is tried, so a spare one step took is
never taken again.  :meth:`OfflineAnyBlock.apply` returns the
:class:`OfflineSpareBlock` it did instead; the executor journals it with the
step's "done" event, so ``pmemctl rollback`` / ``resume`` (and the automatic
undo) put back the block actually offlined.  ``--blocks LIST`` names blocks
explicitly and keeps OfflineBlock: all of them, or none.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import ClassVar, Mapping, Optional

from pmemctl.errors import PmemctlError, errno_meaning, errno_name
from pmemctl.ops.actions.base import Action, JournalPolicy, Problem, Touches, Write, WriteFn, not_done
from pmemctl.ops.actions.memory import OfflineBlock, ReonlineBlock, block_state, block_zone
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import parse_cpulist

#: EHWPOISON (asm-generic/errno.h), which Python's errno module lacks
EHWPOISON = 133
#: failures that say "not this block", not "not this machine": try a spare
SPARE_ERRNOS = frozenset({errno.EBUSY, errno.ETIMEDOUT, errno.EAGAIN, EHWPOISON})

class SparesExhausted(PmemctlError):
    """The block and every usable spare refused to go offline."""

    def __init__(self, message: str, err: int) -> None:
        super().__init__(message)
        self.errno = err


def _why(index: int, err: int) -> str:
    if err == errno.ETIMEDOUT:
        return f"block {index} did not go offline within the timeout (ETIMEDOUT: pages that cannot be migrated)"
    return f"block {index}: {errno_name(err)}, {errno_meaning(err)}"


def _spare_usable(door: SysfsRoot, index: int) -> bool:
    """Online now, in ZONE_MOVABLE, and not marked unremovable."""
    if block_state(door, index) != "online" or block_zone(door, index) != "Movable":
        return False
    return door.read_optional(f"{paths.memory_block(index)}/removable") != "0"


@dataclass(frozen=True)
class OfflineSpareBlock(OfflineBlock):
    """What an :class:`OfflineAnyBlock` step did instead: block ``index``
    offlined in place of ``instead_of``, for the reason ``why``.  Never
    planned: journalled with the step's "done" event (``took``)."""

    instead_of: int = -1
    why: str = ""
    kind: ClassVar[str] = "offline-spare-block"

    def describe(self) -> str:
        return f"offline memory block {self.index} instead of block {self.instead_of} ({self.why})"


@dataclass(frozen=True)
class OfflineAnyBlock(Action):
    """Offline block ``index``, or, if the kernel will not, the first usable
    block of ``spares`` (highest first) of the same ``device``."""

    index: int
    zone: str = "movable"  # the zone ``index`` was in (for the undo)
    device: str = ""
    spares: str = ""  # block list, e.g. "30-57"
    kind: ClassVar[str] = "offline-any-block"
    blocks: ClassVar[int] = 1
    bounded: ClassVar[bool] = True
    journal: ClassVar[JournalPolicy] = JournalPolicy.BATCH
    #: EINVAL from the planned block's own write: already offline (the
    #: executor's read-back decides, as for OfflineBlock; no read before it)
    write_detects_done: ClassVar[bool] = True

    @property
    def path(self) -> str:
        return f"{paths.memory_block(self.index)}/state"

    def spare_list(self) -> list[int]:
        return sorted(parse_cpulist(self.spares), reverse=True) if self.spares else []

    def describe(self) -> str:
        tail = f" (if it is busy: another online movable block of {self.device})" if self.spares else ""
        return f"offline memory block {self.index}{tail}"

    def writes(self) -> list[Write]:
        return [Write(self.path, "offline")]

    def _try(self, index: int, write: WriteFn) -> Optional[tuple[int, str]]:
        """Offline ``index``: None when it went, else (errno, reason) of a
        failure a spare may get round; anything else is raised."""
        # EINVAL = already offline (device_offline returns 1): the read-back
        # decides; for the planned block the executor does (write_detects_done:
        # already offline is a skipped step, not one this run did)
        ignore = () if index == self.index else (errno.EINVAL,)
        w = Write(f"{paths.memory_block(index)}/state", "offline", ignore_errnos=ignore)
        try:
            write(w)
        except Exception as err:
            # a KernelError, or the executor's StepFailed(ETIMEDOUT) when the
            # kernel did not finish within the bound (ops/steps.py, a layer
            # above the actions): both carry the errno
            code = getattr(err, "errno", None)
            if not isinstance(code, int) or code not in SPARE_ERRNOS:
                raise
            return code, _why(index, code)
        return None

    def apply(self, door: SysfsRoot, write: WriteFn) -> Optional[Action]:
        failed = self._try(self.index, write)
        if failed is None:
            return None
        first_errno, first_why = failed
        reasons = [first_why]  # every block tried, in order
        for spare in self.spare_list():
            if not _spare_usable(door, spare):
                continue  # taken by an earlier step, gone, or no longer movable
            failed = self._try(spare, write)
            if failed is None:
                return OfflineSpareBlock(spare, "movable", instead_of=self.index, why="; ".join(reasons))
            reasons.append(failed[1])
        where = (f"no other online movable block of {self.device} could be offlined instead"
                 if self.spares else "there is no spare block to take instead")
        raise SparesExhausted(f"{'; '.join(reasons)}; {where}", first_errno)

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        return self.read_back(door)[0]

    def read_back(self, door: SysfsRoot) -> tuple[Optional[Problem], Mapping[int, Optional[str]]]:
        state = block_state(door, self.index)
        if state not in ("offline", None):
            return not_done(f"memory block {self.index} is still {state}"), {self.index: state}
        return None, {self.index: state}

    def inverse(self) -> Action:
        return ReonlineBlock(self.index, self.zone)

    def touches(self) -> Touches:
        return Touches(blocks=(self.index,))
