"""A Plan: the ordered actions of one change, plus what was checked first.

Plans are pure data.  ``--dry-run`` renders a plan and stops; apply executes
the very same object, so what is shown is what is done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from pmemctl.ops.actions.base import Action, Write
from pmemctl.ops.actions.registry import action_from_dict


@dataclass(frozen=True)
class Check:
    """One pre-check.  ``ok`` False with ``override`` set means the named flag
    (e.g. ``--force``) lets the user proceed anyway; without it, it is final."""

    name: str
    ok: bool
    message: str
    override: Optional[str] = None
    warning: bool = False  # True: shown, never blocks


@dataclass(frozen=True)
class Plan:
    title: str
    actions: tuple[Action, ...]
    checks: tuple[Check, ...] = ()
    already: tuple[str, ...] = ()  # targets already in the requested state
    notes: tuple[str, ...] = ()  # rounding, chosen blocks, resolved identities
    destructive: bool = False  # needs --yes or a confirmation on a TTY
    consent: Optional[str] = None  # what the user consents to (shown in the prompt)
    targets: tuple[str, ...] = ()  # object names this plan changes
    #: (label, start, stop) action groups that succeed or roll back together;
    #: empty = the whole plan is one unit
    units: tuple[tuple[str, int, int], ...] = ()

    @property
    def is_noop(self) -> bool:
        return not self.actions

    @property
    def refusals(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok and not c.warning)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.warning)

    def blocking(self, overrides: set[str]) -> tuple[Check, ...]:
        """Refusals not lifted by the overrides the user gave (e.g. {"--force"})."""
        return tuple(c for c in self.refusals if c.override is None or c.override not in overrides)

    def writes(self) -> list[Write]:
        return [w for a in self.actions for w in a.writes()]

    def shell_lines(self) -> list[str]:
        return [w.shell() for w in self.writes()]

    def block_count(self) -> int:
        return sum(a.blocks for a in self.actions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "actions": [a.to_dict() for a in self.actions],
            "already": list(self.already),
            "notes": list(self.notes),
            "destructive": self.destructive,
            "targets": list(self.targets),
            "units": [list(u) for u in self.units],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Plan":
        return cls(
            title=data["title"],
            actions=tuple(action_from_dict(a) for a in data["actions"]),
            already=tuple(data.get("already", ())),
            notes=tuple(data.get("notes", ())),
            destructive=bool(data.get("destructive", False)),
            targets=tuple(data.get("targets", ())),
            units=tuple((str(u[0]), int(u[1]), int(u[2])) for u in data.get("units", ())),
        )


@dataclass
class PlanBuilder:
    """Small mutable helper the planners use; ``build()`` freezes it."""

    title: str
    actions: list[Action] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    destructive: bool = False
    consent: Optional[str] = None
    units: list[tuple[str, int, int]] = field(default_factory=list)
    _unit: Optional[tuple[str, int]] = None

    def begin_unit(self, label: str) -> None:
        """Start a group of actions that succeed or roll back together."""
        self.end_unit()
        self._unit = (label, len(self.actions))

    def end_unit(self) -> None:
        if self._unit is not None:
            label, start = self._unit
            if len(self.actions) > start:
                self.units.append((label, start, len(self.actions)))
            self._unit = None

    def refuse(self, name: str, message: str, override: Optional[str] = None) -> None:
        self.checks.append(Check(name, False, message, override))

    def warn(self, name: str, message: str) -> None:
        self.checks.append(Check(name, False, message, None, warning=True))

    def passed(self, name: str, message: str) -> None:
        self.checks.append(Check(name, True, message))

    def build(self) -> Plan:
        self.end_unit()
        if self.units:  # actions outside any unit form their own units
            covered = {i for _, a, b in self.units for i in range(a, b)}
            for i in range(len(self.actions)):
                if i not in covered:
                    self.units.append((self.actions[i].describe(), i, i + 1))
            self.units.sort(key=lambda u: u[1])
        return Plan(
            title=self.title,
            actions=tuple(self.actions),
            checks=tuple(self.checks),
            already=tuple(self.already),
            notes=tuple(self.notes),
            destructive=self.destructive,
            consent=self.consent,
            targets=tuple(self.targets),
            units=tuple(self.units),
        )
