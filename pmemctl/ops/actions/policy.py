"""Machine-wide policy steps: one write to a runtime knob whose old value is
kept so the step can be undone (``auto_online_blocks``, ``demotion_enabled``).

Values: Documentation/admin-guide/mm/memory-hotplug.rst (auto_online_blocks),
Documentation/ABI/testing/sysfs-kernel-mm-numa (demotion_enabled reads
``true``/``false`` and accepts kstrtobool input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from pmemctl.ops.actions.base import Action, JournalPolicy, Problem, Write, not_done
from pmemctl.sysfs.door import SysfsRoot


@dataclass(frozen=True)
class SetPolicy(Action):
    """Write ``value`` to the policy attribute ``path``; ``previous`` is what
    it read before, for the inverse."""

    path: str
    value: str
    previous: str
    kind: ClassVar[str] = "set-policy"
    journal: ClassVar[JournalPolicy] = JournalPolicy.SYNC

    def describe(self) -> str:
        return f"set {self.path} from {self.previous} to {self.value}"

    def writes(self) -> list[Write]:
        return [Write(self.path, self.value)]

    def verify(self, door: SysfsRoot) -> Optional[Problem]:
        now = door.read_optional(self.path)
        if now is None:
            return not_done(f"{self.path} is gone")
        if _normal(now) != _normal(self.value):
            return not_done(f"{self.path} reads {now}, not {self.value}")
        return None

    def inverse(self) -> Action:
        return SetPolicy(self.path, self.previous, self.value)


def _normal(text: str) -> str:
    """``1``/``true`` and ``0``/``false`` are the same boolean for demotion_enabled."""
    word = text.strip().lower()
    return {"1": "true", "y": "true", "0": "false", "n": "false"}.get(word, word)
