"""Intent events for the executor's apply loop, cheap enough for block walks."""

from __future__ import annotations

from typing import Optional

from pmemctl.ops.actions.base import Action, JournalPolicy
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

    def done(self, i: int, action: Action) -> None:
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
