"""The mutating commands: reconfigure, online, offline; status, resume, rollback.

Each parses options, calls one service in ``pmemctl.ops.services`` and renders
the plan and outcome.  Exit codes come from the outcome (see ExitCode).
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional, TypeVar

import click

from pmemctl.cli.app import App
from pmemctl.cli.commands import (
    Seconds,
    WholeNumber,
    complete_blocks,
    complete_dax_devices,
    complete_dax_or_all,
    json_option,
)

F = TypeVar("F", bound=Callable[..., Any])


def _zone_option(f: F) -> F:
    return click.option(
        "--zone",
        type=click.Choice(["movable", "normal"]),
        default="movable",
        show_default=True,
        help="Zone to online into: movable (user pages only, can be offlined again) or normal "
        "(kernel allocations too; often cannot be offlined without a reboot).",
    )(f)


def _common_options(f: F) -> F:
    f = click.option("--dry-run", is_flag=True, help="Print the plan (in words and as the exact writes) and stop.")(f)
    f = click.option("-y", "--yes", is_flag=True, help="Confirm a destructive change without asking.")(f)
    f = click.option(
        "-f", "--force", is_flag=True, help="Proceed past refusals that can be overridden (see --dry-run)."
    )(f)
    return _all_steps_option(f)


def _all_steps_option(f: F) -> F:
    return click.option(
        "--all-steps", is_flag=True,
        help="List every step and every write. Without it, a long run of identical block steps on one "
        "device is folded into one line that says how many steps and writes it hides; driver and "
        "namespace steps are never folded.",
    )(f)


def _apply_options(app: App, dry_run: bool, yes: bool, force: bool, timeout: Optional[float] = None) -> Any:
    from pmemctl.ops.executor import ApplyOptions
    from pmemctl.ops.services import RunOptions

    apply = ApplyOptions(command=" ".join(sys.argv[1:]) or "pmemctl", progress=_progress(app))
    if timeout is not None:
        apply.offline_timeout = timeout
    return RunOptions(dry_run=dry_run, yes=yes, force=force, confirm=_confirm(app, force), apply=apply,
                      before_apply=_show_plan(app, force))


def _params() -> dict[str, Any]:
    """The running command's options (``as_json``, ``all_steps``)."""
    ctx = click.get_current_context(silent=True)
    return dict(ctx.params) if ctx is not None else {}


def _overrides(force: bool) -> frozenset[str]:
    return frozenset({"--force"}) if force else frozenset()


def _show_plan(app: App, force: bool) -> Callable[[Any], None]:
    """Print the plan before its first write (once; not with --json or -q),
    so a long run says what it does before the progress bar, not after."""

    def show(plan: Any) -> None:
        params = _params()
        if app.quiet or app.plan_shown or params.get("as_json"):
            return
        from pmemctl.cli.render.change import plan_blocks
        from pmemctl.cli.render.doc import Document

        app.show(Document.of(plan_blocks(plan, all_steps=bool(params.get("all_steps")), writes=False,
                                         overrides=_overrides(force))))
        app.plan_shown = True

    return show


def _confirm(app: App, force: bool = False) -> Callable[[Any], bool]:
    """Ask on a terminal only; scripts must say --yes.  The plan is shown
    once, above the question; the question goes to the terminal (stderr),
    not into a log that stdout is piped to."""

    def ask(plan: Any) -> bool:
        if not sys.stdin.isatty() or app.quiet:
            return False
        from pmemctl.cli.render.change import plan_blocks
        from pmemctl.cli.render.doc import Document

        app.show(Document.of(plan_blocks(plan, all_steps=bool(_params().get("all_steps")), writes=False,
                                         overrides=_overrides(force), consent=False)))
        app.plan_shown = True
        return click.confirm(f"{plan.consent or 'This cannot be undone'}. Go ahead?", default=False, err=True)

    return ask


