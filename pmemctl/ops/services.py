"""The services behind the mutating commands: plan, check consent, apply.

Each mutating command calls one function here (the read commands call
ops/read.py).  ``run_plan`` is the shared policy:
  1. refusals that no flag lifts, or that the user did not lift, stop the run
     before the first write (Refused, exit 5);
  2. ``--dry-run`` returns the plan without touching anything;
  3. a destructive plan needs ``--yes`` or a "yes" from the confirm callback
     (the CLI asks only on a TTY);
  4. the executor applies it (lock, journal, verify, rollback).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Optional

from pmemctl.commandline import command_line
from pmemctl.errors import DamagedJournal, ExitCode, Locked, Refused
from pmemctl.model.discover import discover
from pmemctl.model.records import Topology
from pmemctl.ops.batched_journal import with_taken
from pmemctl.ops.executor import Executor
from pmemctl.ops.outcome import Outcome, OutcomeStatus, describe_state
from pmemctl.ops.plan import Plan
from pmemctl.ops.plan.blocks import plan_offline, plan_online
from pmemctl.ops.plan.combined import plan_reconfigure
from pmemctl.ops.plan.namespace import SizePlan, plan_create, plan_destroy, plan_reconfigure_namespace, plan_size
from pmemctl.ops.requests import (
    BlockRequest,
    CreateRequest,
    DestroyRequest,
    NsReconfigureRequest,
    ReconfigureRequest,
    SizePlanRequest,
)
from pmemctl.ops.steps import ApplyOptions
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.sysfs.state import Journal, JournalRecord, LockHolder, RunLock, lock_holder

Confirm = Callable[[Plan], bool]


@dataclass(frozen=True)
class RunOptions:
    dry_run: bool = False
    yes: bool = False
    force: bool = False
    confirm: Optional[Confirm] = None  # asked when destructive and not --yes
    apply: ApplyOptions = field(default_factory=ApplyOptions)
    #: told the plan once it is cleared to run, before the first write (the
    #: CLI prints it then, so a long run shows what it does before doing it)
    before_apply: Optional[Callable[[Plan], None]] = None

    @property
    def overrides(self) -> set[str]:
        return {"--force"} if self.force else set()


@dataclass
class ChangeResult:
    plan: Plan
    outcome: Optional[Outcome]  # None for --dry-run
    dry_run: bool
    #: the options given that lift refusals (``--force``): a refused check
    #: they lift reads OVERRIDDEN
    overrides: frozenset[str] = frozenset()


def run_plan(door: SysfsRoot, plan: Plan, opts: RunOptions, *, locked: bool = False) -> ChangeResult:
    """Refuse, show, ask, or apply ``plan`` (the module docstring's policy);
    ``locked``: the caller holds the run lock (the plan was made under it)."""
    blocking = plan.blocking(opts.overrides)
    if blocking and not opts.dry_run:
        first = blocking[0]
        hint = f"add {first.override} to do it anyway" if first.override else "nothing was changed"
        more = f" (and {len(blocking) - 1} more check(s); see --dry-run)" if len(blocking) > 1 else ""
        raise Refused(f"{plan.title}: {first.message}{more}", hint=hint)
    if opts.dry_run:
        return ChangeResult(plan, None, True, frozenset(opts.overrides))
    if plan.destructive and plan.actions and not opts.yes:
        if opts.confirm is None or not opts.confirm(plan):
            raise Refused(
                f"{plan.title} is destructive: {plan.consent or 'it cannot be undone without data loss'}",
                hint="run again with --yes to confirm (or --dry-run to see the plan)",
            )
    if opts.before_apply is not None and plan.actions:
        opts.before_apply(plan)
    outcome = Executor(door, opts.apply).apply(plan, locked=locked)
    return ChangeResult(plan, outcome, False, frozenset(opts.overrides))


def _planned_and_run(door: SysfsRoot, make_plan: Callable[[], Plan], opts: RunOptions) -> ChangeResult:
    """Read the machine, plan, check, ask and apply, all under the run lock
    (issue 16, item 8): no other pmemctl run can change the machine between
    the plan the user saw (and agreed to) and the steps.  Not planning twice
    keeps a 49,152-block change as fast as before.

    A dry run takes no lock (it writes nothing); nor does an ordinary user
    on the running machine, whose plan the root check refuses (the lock is
    root's: no file of theirs in /run/lock).  A refused run on a tree leaves
    the lock file there: pmemctl's own, not a change to the machine."""
    if opts.dry_run or (door.is_host and os.geteuid() != 0):
        return run_plan(door, make_plan(), opts)
    with RunLock(door):
        return run_plan(door, make_plan(), opts, locked=True)


def exit_code_for(result: ChangeResult, force: bool) -> ExitCode:
    """The one exit-code rule of a change.  A dry run exits as the real run
    would start: REFUSED if a check refuses, NO_CHANGE if there is nothing to
    do, else OK; a real run exits with its outcome's code."""
    if result.outcome is None:
        plan = result.plan
        if plan.blocking({"--force"} if force else set()):
            return ExitCode.REFUSED
        return ExitCode.NO_CHANGE if plan.is_noop else ExitCode.OK
    return result.outcome.exit_code


def recovery_exit_code(command: str, outcome: Outcome) -> ExitCode:
    """The exit status of ``rollback``/``resume``: a rollback that undid
    everything did what was asked, so it exits OK (and says so, in words and
    in its JSON ``exit_code``); otherwise the outcome's own exit code."""
    if command == "rollback" and outcome.status is OutcomeStatus.ROLLED_BACK:
        return ExitCode.OK
    return outcome.exit_code


def reconfigure(door: SysfsRoot, req: ReconfigureRequest, opts: RunOptions) -> ChangeResult:
    # -> devdax offlines the selected device's online blocks (their zone and
    # removable): one device named reads only its blocks; -> system-ram needs
    # the zone ratio (every online block's zone)
    if req.mode == "devdax":
        one = req.selector if len(req.selectors) == 1 else None
        return _planned_and_run(door, lambda: plan_reconfigure(door, _device_topology(door, OFFLINE_FIELDS, one), req),
                                opts)
    return _planned_and_run(
        door, lambda: plan_reconfigure(door, discover(door, block_fields=ONLINE_FIELDS), req), opts)


def _device_topology(door: SysfsRoot, fields: frozenset[str], selector: Optional[str],
                     zone_ratio: bool = False) -> Topology:
    """The snapshot a change of the dax device ``selector`` names needs: the
    blocks of that device alone when the selector is its name (the others'
    memory counted per node from /proc/zoneinfo: model/discover.py
    ``only_device``), else the blocks of every dax device; never boot
    memory's blocks one by one.  None (``--blocks``): every block.
    ``zone_ratio``: the plan needs every online block's zone (the nodes'
    figures), so where every block is read all their zones are too."""
    if selector is None:
        return discover(door, block_fields=fields)
    return discover(door, block_fields=fields, block_scope="nodes", only_device=selector,
                    detail_device=None if zone_ratio else selector)


#: what the block planners need from each block (no more: 49,152 blocks)
ONLINE_FIELDS = frozenset({"state", "online_zones"})  # zone ratios: the online blocks' zones
#: offlining (and devdax) needs the zone and removable of the online blocks only
OFFLINE_FIELDS = frozenset({"state", "online_zones", "sampled_removable"})


def online(door: SysfsRoot, req: BlockRequest, opts: RunOptions) -> ChangeResult:
    device = req.device if req.blocks is None else None  # --blocks may name any block
    return _planned_and_run(
        door, lambda: plan_online(door, _device_topology(door, ONLINE_FIELDS, device, zone_ratio=True), req), opts)


def offline(door: SysfsRoot, req: BlockRequest, opts: RunOptions) -> ChangeResult:
    device = req.device if req.blocks is None else None  # only the named device's blocks are offlined
    return _planned_and_run(
        door, lambda: plan_offline(door, _device_topology(door, OFFLINE_FIELDS, device), req), opts)


def namespace_create(door: SysfsRoot, req: CreateRequest, opts: RunOptions) -> ChangeResult:
    return _planned_and_run(door, lambda: plan_create(door, discover(door, with_blocks=False), req), opts)


def namespace_reconfigure(door: SysfsRoot, req: NsReconfigureRequest, opts: RunOptions) -> ChangeResult:
    return _planned_and_run(door, lambda: plan_reconfigure_namespace(door, discover(door), req), opts)


def namespace_destroy(door: SysfsRoot, req: DestroyRequest, opts: RunOptions) -> ChangeResult:
    return _planned_and_run(door, lambda: plan_destroy(door, discover(door), req), opts)


def namespace_size_plan(door: SysfsRoot, req: SizePlanRequest) -> SizePlan:
    """Which namespace size yields exactly the system RAM asked for (reads only)."""
    return plan_size(door, discover(door, with_blocks=False), req)


def rollback(door: SysfsRoot, opts: RunOptions) -> Outcome:
    return Executor(door, opts.apply).rollback_journal()


def resume(door: SysfsRoot, opts: RunOptions) -> Outcome:
    return Executor(door, opts.apply).resume_journal()


def recovery_plan(door: SysfsRoot, command: str) -> Plan:
    """What ``rollback`` or ``resume`` would do now (their ``--dry-run``):
    the undo steps newest first, or the steps left, each with its writes.
    Reads only: no lock is taken, nothing is written.  Refused as the real
    command is while another run holds the lock; a damaged journal raises
    DamagedJournal as it does."""
    running = lock_holder(door)
    if running is not None:
        pid = f" (pid {running.pid})" if running.pid else ""
        raise Locked(f"another pmemctl run{pid} is changing this machine, so there is nothing to {command} yet",
                     hint=f"wait for it to finish, then run '{command_line('status', sysroot=door.root)}'")
    journal = Journal(door)
    rec = journal.load()
    if rec is None:
        return Plan(f"{command}: there is no unfinished change to {command}", ())
    try:  # with the steps that took another block than planned (a spare), as they did
        plan = with_taken(Plan.from_dict(rec.header["plan"]), rec.events)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DamagedJournal(journal.header_path, f"it names a step this pmemctl does not know: {err}",
                             sysroot=door.root) from err
    statuses = rec.statuses()
    notes = [f"the unfinished change: {plan.title} (started {rec.header.get('started', '?')}, "
             f"state {rec.header.get('state', '?')}, {sum(s == 'done' for s in statuses.values())} of "
             f"{len(plan.actions)} step(s) done)"]
    if command == "rollback":
        taken = [a for i, a in enumerate(plan.actions) if statuses.get(i) in ("done", "undo-fail", "undo-start")
                 or (statuses.get(i) in ("start", "interrupted", "fail") and a.satisfied(door))]
        inverses = [inv for inv in (a.inverse() for a in reversed(taken)) if inv is not None]
        actions = [inv for inv in inverses if not inv.satisfied(door)]
        if len(actions) < len(inverses):
            notes.append(f"{len(inverses) - len(actions)} step(s) are already undone on the machine")
        title = f"roll back: {plan.title} (undo steps, newest first)"
    else:
        actions = [a for i, a in enumerate(plan.actions) if statuses.get(i) not in ("done", "skip")
                   and not (a.skippable and a.satisfied(door))]
        title = f"resume: {plan.title} (the steps left)"
    return Plan(title, tuple(actions), notes=tuple(notes), targets=plan.targets)


@dataclass
class Status:
    unfinished: Optional[dict[str, object]]
    last_run: Optional[dict[str, object]]
    #: the pmemctl run holding the lock right now, if one does: the journal
    #: is then its live record, not something to resume or roll back
    running: Optional[LockHolder] = None
    #: why the journal could not be read (its directory is root's, mode 0700,
    #: and this is not root); None when it was read
    unreadable: Optional[str] = None

    @property
    def in_progress(self) -> bool:
        return self.running is not None


def status(door: SysfsRoot) -> Status:
    """An unfinished change (journal), the summary of the last finished run,
    and the run changing the machine now (the lock holder), if any.

    Without root the state directory (0700, root's) cannot be read: that is
    reported as ``unreadable`` rather than as a damaged journal, as the other
    read commands report root-only attributes as unknown."""
    running = lock_holder(door)
    ex = Executor(door)
    try:
        rec = ex.journal.load()
    except DamagedJournal as err:
        if not isinstance(err.__cause__, PermissionError) or os.geteuid() == 0:
            raise
        return Status(None, None, running, unreadable=f"{err.path} can be read only by root")
    unfinished = None
    if rec is not None:
        statuses = rec.statuses()
        unfinished = {
            "title": rec.header.get("plan", {}).get("title"),
            "command": rec.header.get("command"),
            "state": rec.header.get("state"),
            "started": rec.header.get("started"),
            "pid": rec.header.get("pid"),
            "steps": len(rec.header.get("plan", {}).get("actions", [])),
            "steps_done": sum(1 for s in statuses.values() if s == "done"),
        }
    return Status(unfinished, ex.journal.last_run(), running)


# --------------------------------------------------------------------------
# journal abandon


@dataclass
class Abandoned:
    """What ``journal abandon`` found, and what it did (nothing for a dry run)."""

    unfinished: Optional[dict[str, object]]  # as status shows it; None when the journal cannot be read
    damaged: Optional[str]  # why the journal cannot be read, naming the file
    machine_state: list[str]  # where the devices and blocks it touched are now: left as they are
    archived: list[str]  # the journal files' new names ([] for a dry run)
    dry_run: bool


ConfirmAbandon = Callable[[Abandoned], bool]


def abandon_journal(door: SysfsRoot, *, dry_run: bool = False, yes: bool = False,
                    confirm: Optional[ConfirmAbandon] = None) -> Optional[Abandoned]:
    """Give up an unfinished change (``pmemctl journal abandon``): archive its
    journal so that new changes are allowed again.  Nothing on the machine is
    written: it stays as the unfinished change left it, and the result says
    what that is.  Works on a journal that cannot be read too (the way out
    when rollback can never finish).  None when there is no journal.

    Under the run lock, so a journal of a run still going is never taken
    (Locked, exit 10); giving up rollback and resume needs ``yes`` or a
    ``confirm``, else Refused (exit 5).
    """
    if not dry_run and door.is_host and os.geteuid() != 0:
        raise Refused("abandoning the journal needs root", hint="run it with sudo")
    lock = None if dry_run else RunLock(door)
    if lock is not None:
        lock.acquire()
    try:
        journal = Journal(door)
        try:
            rec, damaged = journal.load(), None
        except DamagedJournal as err:
            rec, damaged = None, f"{err.path}: {err.state}"
        if rec is None and damaged is None:
            return None
        found = Abandoned(status(door).unfinished if rec is not None else None, damaged,
                          _state_left(door, rec), [], dry_run)
        if dry_run:
            return found
        if not yes and (confirm is None or not confirm(found)):
            raise Refused(
                "abandoning the journal gives up 'rollback' and 'resume' for the unfinished change; "
                "the machine is left as it is",
                hint="run again with --yes to confirm (or --dry-run to see what would be kept)",
            )
        found.archived = journal.abandon()
        return found
    finally:
        if lock is not None:
            lock.release()


def _state_left(door: SysfsRoot, rec: Optional[JournalRecord]) -> list[str]:
    """describe_state for the journal's plan, or why it cannot be told."""
    unknown = [
        "which devices and blocks the unfinished change touched cannot be read from its journal: check the "
        f"machine with '{command_line('list', sysroot=door.root)}' and "
        f"'{command_line('blocks', sysroot=door.root)}'"
    ]
    if rec is None:
        return unknown
    try:
        plan = Plan.from_dict(rec.header["plan"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return unknown
    return describe_state(door, plan)
