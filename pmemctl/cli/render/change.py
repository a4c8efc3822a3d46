"""Plans and outcomes, for people (a Document) and for scripts (JSON).

One plan has two faces (architecture.md principle 6): sentences, and the
exact ``echo VALUE > PATH`` writes.  ``--dry-run``, the confirmation prompt
and the JSON all render the same Plan object that apply executes.

The JSON documents (change, namespace_change, recovery, status and their
objects) are specified in :data:`pmemctl.cli.render.json.OBJECTS` with the
read documents, and built through the same :func:`~pmemctl.cli.render.json._obj`,
from the public attributes of the ops objects only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional

from pmemctl.cli.render.doc import Block, Document, KeyValues, Lines
from pmemctl.cli.render.json import OBJECTS, _obj, enum_value, envelope, target_states_json
from pmemctl.commandline import command_line
from pmemctl.units import format_cpulist

if TYPE_CHECKING:  # pragma: no cover
    from pmemctl.ops.actions.base import Write
    from pmemctl.ops.outcome import Outcome
    from pmemctl.ops.plan import Plan
    from pmemctl.ops.services import ChangeResult, Status

#: only runs of these step kinds are ever folded (one memory block each);
#: driver changes, waits and namespace steps are always listed
FOLDABLE_KINDS = frozenset({"online-block", "offline-block", "offline-any-block"})
#: a run of foldable steps longer than this is folded: its first
#: FOLD_HEAD steps and its last one are listed, the rest is one line
FOLD_OVER = 5
FOLD_HEAD = 2


def _device_of(plan: "Plan") -> list[Optional[str]]:
    """The unit label of each action when its unit holds several actions (one
    device of ``reconfigure all``); None for one-action units (one block of
    ``online``) and plans without units."""
    out: list[Optional[str]] = [None] * len(plan.actions)
    for label, first, last in plan.units:
        if last - first > 1:
            for i in range(first, last):
                out[i] = label
    return out


def _fold_key(action: Any, device: Optional[str]) -> Optional[tuple[Any, ...]]:
    if action.kind not in FOLDABLE_KINDS:
        return None
    return (action.kind, getattr(action, "zone", None), device)


def _segments(plan: "Plan", fold: bool) -> list[tuple[int, int, bool]]:
    """The actions as ``(first, last, folded)`` index ranges, in order.  A
    folded range is the hidden middle of a run of identical block steps on
    one device; nothing else is ever folded."""
    actions = plan.actions
    if not fold:
        return [(0, len(actions), False)] if actions else []
    devices = _device_of(plan)
    out: list[tuple[int, int, bool]] = []
    i = 0
    while i < len(actions):
        key = _fold_key(actions[i], devices[i])
        j = i + 1
        while key is not None and j < len(actions) and _fold_key(actions[j], devices[j]) == key:
            j += 1
        if key is not None and j - i > FOLD_OVER:
            out += [(i, i + FOLD_HEAD, False), (i + FOLD_HEAD, j - 1, True), (j - 1, j, False)]
        else:
            out.append((i, j, False))
        i = j
    return out


def _hidden_line(plan: "Plan", first: int, last: int, *, comment: bool) -> str:
    hidden = plan.actions[first:last]
    writes = sum(len(a.writes()) for a in hidden)
    indices = [getattr(a, "index", None) for a in hidden]
    span = ""
    if None not in indices:
        listed = format_cpulist(indices)  # the same list syntax --blocks takes
        span = f" (blocks {listed})" if len(listed) <= 40 else f" (blocks between {min(indices)} and {max(indices)})"
    text = (f"... {len(hidden)} more step(s) of the same kind{span}, {writes} write(s) hidden; "
            "--all-steps lists them ...")
    return f"# {text}" if comment else f"     {text}"


def _step_lines(plan: "Plan", fold: bool) -> list[str]:
    out: list[str] = []
    for first, last, folded in _segments(plan, fold):
        if folded:
            out.append(_hidden_line(plan, first, last, comment=False))
        else:
            out += [f"{n:>3}. {plan.actions[n - 1].describe()}" for n in range(first + 1, last + 1)]
    return out


def _write_lines(plan: "Plan", fold: bool) -> list[str]:
    out: list[str] = []
    for first, last, folded in _segments(plan, fold):
        if folded:
            out.append(_hidden_line(plan, first, last, comment=True))
        else:
            out += [w.shell() for a in plan.actions[first:last] for w in a.writes()]
    return out


def check_status(c: Any, overrides: frozenset[str] = frozenset()) -> str:
    """``ok``, ``warning``, ``overridden`` (refused, and the option that lifts
    it was given) or ``refused``: the JSON ``.plan.checks[].status``."""
    if c.ok:
        return "ok"
    if c.warning:
        return "warning"
    return "overridden" if c.override and c.override in overrides else "refused"


def check_line(c: Any, overrides: frozenset[str] = frozenset()) -> str:
    """One pre-check: ok, WARNING, OVERRIDDEN or REFUSED."""
    status = check_status(c, overrides)
    if status == "ok":
        return f"ok         {c.name}: {c.message}"
    if status == "warning":
        return f"WARNING    {c.name}: {c.message}"
    if status == "overridden":
        return f"OVERRIDDEN {c.name}: {c.message} (by {c.override})"
    lift = f" (override: {c.override})" if c.override else " (cannot be overridden)"
    return f"REFUSED    {c.name}: {c.message}{lift}"


def plan_blocks(plan: "Plan", *, all_steps: bool = False, writes: bool = True,
                overrides: frozenset[str] = frozenset(), consent: bool = True) -> list[Block]:
    """The plan in words (and, with ``writes``, as the exact writes).  Without
    ``all_steps`` long runs of identical block steps on one device are folded
    into one line that says how many steps and writes it hides; driver
    changes, waits and namespace steps are always listed.  The consent
    prompt shows this same summary."""
    blocks: list[Block] = [Lines((plan.title,), title="Plan", style="bold")]
    if plan.notes:
        blocks.append(Lines(tuple(plan.notes), title="Notes", indent=2))
    if plan.already:
        blocks.append(Lines(tuple(plan.already), title="Already as requested", indent=2))
    checks = [check_line(c, overrides) for c in plan.checks]
    if checks:
        blocks.append(Lines(tuple(checks), title="Checks", indent=2))
    if plan.actions:
        blocks.append(Lines(tuple(_step_lines(plan, not all_steps)), title="Steps"))
        if writes:
            blocks.append(Lines(tuple(_write_lines(plan, not all_steps)), title="Exact writes", indent=2))
        if plan.destructive and plan.consent and consent:
            blocks.append(Lines((plan.consent,), title="This is destructive", indent=2, style="bold red"))
    else:
        blocks.append(Lines(("nothing to do",), title="Steps", indent=2))
    return blocks


def outcome_blocks(outcome: "Outcome", *, sysroot: str = "/", recovery: Optional[str] = None) -> list[Block]:
    """The outcome in words; ``recovery`` names the command (``rollback``,
    ``resume``) when the run replayed a journal rather than a plan of its own."""
    blocks: list[Block] = []
    status = enum_value(outcome.status)  # a plain string or a str-Enum member: the same words
    word = {
        "changed": "done",
        "no-change": "nothing to do",
        "partial": "PARTIAL: some targets changed, some did not",
        "rolled-back": "FAILED, and everything this run changed was undone",
        "rollback-incomplete": "FAILED, and undoing it failed too",
        "failed": "FAILED; nothing was changed",
    }.get(status, status)
    restored = recovery == "rollback" and status == "rolled-back"
    if restored:  # undoing was the request, and it is done
        word = "done: everything the unfinished change had done is undone"
    pairs = [("result", word), ("what", outcome.title)]
    if restored:
        pairs.append(("detail", outcome.message))
    elif status not in ("changed", "no-change"):
        pairs.append(("cause", outcome.message))
    if outcome.changed_units and outcome.failed_units:
        pairs.append(("changed", ", ".join(outcome.changed_units)))
        pairs.append(("not changed", ", ".join(outcome.failed_units)))
    blocks.append(KeyValues(tuple(pairs), title="Outcome", key_width=12))
    instead = [r.action.describe() for r in outcome.results
               if r.action.kind == "offline-spare-block" and enum_value(r.status) == "done"]
    if instead:  # --count/--size: which blocks were offlined in place of busy ones, and why
        blocks.append(Lines(tuple(instead), title="Blocks taken instead of busy ones", indent=2))
    failed = [r for r in outcome.results if r.status in ("failed", "undo-failed")]
    if failed:
        blocks.append(Lines(tuple(f"{enum_value(r.status)}: {r.error}" for r in failed), title="Failures", indent=2))
    undo = [r.action.describe() for r in outcome.results if enum_value(r.status) == "undone"]
    if restored and undo:
        blocks.append(Lines(tuple(undo), title="Undo steps taken, in order", indent=2))
    if outcome.machine_state:
        blocks.append(Lines(tuple(outcome.machine_state), title="The machine now", indent=2))
    if status in ("rollback-incomplete",):
        blocks.append(
            Lines(
                (f"the journal was kept: '{command_line('status', sysroot=sysroot)}' shows it, "
                 f"'{command_line('rollback', sysroot=sysroot)}' retries the undo",),
                title="Next step",
                indent=2,
            )
        )
    return blocks


def change_document(result: "ChangeResult", *, all_steps: bool = False, sysroot: str = "/",
                    plan_shown: bool = False) -> Document:
    """The plan (unless ``plan_shown``: printed before the run) and the outcome."""
    blocks = [] if plan_shown and not result.dry_run else plan_blocks(
        result.plan, all_steps=all_steps, writes=result.dry_run, overrides=result.overrides)
    if result.dry_run:
        blocks.append(Lines(("dry run: nothing was written",), style="italic"))
    elif result.outcome is not None:
        blocks.extend(outcome_blocks(result.outcome, sysroot=sysroot))
    return Document.of(blocks)


# --------------------------------------------------------------------------- JSON


def write_json(w: "Write") -> dict[str, Any]:
    """One write; ``kind`` says what carries it out (a pseudo-write, a wipe or
    an ndctl command, keeps its ``path``/``value`` as before)."""
    return _obj("write", path=w.path, value=w.value, kind=enum_value(w.kind))


def plan_json(plan: "Plan", overrides: frozenset[str] = frozenset()) -> dict[str, Any]:
    return _obj(
        "plan",
        title=plan.title,
        destructive=plan.destructive,
        consent=plan.consent,
        targets=list(plan.targets),
        already=list(plan.already),
        notes=list(plan.notes),
        checks=[
            _obj("check", name=c.name, status=check_status(c, overrides), message=c.message, override=c.override)
            for c in plan.checks
        ],
        steps=[
            _obj("step", kind=enum_value(a.kind), description=a.describe(), writes=[write_json(w) for w in a.writes()])
            for a in plan.actions
        ],
    )


def outcome_json(outcome: Optional["Outcome"], *, exit_code: Optional[int] = None) -> Optional[dict[str, Any]]:
    if outcome is None:
        return None
    return _obj(
        "outcome",
        status=outcome.status,
        title=outcome.title,
        message=outcome.message,
        machine_state=list(outcome.machine_state),
        target_states=target_states_json(outcome.machine_state),
        already=list(outcome.already),
        changed_units=list(outcome.changed_units),
        failed_units=list(outcome.failed_units),
        steps=[
            _obj("outcome_step", action=r.action.describe(), kind=enum_value(r.action.kind), status=r.status,
                 error=r.error, errno=r.errno)
            for r in outcome.results
        ],
        exit_code=int(outcome.exit_code) if exit_code is None else exit_code,
    )


def change_json(command: str, sysroot: str, result: "ChangeResult", *, backend: Optional[str] = None) -> dict[str, Any]:
    """The ``change`` document; with ``backend`` (the namespace commands), the
    ``namespace_change`` document, which adds it."""
    body: dict[str, Any] = {
        "dry_run": result.dry_run,
        "plan": plan_json(result.plan, result.overrides),
        "outcome": outcome_json(result.outcome),
    }
    if backend is None:
        return envelope("change", command, sysroot, **body)
    return envelope("namespace_change", command, sysroot, **body, backend=backend)


def recovery_json(command: str, sysroot: str, outcome: Optional["Outcome"], *,
                  plan: Optional["Plan"] = None) -> dict[str, Any]:
    """The ``recovery`` document: the outcome of a rollback/resume, or with
    ``--dry-run`` (``outcome`` None) the plan of what it would do."""
    from pmemctl.ops.services import recovery_exit_code

    return envelope("recovery", command, sysroot, dry_run=outcome is None,
                    plan=None if plan is None else plan_json(plan),
                    outcome=None if outcome is None else outcome_json(
                        outcome, exit_code=int(recovery_exit_code(command, outcome))))


#: journal_run keys read from another key of the journal header / summary
_JOURNAL_KEYS = {"arguments": "command"}


def _journal_value(record: Mapping[str, Any], key: str) -> Any:
    return enum_value(record.get(_JOURNAL_KEYS.get(key, key)))


def journal_run_json(record: Optional[Mapping[str, Any]]) -> Optional[dict[str, Any]]:
    """A journal header or last-run summary as a ``journal_run``: keys it lacks are null."""
    if record is None:
        return None
    return _obj("journal_run", **{k: _journal_value(record, k) for k in OBJECTS["journal_run"].keys})


def abandon_json(sysroot: str, result: Any) -> dict[str, Any]:
    """``journal abandon --json``; ``result`` (:class:`pmemctl.ops.services.Abandoned`)
    is None when there was no unfinished change."""
    if result is None:
        return envelope("journal_abandon", "journal abandon", sysroot, dry_run=False, unfinished=None, damaged=None,
                        machine_state=[], target_states=[], archived=[])
    return envelope("journal_abandon", "journal abandon", sysroot, dry_run=result.dry_run,
                    unfinished=journal_run_json(result.unfinished), damaged=result.damaged,
                    machine_state=list(result.machine_state), target_states=target_states_json(result.machine_state),
                    archived=list(result.archived))


def status_json(sysroot: str, status: "Status") -> dict[str, Any]:
    u, last = status.unfinished, status.last_run
    return envelope(
        "status",
        "status",
        sysroot,
        # the journal's header and the last run's summary file: keys one lacks are null
        unfinished=journal_run_json(u),
        last_run=journal_run_json(last),
        in_progress=None if status.running is None else _obj("in_progress", pid=status.running.pid),
        journal_readable=status.unreadable is None,
    )


def status_document(status: "Status", *, sysroot: str = "/") -> Document:
    blocks: list[Block] = []
    running = status.running
    if running is not None:
        pid = f"pid {running.pid}" if running.pid is not None else "pid unknown"
        title = f"In progress, {pid}: another pmemctl run holds the lock and is changing this machine"
        rows = tuple((str(k), str(enum_value(v))) for k, v in (status.unfinished or {}).items())
        blocks.append(KeyValues(rows, title=title, key_width=12) if rows else Lines((title,)))
        blocks.append(Lines((f"wait for it to finish, then run '{command_line('status', sysroot=sysroot)}' again",),
                            title="Next step", indent=2))
    elif status.unfinished:
        u = status.unfinished
        blocks.append(
            KeyValues(
                tuple((str(k), str(enum_value(v))) for k, v in u.items()),
                title=f"UNFINISHED change (run '{command_line('resume', sysroot=sysroot)}' "
                      f"or '{command_line('rollback', sysroot=sysroot)}')",
                key_width=12,
            )
        )
    elif status.unreadable is not None:
        blocks.append(Lines((f"unknown: {status.unreadable}; run 'sudo {command_line('status', sysroot=sysroot)}' "
                             "to see an unfinished change and the last run",), title="Journal"))
    else:
        blocks.append(Lines(("no unfinished change",), title="Journal"))
    if status.last_run:
        keep = ("title", "status", "state", "started", "command", "steps")
        blocks.append(
            KeyValues(
                tuple((k, str(enum_value(status.last_run.get(k)))) for k in keep if k in status.last_run),
                title="Last finished run",
                key_width=12,
            )
        )
    return Document.of(blocks)
