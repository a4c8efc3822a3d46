"""``pmemctl apply``: layout -> matched against the machine -> one plan from
the existing planners -> run by ops.services.run_plan (refusals, consent,
lock, journal, verify, rollback) -> verified by assessing again.

A converged machine is read, never written: no lock, no journal, no write
(exit 3).  ``check`` (``--check``) only assesses: exit 11 when the machine
differs.  A journal left by an earlier boot (its ``boot_id`` is not this
boot's) describes memory that no longer exists: it is reported and archived
(as ``journal abandon`` does), never allowed to block the boot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from pmemctl.errors import DamagedJournal, ExitCode
from pmemctl.model.discover import BLOCK_FIELDS, discover
from pmemctl.model.records import Topology
from pmemctl.ops.layout.load import load_layout
from pmemctl.ops.layout.match import DeviceMatch, match_devices
from pmemctl.ops.layout.plan import ItemState, device_item, layout_plan, policy_item
from pmemctl.ops.layout.policy import assess_policy
from pmemctl.ops.layout.records import Layout
from pmemctl.ops.layout.regions import defer_devices, region_item
from pmemctl.ops.outcome import Outcome, OutcomeStatus
from pmemctl.ops.plan import Plan
from pmemctl.ops.services import RunOptions, exit_code_for, run_plan
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.sysfs.state import Journal, RunLock, boot_id
from pmemctl.sysfs.udev import DEVICE_SUBSYSTEMS, open_block_events

#: what assessing a converged machine reads per block (49,152 blocks: keep it small)
ASSESS_FIELDS = frozenset({"state", "online_zones"})
#: more passes than this means something keeps undoing the layout
MAX_PASSES = 4
#: findings apply cannot fix: the machine still differs from the layout
UNRESOLVED = frozenset({"missing", "ambiguous", "drift", "failed"})


@dataclass(frozen=True)
class ApplyRequest:
    files: Optional[tuple[str, ...]] = None
    check: bool = False
    wait: Optional[float] = None
    poll_interval: float = 0.25


@dataclass
class ApplyResult:
    layout: Layout
    items: list[ItemState]
    plan: Optional[Plan]
    outcome: Optional[Outcome]
    warnings: list[str] = field(default_factory=list)
    exit_code: ExitCode = ExitCode.NO_CHANGE
    check: bool = False
    dry_run: bool = False


def assess(door: SysfsRoot, layout: Layout, topo: Optional[Topology] = None) -> list[ItemState]:
    """Every item of ``layout`` on this machine, with its piece of the plan."""
    topo = topo if topo is not None else discover(door, block_fields=ASSESS_FIELDS)
    items = [policy_item(door, assess_policy(door, p)) for p in layout.policy]
    regions = [region_item(door, topo, r) for r in layout.regions]
    devices = [device_item(door, topo, m) for m in match_devices(topo, layout.devices)]
    defer_devices(regions, devices, topo)
    return items + regions + devices


def check_drift(door: SysfsRoot, layout: Layout) -> list[ItemState]:
    """For ``doctor``: each item with ``status`` and a human ``difference``;
    an item that apply would change reads ``drift``."""
    items = assess(door, layout)
    for item in items:
        if item.status == "planned":
            item.status = "drift"
    return items


def _needs_work(items: list[ItemState]) -> bool:
    return any(i.plan is not None and (i.plan.actions or i.plan.refusals) for i in items)


def wait_for_devices(door: SysfsRoot, layout: Layout, seconds: float, interval: float,
                     sleep: Optional[Callable[[float], None]] = None) -> list[str]:
    """Wait until every expected device matches or ``seconds`` pass; the
    entries that never came.  On the running machine each pause ends early
    on an nd or dax uevent (pyudev); a tree sends none, so it is polled."""
    events = open_block_events(door, DEVICE_SUBSYSTEMS) if sleep is None else None
    pause: Callable[[float], object] = sleep or (events.wait if events is not None else time.sleep)
    # an event can only shorten a pause: re-check at least every second even then
    step = max(interval, 1.0) if events is not None else interval
    deadline = time.monotonic() + seconds
    try:
        while True:
            topo = discover(door, with_blocks=False)
            short = [m for m in match_devices(topo, layout.devices) if m.verdict == "missing"]
            if not short or time.monotonic() >= deadline:
                return [f"{m.entry.name}: {m.finding} after waiting {seconds:g} s" for m in short]
            pause(min(step, max(deadline - time.monotonic(), 0.0)))
    finally:
        if events is not None:
            events.close()


def _stale_journal(door: SysfsRoot, archive: bool) -> list[str]:
    """Report (and, unless ``archive`` is False, archive) a journal that an
    earlier boot left: its memory is gone, it must not block this boot."""
    journal = Journal(door)
    try:
        rec = journal.load()
    except DamagedJournal:
        return []  # the executor reports it, with its way out
    now = boot_id(door)
    if rec is None or now is None:
        return []
    then = rec.header.get("boot_id")
    if not then or then == now:
        return []
    title = rec.header.get("plan", {}).get("title", "?")
    what = (f"an unfinished change from an earlier boot ({title}, started {rec.header.get('started', '?')}, "
            f"boot {then}) describes memory that no longer exists")
    if not archive:
        return [what + ": apply archives it"]
    with RunLock(door):
        archived = journal.abandon()
    return [what + ": archived as " + ", ".join(archived)]


def apply_layout(door: SysfsRoot, req: ApplyRequest, opts: RunOptions) -> ApplyResult:
    layout = load_layout(door, req.files)
    warnings = list(layout.warnings)
    if not layout.files:
        warnings.append("no layout file found (etc/pmemctl/pmemctl.toml, etc/pmemctl/conf.d/*.toml): "
                        "nothing to apply")
    if req.wait and layout.devices:
        warnings += wait_for_devices(door, layout, req.wait, req.poll_interval)
    warnings += _stale_journal(door, archive=not (req.check or opts.dry_run))
    items = assess(door, layout)
    if req.check:
        for item in items:
            if item.status == "planned":
                item.status = "drift"
        drift = any(i.status in UNRESOLVED for i in items)
        return ApplyResult(layout, items, None, None, warnings, ExitCode.DRIFT if drift else ExitCode.OK, check=True)
    if not _needs_work(items):
        unresolved = any(i.status in UNRESOLVED for i in items)
        return ApplyResult(layout, items, None, None, warnings,
                           ExitCode.DRIFT if unresolved else ExitCode.NO_CHANGE, dry_run=opts.dry_run)
    # something to do: plan again from a full snapshot (offline checks need
    # every block field), then run it
    items = assess(door, layout, discover(door, block_fields=BLOCK_FIELDS))
    plan = layout_plan(layout, items)
    result = run_plan(door, plan, opts)
    if result.outcome is None:  # --dry-run
        return ApplyResult(layout, items, plan, None, warnings, exit_code_for(result, opts.force), dry_run=True)
    return _after_run(door, layout, items, plan, result.outcome, warnings, opts)


def _after_run(door: SysfsRoot, layout: Layout, before: list[ItemState], plan: Plan, outcome: Outcome,
               warnings: list[str], opts: RunOptions) -> ApplyResult:
    """Assess again (the verification); run further passes while the runs
    succeed and the layout still asks for more (a namespace per region per
    pass, a namespace that became devdax and now goes to system-ram)."""
    code = outcome.exit_code
    passes = 1
    items = assess(door, layout)
    while code == ExitCode.OK and _needs_work(items) and passes < MAX_PASSES:
        passes += 1
        items = assess(door, layout, discover(door, block_fields=BLOCK_FIELDS))
        more = run_plan(door, layout_plan(layout, items), opts)
        assert more.outcome is not None
        warnings.append(f"pass {passes}: {more.plan.title}: {more.outcome.status.value}")
        code = more.outcome.exit_code
        items = assess(door, layout)
    status_before = {i.name: i.status for i in before}
    for item in items:
        if item.status == "converged" and status_before.get(item.name, "converged") != "converged":
            item.status = "changed"  # planned, or missing until an earlier pass created it
        elif item.status == "planned":
            item.status = "failed"
    if code == ExitCode.OK and outcome.status is OutcomeStatus.CHANGED and any(
            i.status in UNRESOLVED for i in items):
        code = ExitCode.DRIFT
    return ApplyResult(layout, items, plan, outcome, warnings, code)


def matches(door: SysfsRoot, layout: Layout) -> Sequence[DeviceMatch]:
    """What each device entry matches now (``config validate`` shows it)."""
    return match_devices(discover(door, with_blocks=False), layout.devices)
