"""The mutating commands: reconfigure, online, offline; status, resume, rollback.

Each parses options, calls one service in ``pmemctl.ops.services`` and renders
the plan and outcome.  Exit codes come from the outcome (see ExitCode).
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional, TypeVar

import click

from pmemctl.cli.app import App
from pmemctl.cli.commands import Seconds, WholeNumber, json_option

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
    f = click.option(
        "--all-steps", is_flag=True,
        help="List every step and every write. Without it, a long run of identical block steps on one "
        "device is folded into one line that says how many steps and writes it hides; driver and "
        "namespace steps are never folded.",
    )(f)
    return f


def _apply_options(app: App, dry_run: bool, yes: bool, force: bool, timeout: Optional[float] = None) -> Any:
    from pmemctl.ops.executor import ApplyOptions
    from pmemctl.ops.services import RunOptions

    apply = ApplyOptions(command=" ".join(sys.argv[1:]) or "pmemctl", progress=_progress(app))
    if timeout is not None:
        apply.offline_timeout = timeout
    return RunOptions(dry_run=dry_run, yes=yes, force=force, confirm=_confirm(app), apply=apply)


def _confirm(app: App) -> Callable[[Any], bool]:
    """Ask on a terminal only; scripts must say --yes."""

    def ask(plan: Any) -> bool:
        if not sys.stdin.isatty() or app.quiet:
            return False
        from pmemctl.cli.render.change import plan_blocks
        from pmemctl.cli.render.doc import Document

        app.show(Document.of(plan_blocks(plan, writes=False)))
        return click.confirm(f"{plan.consent or 'This cannot be undone'}. Go ahead?", default=False)

    return ask


def _progress(app: App) -> Optional[Callable[[int, int, str], None]]:
    """A rich progress bar (blocks, blocks/s, ETA) on a terminal; nothing when piped."""
    if app.quiet or not app.use_rich:
        return None
    state: dict[str, Any] = {}

    def update(done: int, total: int, label: str) -> None:
        if total < 8:  # not worth a bar
            return
        if "bar" not in state:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(), transient=True,
            )
            bar.start()
            state["bar"] = bar
            state["task"] = bar.add_task("blocks", total=total, rate="")
            import time

            state["t0"] = time.monotonic()
        import time

        elapsed = max(time.monotonic() - state["t0"], 1e-6)
        state["bar"].update(state["task"], completed=done, rate=f"{done / elapsed:,.0f} blocks/s")
        if done >= total:
            state["bar"].stop()

    return update


def _finish(app: App, command: str, result: Any, as_json: bool, all_steps: bool, force: bool) -> int:

    if as_json:
        from pmemctl.cli.render.change import change_json

        app.emit_json(change_json(command, app.sysroot, result))
    else:
        from pmemctl.cli.render.change import change_document

        app.show(change_document(result, all_steps=all_steps, sysroot=app.sysroot))
    return exit_code_of(result, force)


def exit_code_of(result: Any, force: bool) -> int:
    from pmemctl.ops.services import exit_code_for

    return int(exit_code_for(result, force))


@click.command("reconfigure")
@click.argument("device", metavar="DEV")
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
    app: App, device: str, mode: str, zone: str, no_online: bool, memmap_on_memory: bool | None, dry_run: bool,
    yes: bool, force: bool, all_steps: bool, as_json: bool,
) -> int:
    """Switch dax device DEV between devdax and system-ram.

    DEV is a dax device (dax0.0), its namespace (namespace0.0), the
    namespace's uuid or name, a physical address or range (0x108000000), or
    'all'.  To system-ram: detach device_dax, attach kmem, wait for the memory
    blocks, online them in --zone.  To devdax: offline every block (refused
    for ZONE_NORMAL blocks without --force), detach kmem, attach device_dax.
    Every write is read back; a failure undoes this run's steps newest first.
    """
    from pmemctl.ops.requests import ReconfigureRequest
    from pmemctl.ops.services import reconfigure as service

    if no_online and mode == "devdax":
        from pmemctl.errors import UsageError

        raise UsageError("--no-online only applies to --mode system-ram")
    if memmap_on_memory is not None and mode == "devdax":
        from pmemctl.errors import UsageError

        raise UsageError("--memmap-on-memory only applies to --mode system-ram")
    req = ReconfigureRequest(device, mode, zone, not no_online, force, memmap_on_memory)
    result = service(app.open_door(), req, _apply_options(app, dry_run, yes, force))
    return _finish(app, "reconfigure", result, as_json, all_steps, force)


def _block_options(f: F) -> F:
    f = click.option("--blocks", "block_list", metavar="LIST", help="Memory blocks, like 33-40,45.")(f)
    f = click.option("--size", metavar="SIZE", help="How much memory (4G, 512M): whole blocks, rounded down.")(f)
    f = click.option("--count", type=WholeNumber(1, "a count of blocks"), metavar="N",
                     help="How many blocks (1 or more).")(f)
    return f


@click.command("online")
@click.argument("device", metavar="[DEV]", required=False)
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
    reported and the others stay online (exit 4, partial).
    """
    from pmemctl.ops.requests import BlockRequest
    from pmemctl.ops.services import online as service

    req = BlockRequest(device=device, count=count, size=size, blocks=block_list, zone=zone, force=force)
    result = service(app.open_door(), req, _apply_options(app, dry_run, yes, force))
    return _finish(app, "online", result, as_json, all_steps, force)


@click.command("offline")
@click.argument("device", metavar="[DEV]", required=False)
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
    kernels without hot-remove are refused before the first write.  If a
    block will not go offline in time, the ones this run offlined are
    onlined again (exit 6, rolled back) and the block is named with the cause.
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


def _recovery(app: App, name: str, as_json: bool) -> int:
    from pmemctl.cli.render.change import outcome_blocks, recovery_json
    from pmemctl.cli.render.doc import Document
    from pmemctl.ops import services as change

    opts = _apply_options(app, False, True, False)
    outcome = (change.rollback if name == "rollback" else change.resume)(app.open_door(), opts)
    if as_json:
        app.emit_json(recovery_json(name, app.sysroot, outcome))
    else:
        app.show(Document.of(outcome_blocks(outcome, sysroot=app.sysroot, recovery=name)))
    return int(change.recovery_exit_code(name, outcome))  # the same number the JSON gives


@click.command("rollback")
@json_option
@click.pass_obj
def rollback(app: App, as_json: bool) -> int:
    """Undo what an interrupted or failed change did, newest step first."""
    return _recovery(app, "rollback", as_json)


@click.command("resume")
@json_option
@click.pass_obj
def resume(app: App, as_json: bool) -> int:
    """Finish an interrupted change from where it stopped."""
    return _recovery(app, "resume", as_json)