def _progress(app: App) -> Optional[Callable[[int, int, str], None]]:
    """A rich progress bar (blocks, blocks/s, ETA) on a terminal; nothing when piped.

    The bar is stopped when the command ends however it ends (a failed or
    interrupted run never reaches its total), so no text sticks to it."""
    if app.quiet or not app.use_rich:
        return None
    state: dict[str, Any] = {}

    def stop() -> None:
        bar = state.pop("bar", None)
        if bar is not None:
            bar.stop()

    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(stop)

    def update(done: int, total: int, label: str) -> None:
        import time

        if total < 8:  # not worth a bar
            return
        if "bar" not in state:
            if state.get("finished"):
                return  # a second pass (the undo after a failure) gets no new bar
            from pmemctl.cli.quiet_imports import collector_paused

            with collector_paused("rich.progress"):
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(), transient=True,
                # each redraw costs about 0.5 ms of cpu: 4 a second keep the
                # bar live at a fraction of rich's default 10 (issue 14's
                # terminal-vs-piped row)
                refresh_per_second=4,
            )
            bar.start()
            state["bar"] = bar
            state["task"] = bar.add_task("blocks", total=total, completed=done, rate="")
            state["t0"], state["done0"] = time.monotonic(), done
        elapsed = max(time.monotonic() - state["t0"], 1e-6)
        state["bar"].update(state["task"], completed=done,
                            rate=f"{(done - state['done0']) / elapsed:,.0f} blocks/s")
        if done >= total:
            state["finished"] = True
            stop()

    return update


def _finish(app: App, command: str, result: Any, as_json: bool, all_steps: bool, force: bool) -> int:

    if as_json:
        from pmemctl.cli.render.change import change_json

        app.emit_json(change_json(command, app.sysroot, result))
    else:
        from pmemctl.cli.render.change import change_document

        if app.plan_shown:
            app.say("")  # the plan printed before the run, then the outcome
        app.show(change_document(result, all_steps=all_steps, sysroot=app.sysroot, plan_shown=app.plan_shown))
    return exit_code_of(result, force)


def exit_code_of(result: Any, force: bool) -> int:
    from pmemctl.ops.services import exit_code_for

    return int(exit_code_for(result, force))


def _refuse_contradictions(mode: str, no_online: bool) -> None:
    """Options that say opposite things are a usage error, not silently
    ignored: --zone chooses where blocks are onlined, so it means nothing
    with --mode devdax (blocks go offline) or with --no-online."""
    from click.core import ParameterSource

    from pmemctl.errors import UsageError

    ctx = click.get_current_context()
    zone_given = ctx.get_parameter_source("zone") not in (ParameterSource.DEFAULT, None)
    if no_online and mode == "devdax":
        raise UsageError("--no-online only applies to --mode system-ram")
    if zone_given and mode == "devdax":
        raise UsageError(f"--zone {ctx.params['zone']} contradicts --mode devdax: the memory is taken offline, "
                         "not onlined into a zone", hint="drop --zone")
    if zone_given and no_online:
        raise UsageError(f"--zone {ctx.params['zone']} contradicts --no-online: no block is onlined, so no zone "
                         "is chosen", hint="drop --zone, or drop --no-online to online the blocks there")


