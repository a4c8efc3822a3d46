"""A kernel policy switch: one attribute write, read back, undone by writing
the value it had (``apply`` of a layout's ``[policy]`` table).

The value written and the value the file reads back can differ:
``demotion_enabled`` takes ``true`` and reads ``true`` but also takes ``1``
(kstrtobool); ``numa_balancing`` reads the number written.  So each step
carries both: ``value`` to write, ``reads_as`` to verify, and the same pair
for the undo (``before``, ``before_reads_as``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from pmemctl.ops.actions.base import Action, Problem, ProblemKind, Write, not_done
from pmemctl.sysfs.door import SysfsRoot


@dataclass(frozen=True)
class SetPolicy(Action):
    path: str
    value: str
    reads_as: str
    before: str
    before_reads_as: str
    kind: ClassVar[str] = "set-policy"

    def describe(self) -> str:
        return f"set {self.path} to {self.value} (was {self.before})"

    def writes(self) -> list[Write]:
        return [Write(self.path, self.value)]

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        now = door.read_optional(self.path)
        if now is None:
            return Problem(ProblemKind.GONE, f"{self.path} disappeared")
        if now.strip() != self.reads_as:
            return not_done(f"{self.path} reads {now.strip()!r}, not {self.reads_as!r}")
        return None

    def inverse(self) -> Action:
        return SetPolicy(self.path, self.before, self.before_reads_as, self.value, self.reads_as)
