"""Apply a Plan: lock, journal, write, verify, and roll back in reverse order.

Rules (architecture.md principle 7, user-needs.md §5):
  * one run at a time (flock), and none while an unfinished journal exists;
  * an intent event is journalled before each step;
  * every step is verified by reading back (driver link, block state, zone);
  * a failed step undoes what this run did in the failed unit, newest first;
  * what could not be undone is recorded and reported, and the journal stays
    so ``pmemctl rollback`` / ``pmemctl resume`` can finish later;
  * kmem is never unbound while a block of its device is online (the kernel
    would strand the memory until reboot): UnbindDevice(kmem) prechecks it.

The executor names no concrete action: each action's class attributes say
how it is journalled, bounded and waited for (ops/actions/base.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Optional

from pmemctl.errors import DamagedJournal, Interrupted, PmemctlError
from pmemctl.ops.actions.base import Action, ActionResult, StepStatus
from pmemctl.ops.batched_journal import BatchedJournal, with_taken
from pmemctl.ops.outcome import (
    Outcome,
    OutcomeStatus,
    any_undone,
    describe_state,
    recovery_hint,
    unfinished_error,
    units_of,
)
from pmemctl.ops.plan import Plan
from pmemctl.ops.signals import SignalShield
from pmemctl.ops.step_runner import StepRunner
from pmemctl.ops.steps import AlreadyDone, ApplyOptions, StepFailed, as_step_failed
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.sysfs.state import Journal, JournalRecord, RunLock

#: the step vocabulary lives in ops/steps.py; these names stay importable from here
__all__ = ["AlreadyDone", "ApplyOptions", "Executor", "StepFailed"]


class Executor(StepRunner):
    def __init__(self, door: SysfsRoot, opts: ApplyOptions | None = None) -> None:
        super().__init__(door, opts or ApplyOptions())
        self.journal = Journal(door)
        self._sig = SignalShield()
        self._started: Optional[int] = None  # the step whose write may have been made
        #: the first journal write that failed on a failure path (None: none did)
        self.journal_trouble: Optional[str] = None
        #: undos whose end state another agent made (the block was onlined
        #: by a udev rule first): the outcome says where that left things
        self._undone_by_others: list[Action] = []
        #: steps done by another action than planned (a spare block): their objects are reported too
        self._taken: list[Action] = []

    # -- a whole plan -------------------------------------------------------

    def apply(self, plan: Plan, *, locked: bool = False) -> Outcome:
        """Apply ``plan`` under the run lock (``locked``: the caller holds it)."""
        lock = None if locked else RunLock(self.door)
        if lock is not None:
            lock.acquire()
        try:
            pending = self.journal.load()
            if pending is not None:
                raise unfinished_error(pending.header, self.door.root)
            if plan.is_noop:
                out = Outcome(OutcomeStatus.NO_CHANGE, plan.title, already=list(plan.already),
                              message="nothing to do: " + ("; ".join(plan.already) or "already as requested"))
                return out
            with self._sig, self.door.burst():
                try:
                    self.journal.begin({"version": 1, "command": self.opts.command, "plan": plan.to_dict(),
                                        "units": [list(u) for u in units_of(plan)], "state": "applying"})
                except BaseException:
                    self.journal.discard()  # nothing was changed: leave no journal that blocks the next run
                    raise
                return self._guarded_units(plan, statuses={})
        finally:
            self._alarm.restore()
            if self._events is not None:
                self._events.close()
                self._events = None
            if lock is not None:
                lock.release()

    def _guarded_units(self, plan: Plan, statuses: dict[int, str]) -> Outcome:
        """:meth:`_apply_units` where a signal anywhere (not only inside a
        step) leaves an ``interrupted`` journal and exit 7."""
        try:
            return self._apply_units(plan, statuses)
        except KeyboardInterrupt:
            raise self._interrupted(None, plan) from None

    def _interrupted(self, i: Optional[int], plan: Plan, journal: Optional[BatchedJournal] = None) -> Interrupted:
        """Record an interruption (shielded from further signals)."""
        self._sig.shielded = True
        if journal is not None and i is not None:
            self._quietly(lambda: journal.interrupted(i))
        self._quietly(lambda: self.journal.set_state("interrupted"))
        self._quietly(self.journal.close)
        where = "" if i is None else f" during step {i + 1} of {len(plan.actions)} ({plan.actions[i].describe()})"
        return Interrupted(
            f"interrupted{where}; the steps done so far are recorded in the journal",
            hint=recovery_hint(self.door.root, "undo them", "finish", "shows where it stopped"),
        )

    def _quietly(self, write: Callable[[], object]) -> None:
        """A journal write on a failure path: a full or broken journal must not
        stop the undo (the outcome then says the journal may be incomplete)."""
        try:
            write()
        except (OSError, PmemctlError) as err:
            self.journal_trouble = self.journal_trouble or str(err)

    def _step(self, journal: BatchedJournal, i: int, action: Action, results: list[ActionResult]) -> Optional[Action]:
        """Take one step: the action carried out, None when it was skipped (its end state was there)."""
        self._started = None
        if self._sig.pending is not None:
            raise KeyboardInterrupt  # a signal came during a shielded undo: stop here
        if self.opts.before_step is not None:
            self.opts.before_step(i, action)
        if action.skippable and not action.write_detects_done and action.satisfied(self.door):
            journal.skip(i)
            results.append(ActionResult(action, StepStatus.SKIPPED))
            return None
        journal.start(i, action)
        self._started = i
        try:
            taken = self._run_block_step(action) if action.block_step else self.run_action(action)
        except AlreadyDone:
            journal.skip(i)
            results.append(ActionResult(action, StepStatus.SKIPPED))
            return None
        journal.done(i, action, taken)
        if taken is not action:
            self._taken.append(taken)
        return taken

    def _took_effect(self, action: Action) -> bool:
        try:
            return action.satisfied(self.door)
        except (OSError, PmemctlError):
            return False

    def _failed(self, journal: BatchedJournal, i: int, action: Action, err: StepFailed,
                results: list[ActionResult]) -> StepFailed:
        self._quietly(lambda: journal.fail(i, err.errno))
        try:
            action.after_failure(self.door)
        except (OSError, PmemctlError):
            pass  # a clean-up only: the rollback and the read-back decide
        results.append(ActionResult(action, StepStatus.FAILED, err.message, err.errno))
        return err

    def _apply_units(self, plan: Plan, statuses: dict[int, str]) -> Outcome:
        results: list[ActionResult] = []
        changed_units: list[str] = []
        failed_units: list[str] = []
        plan_blocks = plan.block_count()  # once: it walks every action
        total_blocks = plan_blocks or len(plan.actions)
        # about 500 progress updates a run (a bar redraws 10 times a second:
        # one per block of 49,152 cost more than the walk): every block
        # step of a small plan, the last one always
        every, shown = -(-total_blocks // 512), -1
        done_blocks = 0
        last_error = ""
        journal = BatchedJournal(self.journal, len(plan.actions))
        for label, start, stop in units_of(plan):
            done: list[tuple[int, Action]] = []
            unit_changed = False
            failure: Optional[StepFailed] = None
            for i in range(start, stop):
                action = plan.actions[i]
                if statuses.get(i) in ("done", "skip"):
                    done_blocks += action.blocks  # resume: the progress starts where the run stopped
                    if statuses[i] == "done":
                        done.append((i, action))
                    continue
                try:
                    taken = self._step(journal, i, action, results)
                    if taken is None:
                        done_blocks += action.blocks  # skipped (already so): counted, so the total is reached
                        continue
                except StepFailed as err:
                    failure = self._failed(journal, i, action, err, results)
                    break
                except KeyboardInterrupt:
                    raise self._interrupted(i, plan, journal) from None
                except Exception as err:  # noqa: BLE001 - any failure inside a step rolls its unit back
                    failure = self._failed(journal, i, action, as_step_failed(action, err), results)
                    if self._started == i and self._took_effect(action):  # written, then failed: undo it too
                        done.append((i, action))
                    break
                done.append((i, taken))
                unit_changed = True
                results.append(ActionResult(taken, StepStatus.DONE))
                if action.blocks:
                    done_blocks += action.blocks
                done_now = done_blocks if plan_blocks else i + 1
                if self.opts.progress is not None and (done_now - shown >= every or done_now >= total_blocks
                                                      or i + 1 == len(plan.actions)):
                    shown = done_now
                    self.opts.progress(done_now, total_blocks, action.describe())
            if failure is None:
                if unit_changed:
                    changed_units.append(label)
                continue
            last_error = failure.message
            failed_units.append(label)
            with self._sig.shield():  # the automatic undo is never abandoned half-way
                self._quietly(journal.flush)
                undo_ok = self._rollback(done, results)
                if not undo_ok:
                    self._quietly(lambda: self.journal.set_state("rollback-incomplete"))
                    self._quietly(self.journal.close)
                    return Outcome(
                        OutcomeStatus.ROLLBACK_INCOMPLETE, plan.title, results,
                        message=f"{failure.message}; undoing the earlier steps failed too",
                        machine_state=self.describe_state(plan), already=list(plan.already),
                        failed_units=failed_units, changed_units=changed_units,
                    )
        with self._sig.shield():
            journal.flush()
            if failed_units:
                status = (OutcomeStatus.PARTIAL if changed_units
                          else OutcomeStatus.ROLLED_BACK if any_undone(results) else OutcomeStatus.FAILED)
                message = last_error
            else:
                status = OutcomeStatus.CHANGED if changed_units else OutcomeStatus.NO_CHANGE
                message = plan.title if changed_units else "nothing to do: already as requested"
            summary = Outcome(status, plan.title, results, message=message,
                              machine_state=self.describe_state(plan), already=list(plan.already),
                              failed_units=failed_units, changed_units=changed_units)
            self.journal.finish({"state": "finished", "status": status.value})
        return summary

    def _rollback(self, done: list[tuple[int, Action]], results: list[ActionResult]) -> bool:
        """Undo ``done`` newest first.  Stops at the first undo that fails:
        going on could unbind kmem under online memory.  Any exception in an
        undo is an undo failure; journal trouble does not stop the undo."""
        ok = True
        for i, action in reversed(done):
            inverse = action.inverse()
            if inverse is None:
                continue
            self._forget(inverse)  # also when another agent made its end state
            try:
                if not inverse.satisfied(self.door):
                    self._quietly(partial(self.journal.event, i, "undo-start", sync=True))
                    try:
                        self.run_action(inverse)
                    except AlreadyDone:
                        self._undone_by_others.append(inverse)
                else:
                    self._undone_by_others.append(inverse)
                self._quietly(partial(self.journal.event, i, "undone", sync=True))
                results.append(ActionResult(inverse, StepStatus.UNDONE))
            except Exception as err:  # noqa: BLE001 - StepFailed, or anything else: the undo failed
                failed = err if isinstance(err, StepFailed) else as_step_failed(inverse, err)
                self._quietly(partial(self.journal.event, i, "undo-fail", err=failed.errno, sync=True))
                results.append(ActionResult(inverse, StepStatus.UNDO_FAILED, failed.message, failed.errno))
                ok = False
                break
        return ok

    # -- journal recovery ---------------------------------------------------

    def rollback_journal(self) -> Outcome:
        """Undo what an interrupted or failed run did (``pmemctl rollback``)."""
        lock = RunLock(self.door)
        lock.acquire()
        try:
            rec = self.journal.load()
            if rec is None:
                return Outcome(OutcomeStatus.NO_CHANGE, "rollback",
                               message="there is no unfinished change to roll back")
            plan = self._plan_of(rec)
            statuses = rec.statuses()
            with self._sig, self._sig.shield():  # a signal never abandons an undo half-way
                return self._undo_journal(rec, plan, statuses)
        finally:
            self._alarm.restore()
            lock.release()

    def _plan_of(self, rec: JournalRecord) -> Plan:
        try:  # with the steps that took another block than planned, as they did
            return with_taken(Plan.from_dict(rec.header["plan"]), rec.events)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise DamagedJournal(self.journal.header_path,
                                 f"it names a step this pmemctl does not know: {type(err).__name__} {err}",
                                 sysroot=self.door.root) from err

    def _undo_journal(self, rec: JournalRecord, plan: Plan, statuses: dict[int, str]) -> Outcome:
        self.journal.begin({**rec.header, "state": "rolling-back"}, append=True)
        done: list[tuple[int, Action]] = []
        for i, action in enumerate(plan.actions):
            st = statuses.get(i)
            # a step that started (or was interrupted) may have taken effect:
            # undo it if its end state is there.
            if st in ("done", "undo-fail", "undo-start") or (
                st in ("start", "interrupted", "fail") and action.satisfied(self.door)
            ):
                done.append((i, action))
            elif st in ("start", "interrupted", "fail"):
                action.after_failure(self.door)
        results: list[ActionResult] = []
        ok = self._rollback(done, results)
        title = f"roll back: {plan.title}"
        if not ok:
            self.journal.set_state("rollback-incomplete")
            self.journal.close()
            return Outcome(OutcomeStatus.ROLLBACK_INCOMPLETE, title, results, message="undoing a step failed",
                           machine_state=self.describe_state(plan))
        self.journal.finish({"state": "rolled-back", "status": "rolled-back"})
        status = OutcomeStatus.ROLLED_BACK if any_undone(results) else OutcomeStatus.NO_CHANGE
        undone = sum(r.status is StepStatus.UNDONE for r in results)
        return Outcome(status, title, results, message=f"undid {undone} step(s)",
                       machine_state=self.describe_state(plan))

    def resume_journal(self) -> Outcome:
        """Finish what an interrupted run started (``pmemctl resume``)."""
        lock = RunLock(self.door)
        lock.acquire()
        try:
            rec = self.journal.load()
            if rec is None:
                return Outcome(OutcomeStatus.NO_CHANGE, "resume", message="there is no unfinished change to resume")
            plan = self._plan_of(rec)
            statuses = {i: s for i, s in rec.statuses().items() if s in ("done", "skip")}
            with self._sig:
                self.journal.begin({**rec.header, "state": "resuming"}, append=True)
                return self._guarded_units(plan, statuses)
        finally:
            self._alarm.restore()
            lock.release()

    def describe_state(self, plan: Plan) -> list[str]:
        """Where each device and block the plan touched now is, and where the
        undos another agent finished first left things (never raises)."""
        return describe_state(self.door, plan, self._undone_by_others, self._seen, self._taken)
