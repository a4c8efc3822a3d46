"""Intent events for the executor's apply loop, cheap enough for block walks."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional, Sequence

from pmemctl.ops.actions.base import Action, JournalPolicy
from pmemctl.ops.actions.registry import action_from_dict
from pmemctl.ops.plan import Plan
from pmemctl.sysfs.state import Journal


class BatchedJournal:
    """Intent events for the apply loop, cheap enough for block walks.

    Driver binds and unbinds get their own fsync'ed start/done events.  Block
    actions are journalled in batches: one "start" event announces the intent
    for up to BATCH following steps, and one "done" event records each run of
    steps that completed.  After a crash, a step inside an announced batch
    that has no "done" is checked against the machine (satisfied or not) by
    ``pmemctl rollback``, exactly like a single started step.
    """

    BATCH = 64

    def __init__(self, journal: Journal, n_actions: int) -> None:
        self.j = journal
        self.n = n_actions
        self.announced_to = 0  # steps below this index have an intent event
        self.run_from: Optional[int] = None  # first step of the current done-run
        self.run_to = 0

    def start(self, i: int, action: Action) -> None:
        if action.journal is not JournalPolicy.BATCH:
            self.flush()
            self.j.event(i, "start", sync=action.journal is JournalPolicy.SYNC)
            return
        if i >= self.announced_to:
            self.flush()
            self.announced_to = min(i + self.BATCH, self.n)
            self.j.event(i, "start", to=self.announced_to)

    def done(self, i: int, action: Action, taken: Optional[Action] = None) -> None:
        """Step ``i`` is done; ``taken``: the action carried out, recorded
        (fsync'ed, as ``took``) when it is not ``action`` (a spare block)."""
        if taken is not None and taken is not action:
            self.flush()
            self.j.event(i, "done", sync=True, took=taken.to_dict())
            return
        if action.journal is not JournalPolicy.BATCH:
            self.j.event(i, "done", sync=action.journal is JournalPolicy.SYNC)
            return
        if self.run_from is None or i != self.run_to:
            self.flush()
            self.run_from = i
        self.run_to = i + 1

    def skip(self, i: int) -> None:
        self.flush()
        self.j.event(i, "skip")

    def fail(self, i: int, err: Optional[int]) -> None:
        self.flush()
        self.j.event(i, "fail", err=err)
        if i + 1 < self.announced_to:
            self.j.event(i + 1, "not-run", to=self.announced_to)
        self.announced_to = i + 1

    def interrupted(self, i: int) -> None:
        self.flush()
        self.j.event(i, "interrupted", sync=True)

    def flush(self) -> None:
        if self.run_from is not None:
            if self.run_to - self.run_from == 1:
                self.j.event(self.run_from, "done")
            else:
                self.j.event(self.run_from, "done", to=self.run_to)
            self.run_from = None


def with_taken(plan: Plan, events: Sequence[dict[str, Any]]) -> Plan:
    """``plan`` with each step whose "done" event records another action
    (``took``: the spare block offlined instead of a busy one) replaced by
    it, so a rollback or resume in another process undoes what was done."""
    taken = {int(ev["i"]): ev["took"] for ev in events
             if ev.get("e") == "done" and "i" in ev and isinstance(ev.get("took"), dict)}
    if not taken:
        return plan
    actions = list(plan.actions)
    for i, data in taken.items():
        if 0 <= i < len(actions):
            actions[i] = action_from_dict(data)
    return replace(plan, actions=tuple(actions))
