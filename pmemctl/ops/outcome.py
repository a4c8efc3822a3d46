"""What a run of a plan came to: its status, its steps, its exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from pmemctl.commandline import command_line
from pmemctl.errors import ExitCode, Locked, PmemctlError
from pmemctl.ops.actions.base import Action, ActionResult, StepStatus, TextEnum
from pmemctl.ops.plan import Plan
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import format_cpulist


class OutcomeStatus(TextEnum):
    """How a run ended (each maps to one exit code: Outcome.EXIT)."""

    CHANGED = "changed"
    NO_CHANGE = "no-change"
    PARTIAL = "partial"
    ROLLED_BACK = "rolled-back"
    ROLLBACK_INCOMPLETE = "rollback-incomplete"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class TargetState:
    """Where one device, or one run of consecutive memory blocks, the plan
    touched is now: the structured twin of a ``machine_state`` sentence."""

    kind: str  # "dax_device" or "memory_blocks"
    name: str | None = None  # the dax device; None for blocks
    present: bool = True  # the device (or the blocks' memoryN directories) exists
    driver: str | None = None  # device_dax, kmem, or None (unbound or absent)
    mode: str | None = None  # devdax, system-ram or disabled (no driver); None for blocks or absent
    first_block: int | None = None
    last_block: int | None = None
    state: str | None = None  # the blocks' state file: online, offline, going-offline; None when absent


class MachineState(list[str]):
    """The ``machine_state`` sentences, carrying their structured form in
    ``targets`` (empty when the machine could not be read back)."""

    def __init__(self, lines: Sequence[str] = (), targets: Sequence[TargetState] = ()) -> None:
        super().__init__(lines)
        self.targets: list[TargetState] = list(targets)


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


def describe_state(door: SysfsRoot, plan: Plan, undone_by_others: Sequence[Action] = (),
                   seen: Mapping[int, Optional[str]] | None = None, taken: Sequence[Action] = ()) -> MachineState:
    """Sentences saying where each device and block the plan touched now is,
    then where the undos in ``undone_by_others`` (whose end state another
    agent made first: a block a udev rule onlined, maybe into another zone)
    left things.  ``seen``: block states the run read back after its last
    driver change (the executor's), not read again.  ``taken``: actions done
    instead of planned ones (a spare block), whose objects are reported too.
    Never raises: a machine that cannot be read back is said so."""
    try:
        lines, targets = _describe_state(door, plan, seen or {}, taken)
        by_kind: dict[type[Action], list[Action]] = {}
        for undo in undone_by_others:
            by_kind.setdefault(type(undo), []).append(undo)
        for kind, undos in by_kind.items():
            lines.extend(kind.group_state_lines(door, undos))
        return MachineState(lines, targets)
    except (PmemctlError, OSError) as err:
        what = err.sentence() if isinstance(err, PmemctlError) else str(err)
        return MachineState([f"the machine could not be read back: {what}"])


def _describe_state(door: SysfsRoot, plan: Plan, seen: Mapping[int, Optional[str]],
                    taken: Sequence[Action] = ()) -> tuple[list[str], list[TargetState]]:
    lines: list[str] = []
    targets: list[TargetState] = []
    devices: dict[str, None] = {}
    blocks: set[int] = set()
    # only kinds with lines of their own are asked (a plan may hold 49,152 block steps)
    own_lines: dict[type[Action], bool] = {}
    for a in (*plan.actions, *taken):
        kind = type(a)
        asks = own_lines.get(kind)
        if asks is None:
            asks = own_lines[kind] = kind.state_lines is not Action.state_lines
        if asks:
            lines.extend(line for line in a.state_lines(door) if line not in lines)
        elif a.block_step:  # one block, nothing else (a walk of 49,152 of them)
            blocks.add(a.index)  # type: ignore[attr-defined]
            continue
        touched = a.touches()
        devices.update(dict.fromkeys(touched.devices))
        blocks.update(touched.blocks)
    for dev in devices:
        drv = door.link_basename(f"{paths.DAX_DEVICES}/{dev}/driver")
        if not door.exists(f"{paths.DAX_DEVICES}/{dev}"):
            lines.append(f"{dev} has disappeared")
            targets.append(TargetState("dax_device", dev, present=False))
        elif drv is None:
            run = command_line("reconfigure", dev, "--mode", "devdax", sysroot=door.root)
            lines.append(f"{dev} is bound to NO driver: run '{run}'")
            targets.append(TargetState("dax_device", dev, mode="disabled"))
        else:
            mode = "system-ram" if drv == "kmem" else "devdax"
            lines.append(f"{dev} is bound to {drv} ({mode})")
            targets.append(TargetState("dax_device", dev, driver=drv, mode=mode))
    if blocks:
        # what the run read back is known; the rest is read back, in one walk
        indexes = sorted(blocks)
        texts = [seen.get(i, _UNREAD) for i in indexes]
        unread = [i for i, text in zip(indexes, texts, strict=True) if text is _UNREAD]
        if unread:
            fresh = dict(zip(unread, _read_states(door, unread), strict=True))
            texts = [fresh[i] if text is _UNREAD else text for i, text in zip(indexes, texts, strict=True)]
        states: dict[str, list[int]] = {}
        for idx, text in zip(indexes, texts, strict=True):
            states.setdefault(text or "absent", []).append(idx)
        for st, idxs in states.items():
            lines.append(f"memory block(s) {format_cpulist(idxs)}: {st}")
        targets.extend(_block_runs(indexes, texts))
    return lines, targets


#: a block state not read yet (None means the block is gone)
_UNREAD: Any = object()
#: from this many blocks to read on, the memory directory is listed first and
#: only the blocks in it are read (after kmem let go of a device its blocks
#: are gone: one listing instead of a failed open each)
_LIST_FROM = 512


def _read_states(door: SysfsRoot, indexes: Sequence[int]) -> list[Optional[str]]:
    """The state of each block (None: the block is gone)."""
    if len(indexes) >= _LIST_FROM:
        present = set(door.listdir(paths.MEMORY))
        names = [f"memory{i}" for i in indexes]
        there = [n for n in names if n in present]
        texts = dict(zip(there, door.read_table(paths.MEMORY, there, ["state"])[0], strict=True))
        return [texts.get(n) for n in names]
    return door.read_table(paths.MEMORY, [f"memory{i}" for i in indexes], ["state"])[0]


def _block_runs(indexes: Sequence[int], texts: Sequence[str | None]) -> list[TargetState]:
    """One TargetState per run of consecutive blocks in the same state."""
    runs: list[tuple[int, int, str | None]] = []  # first, last, state
    for idx, text in zip(indexes, texts, strict=True):
        state = text or None  # None: the memoryN directory is gone
        if runs and runs[-1][1] == idx - 1 and runs[-1][2] == state:
            runs[-1] = (runs[-1][0], idx, state)
        else:
            runs.append((idx, idx, state))
    return [TargetState("memory_blocks", present=state is not None, first_block=first, last_block=last, state=state)
            for first, last, state in runs]


def units_of(plan: Plan) -> list[tuple[str, int, int]]:
    """(label, start, stop) groups that succeed or roll back together."""
    if plan.units:
        return list(plan.units)
    return [(plan.title, 0, len(plan.actions))]


def any_undone(results: list[ActionResult]) -> bool:
    return any(r.status is StepStatus.UNDONE for r in results)


def recovery_hint(sysroot: str, undo: str, finish: str, status: str) -> str:
    """"run 'pmemctl rollback' to ..., 'pmemctl resume' to ...", for this sysroot."""
    rollback, resume, show = (command_line(w, sysroot=sysroot) for w in ("rollback", "resume", "status"))
    return f"run '{rollback}' to {undo} or '{resume}' to {finish} ('{show}' {status})"


def unfinished_error(header: dict[str, Any], sysroot: str = "/") -> Locked:
    """The refusal of a new change while an earlier one's journal is there."""
    h = header
    return Locked(
        f"an earlier change did not finish ({h.get('plan', {}).get('title', '?')}, "
        f"started {h.get('started', '?')} by pid {h.get('pid', '?')}, state {h.get('state', '?')})",
        hint=recovery_hint(sysroot, "undo it", "finish it", "shows it"),
    )