@click.command("reconfigure")
@click.argument("devices", metavar="DEV...", nargs=-1, required=True, shell_complete=complete_dax_or_all)
@click.option(
    "-m", "--mode", type=click.Choice(["system-ram", "devdax"]), required=True,
    help="system-ram: hand the memory to the kernel (kmem); devdax: give /dev/daxX.Y back.",
)
@_zone_option
@click.option("--no-online", is_flag=True, help="Add the memory as system-ram but leave its blocks offline.")
@click.option(
    "--memmap-on-memory/--no-memmap-on-memory", "memmap_on_memory", default=None,
    help="To system-ram: keep the memory map of the new memory in that memory (daxX.Y/memmap_on_memory, "
         "Linux 6.8+, needs memory_hotplug.memmap_on_memory); written before kmem binds.",
)
@_common_options
@json_option
@click.pass_obj
def reconfigure(
    app: App, devices: tuple[str, ...], mode: str, zone: str, no_online: bool, memmap_on_memory: bool | None,
    dry_run: bool,
    yes: bool, force: bool, all_steps: bool, as_json: bool,
) -> int:
    """Switch dax device DEV (one or more) between devdax and system-ram.

    DEV is a dax device (dax0.0), its namespace (namespace0.0), the
    namespace's uuid or name, a physical address or range (0x108000000), or
    'all'.  Several DEVs, as daxctl takes them, make one plan with one
    question; each device converts, or rolls back, on its own.  To
    system-ram: detach device_dax, attach kmem, wait for the memory blocks,
    online them in --zone.  To devdax: offline every block (refused
    for ZONE_NORMAL blocks without --force), detach kmem, attach device_dax.
    Every write is read back; a failure undoes this run's steps newest first.
    Where the device has the proposed whole-device file daxX.Y/state (no
    released kernel has it yet), the onlining and offlining are one write to it.
    """
    from pmemctl.ops.requests import ReconfigureRequest
    from pmemctl.ops.services import reconfigure as service

    _refuse_contradictions(mode, no_online)
    if memmap_on_memory is not None and mode == "devdax":
        from pmemctl.errors import UsageError

        raise UsageError("--memmap-on-memory only applies to --mode system-ram")
    req = ReconfigureRequest(devices[0], mode, zone, not no_online, force, memmap_on_memory, devices[1:])
    result = service(app.open_door(), req, _apply_options(app, dry_run, yes, force))
    return _finish(app, "reconfigure", result, as_json, all_steps, force)


def _block_options(f: F) -> F:
    f = click.option("--blocks", "block_list", metavar="LIST", shell_complete=complete_blocks,
                     help="Memory blocks, like 33-40,45.")(f)
    f = click.option("--size", metavar="SIZE", help="How much memory (4G, 512M): whole blocks, rounded down.")(f)
    f = click.option("--count", type=WholeNumber(1, "a count of blocks"), metavar="N",
                     help="How many blocks (1 or more).")(f)
    return f


@click.command("online")
@click.argument("device", metavar="[DEV]", required=False, shell_complete=complete_dax_devices)
@_block_options
@_zone_option
@_common_options
@json_option
@click.pass_obj
def online(
    app: App, device: Optional[str], count: Optional[int], size: Optional[str], block_list: Optional[str],
    zone: str, dry_run: bool, yes: bool, force: bool, all_steps: bool, as_json: bool,
) -> int:
    """Online memory blocks of a system-ram dax device DEV, or plain --blocks.

    Without --count/--size/--blocks every offline block of DEV is onlined,
    lowest address first.  Each block stands alone: one that refuses is
    reported and the others stay online (exit 4, partial).  Where DEV has the
    proposed whole-device file daxX.Y/state (no released kernel has it yet) and
    none of its blocks is online, all of DEV is onlined with one write to it.
    """
    from pmemctl.ops.requests import BlockRequest
    from pmemctl.ops.services import online as service

    req = BlockRequest(device=device, count=count, size=size, blocks=block_list, zone=zone, force=force)
    result = service(app.open_door(), req, _apply_options(app, dry_run, yes, force))
    return _finish(app, "online", result, as_json, all_steps, force)


