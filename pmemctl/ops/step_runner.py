"""One step of a plan: carry it out, wait for it, and read it back (the
executor's half that knows no plan, journal or rollback: ops/executor.py).

Every write is bounded when its action says so (SIGALRM: ops/signals.py)
and read back; a write the kernel refuses as "already so" (EINVAL from
``memoryN/state``) is decided by the read-back.  A memory block step
(``Action.block_step``) takes the short path: its one write, then the read
of that same file, with nothing else on the way (block walks: 49,152 of them).
"""

from __future__ import annotations

import errno
import time
from typing import Optional

from pmemctl.errors import KernelError, PmemctlError
from pmemctl.ops.actions.base import Action, ProblemKind, Write
from pmemctl.ops.signals import RunAlarm
from pmemctl.ops.steps import AlreadyDone, ApplyOptions, StepFailed
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.sysfs.udev import BlockEvents, open_block_events


class StepRunner:
    """Carries out and verifies one action at a time on ``door``."""

    def __init__(self, door: SysfsRoot, opts: ApplyOptions) -> None:
        self.door = door
        self.opts = opts
        self._events: Optional[BlockEvents] = None
        self._alarm = RunAlarm()
        #: memory block states this run read back since its last driver
        #: change (index -> state, None: absent): prechecks and the outcome
        #: reuse them instead of reading every block again
        self._seen: dict[int, Optional[str]] = {}

    def _write(self, action: Action, w: Write) -> None:
        """One write of ``action``: bounded when the action says so; errnos
        the write expects are not errors (the read-back decides)."""
        try:
            if action.bounded and self.opts.offline_timeout:
                self._alarm.write(self.opts.offline_timeout, self.door.write, w.path, w.value)
            else:
                self.door.write(w.path, w.value)
        except TimeoutError:
            raise StepFailed(
                f"{action.describe()}: the kernel did not finish within {self.opts.offline_timeout:g} s "
                "(pages that cannot be migrated, e.g. pinned or in use by the kernel)",
                errno.ETIMEDOUT,
            ) from None
        except KernelError as err:
            if err.errno not in w.ignore_errnos:
                raise

    def _apply(self, action: Action) -> Optional[Action]:
        try:
            return action.apply(self.door, lambda w: self._write(action, w))
        except KernelError as err:
            raise self._refused(action, err) from err
        except PmemctlError as err:
            raise StepFailed(f"{action.describe()}: {err.sentence()}", getattr(err, "errno", None)) from err

    def _refused(self, action: Action, err: KernelError) -> Exception:
        """What a write the kernel refused means for the step: AlreadyDone
        or StepFailed (to raise)."""
        if action.write_detects_done:
            # EINVAL: the block was already in that state (another agent,
            # or it was so before).  The read-back decides, and names a
            # wrong zone if so.
            problem = action.verify(self.door)
            if problem is None:
                return AlreadyDone()
            if problem.kind is ProblemKind.CONFLICT:
                return StepFailed(f"{action.describe()}: {problem}", err.errno)
        return StepFailed(f"{action.describe()}: {err.sentence()}", err.errno)

    def _run_block_step(self, action: Action) -> Action:
        """:meth:`run_action` of a :attr:`~Action.block_step`, with nothing
        but its write and the read-back of that same file on the way (block
        walks: 49,152 of them)."""
        w = action.state_write()
        self._seen.pop(action.index, None)  # type: ignore[attr-defined]  # block steps have an index
        try:
            self._write(action, w)
        except KernelError as err:
            raise self._refused(action, err) from err
        except PmemctlError as err:
            raise StepFailed(f"{action.describe()}: {err.sentence()}", getattr(err, "errno", None)) from err
        state = self.door.read_optional(w.path)
        problem = action.state_problem(state)
        if problem is not None:
            raise StepFailed(f"{action.describe()}: {problem}")
        self._seen[action.index] = state  # type: ignore[attr-defined]
        return action

    def _wait(self, action: Action, timeout: float) -> Optional[str]:
        """Wait for an action's end state: on memory uevents where pyudev can
        listen (the running machine) and the action says uevents announce it,
        by polling sysfs elsewhere."""
        end = time.monotonic() + timeout
        problem = action.verify(self.door)
        delay = self.opts.poll_interval
        while problem is not None:
            left = end - time.monotonic()
            if left <= 0:
                break
            if action.uevents and self._events is None and self.door.is_host:
                # The kernel usually adds the blocks before new_id returns, so
                # a monitor is started only when they are not there yet; the
                # condition is re-checked right after, so no uevent is missed.
                self._events = open_block_events(self.door)
                if self._events is not None:
                    problem = action.verify(self.door)
                    continue
            if self._events is not None and action.uevents:
                self._events.wait(min(left, 0.5))
            else:
                time.sleep(min(delay, left))
                delay = min(delay * 2, 0.25)
            problem = action.verify(self.door)
        return None if problem is None else str(problem)

    def run_action(self, action: Action) -> Action:
        """Carry out and verify one step; returns the action carried out (a
        spare block's, when the step took one instead: ops/actions/offline_any.py)."""
        if action.block_step:
            return self._run_block_step(action)
        refusal = action.precheck(self.door)
        if refusal is not None:
            raise StepFailed(str(refusal))
        self._forget(action)
        taken = self._apply(action)
        if taken is not None:  # a spare block instead: its state changed, not the planned one's
            self._forget(taken)
            action = taken
        if action.settles:
            problem = self._wait(action, self.opts.wait_timeout)
        else:
            found, states = action.read_back(self.door)
            if found is None:
                self._seen.update(states)
            problem = None if found is None else str(found)
        if problem is not None:
            raise StepFailed(f"{action.describe()}: {problem}")
        return action

    def _forget(self, action: Action) -> None:
        """Drop the block states ``action`` may change from what the run has seen."""
        touched = action.touches()
        if touched.devices or not touched.blocks:
            self._seen.clear()  # a driver (or other) change may change any block: read them afresh
        else:
            for i in touched.blocks:
                self._seen.pop(i, None)
