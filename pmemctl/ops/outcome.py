"""What a run of a plan came to: its status, its steps, its exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pmemctl.errors import ExitCode
from pmemctl.ops.actions.base import ActionResult, TextEnum


class OutcomeStatus(TextEnum):
    """How a run ended (each maps to one exit code: Outcome.EXIT)."""

    CHANGED = "changed"
    NO_CHANGE = "no-change"
    PARTIAL = "partial"
    ROLLED_BACK = "rolled-back"
    ROLLBACK_INCOMPLETE = "rollback-incomplete"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass
class Outcome:
    status: OutcomeStatus
    title: str
    results: list[ActionResult] = field(default_factory=list)
    message: str = ""
    machine_state: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failed_units: list[str] = field(default_factory=list)
    changed_units: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "title": self.title,
            "message": self.message,
            "machine_state": list(self.machine_state),
            "already": list(self.already),
            "changed_units": list(self.changed_units),
            "failed_units": list(self.failed_units),
            "steps": [
                {"action": r.action.describe(), "kind": r.action.kind, "status": r.status.value,
                 "error": r.error, "errno": r.errno}
                for r in self.results
            ],
        }


#: how each ending maps to a documented exit code
EXIT_CODES: dict[OutcomeStatus, ExitCode] = {
    OutcomeStatus.CHANGED: ExitCode.OK,
    OutcomeStatus.NO_CHANGE: ExitCode.NO_CHANGE,
    OutcomeStatus.PARTIAL: ExitCode.PARTIAL,
    OutcomeStatus.ROLLED_BACK: ExitCode.ROLLED_BACK,
    OutcomeStatus.ROLLBACK_INCOMPLETE: ExitCode.ROLLBACK_INCOMPLETE,
    OutcomeStatus.FAILED: ExitCode.FAILED,
    OutcomeStatus.INTERRUPTED: ExitCode.ROLLBACK_INCOMPLETE,
}