@click.command("offline")
@click.argument("device", metavar="[DEV]", required=False, shell_complete=complete_dax_devices)
@_block_options
@click.option(
    "--timeout", type=Seconds(), default=30.0, show_default=True, metavar="SECONDS",
    help="Give up on a block after this long (the kernel would retry forever); more than 0, at most 86400.",
)
@_common_options
@json_option
@click.pass_obj
def offline(
    app: App, device: Optional[str], count: Optional[int], size: Optional[str], block_list: Optional[str],
    timeout: float, dry_run: bool, yes: bool, force: bool, all_steps: bool, as_json: bool,
) -> int:
    """Offline memory blocks of dax device DEV, or plain --blocks.

    Highest address first.  Blocks in ZONE_NORMAL, unremovable blocks and
    kernels without hot-remove are refused before the first write.  With
    --count or --size, a block that will not go offline (EBUSY, a poisoned
    page, or no answer within --timeout) is replaced by another online
    movable block of DEV, as chmem does, and the outcome names both; exit 4
    (partial) only when the amount cannot be reached.  With --blocks it is
    all or nothing: the blocks this run offlined are onlined again (exit 6,
    rolled back) and the block is named with the cause.
    Where DEV has the proposed whole-device file daxX.Y/state (no released
    kernel has it yet), all of DEV is offlined with one write to it, which also
    removes its blocks (kmem keeps DEV; 'pmemctl online DEV' adds them again).
    """
    from pmemctl.ops.requests import BlockRequest
    from pmemctl.ops.services import offline as service

    req = BlockRequest(device=device, count=count, size=size, blocks=block_list, force=force)
    result = service(app.open_door(), req, _apply_options(app, dry_run, yes, force, timeout))
    return _finish(app, "offline", result, as_json, all_steps, force)


@click.command("status")
@json_option
@click.pass_obj
def status(app: App, as_json: bool) -> int:
    """Show a change in progress (the pid holding the lock), an unfinished
    change (interrupted or not fully undone) and the last run.

    Exits 10 while a run holds the lock or a change is unfinished, else 0.
    """
    from pmemctl.ops.services import status as service

    st = service(app.open_door(writes=False))
    if as_json:
        from pmemctl.cli.render.change import status_json

        app.emit_json(status_json(app.sysroot, st))
    else:
        from pmemctl.cli.render.change import status_document

        app.show(status_document(st, sysroot=app.sysroot))
    from pmemctl.errors import ExitCode

    return int(ExitCode.LOCKED if st.unfinished or st.in_progress else ExitCode.OK)


def _recovery(app: App, name: str, as_json: bool, dry_run: bool, all_steps: bool) -> int:
    from pmemctl.cli.render.change import outcome_blocks, recovery_json
    from pmemctl.cli.render.doc import Document
    from pmemctl.ops import services as change

    if dry_run:
        plan = change.recovery_plan(app.open_door(writes=False), name)
        if as_json:
            app.emit_json(recovery_json(name, app.sysroot, None, plan=plan))
        else:
            from pmemctl.cli.render.change import plan_blocks
            from pmemctl.cli.render.doc import Lines

            app.show(Document.of([*plan_blocks(plan, all_steps=all_steps),
                                  Lines(("dry run: nothing was written",), style="italic")]))
        from pmemctl.errors import ExitCode

        return int(ExitCode.NO_CHANGE if plan.is_noop else ExitCode.OK)
    opts = _apply_options(app, False, True, False)
    outcome = (change.rollback if name == "rollback" else change.resume)(app.open_door(), opts)
    if as_json:
        app.emit_json(recovery_json(name, app.sysroot, outcome))
    else:
        app.show(Document.of(outcome_blocks(outcome, sysroot=app.sysroot, recovery=name)))
    return int(change.recovery_exit_code(name, outcome))  # the same number the JSON gives


_RECOVERY_DRY_RUN = ("Print what it would do (its steps, with the exact writes) and stop; "
                     "exits 3 when there is nothing to do.")


@click.command("rollback")
@click.option("--dry-run", is_flag=True, help=_RECOVERY_DRY_RUN)
@_all_steps_option
@json_option
@click.pass_obj
def rollback(app: App, dry_run: bool, all_steps: bool, as_json: bool) -> int:
    """Undo what an interrupted or failed change did, newest step first."""
    return _recovery(app, "rollback", as_json, dry_run, all_steps)


@click.command("resume")
@click.option("--dry-run", is_flag=True, help=_RECOVERY_DRY_RUN)
@_all_steps_option
@json_option
@click.pass_obj
def resume(app: App, dry_run: bool, all_steps: bool, as_json: bool) -> int:
    """Finish an interrupted change from where it stopped."""
    return _recovery(app, "resume", as_json, dry_run, all_steps)
