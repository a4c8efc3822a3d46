"""``pmemctl journal abandon``: give up an unfinished change, keep its journal.

The way out when an unfinished journal can neither be rolled back nor
resumed (a device that vanished, a journal that cannot be read): the journal
is archived under the state directory, new changes are allowed again, and
nothing on the machine is changed.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from pmemctl.cli.app import App
from pmemctl.cli.commands import json_option


@click.group("journal")
def group() -> None:
    """Manage the journal of an unfinished change (see 'pmemctl status')."""


@group.command("abandon")
@click.option("--dry-run", is_flag=True, help="Say what would be archived and the state left, and stop.")
@click.option("-y", "--yes", is_flag=True, help="Give up rollback and resume of the change without asking.")
@json_option
@click.pass_obj
def abandon(app: App, dry_run: bool, yes: bool, as_json: bool) -> int:
    """Give up an unfinished change: archive its journal, change nothing.

    Only for a change that 'pmemctl rollback' and 'pmemctl resume' cannot
    settle (a device that is gone, a journal that cannot be read), or that
    you put right by hand.  The journal files are renamed in the state
    directory (/var/lib/pmemctl, or /run/pmemctl) to
    journal.json.abandoned-TIME and journal.log.abandoned-TIME, never
    deleted, and new changes are allowed again.  The machine is left exactly
    as the unfinished change left it; the command says what that state is.
    Exit 3 when there is no unfinished change.
    """
    from pmemctl.errors import ExitCode
    from pmemctl.ops.services import abandon_journal

    result = abandon_journal(app.open_door(), dry_run=dry_run, yes=yes, confirm=None if as_json else _confirm(app))
    if as_json:
        from pmemctl.cli.render.change import abandon_json

        app.emit_json(abandon_json(app.sysroot, result))
        return int(ExitCode.NO_CHANGE if result is None else ExitCode.OK)
    if result is None:
        app.say("there is no unfinished change: nothing to abandon")
        return int(ExitCode.NO_CHANGE)
    app.show(_document(result, app.sysroot, shown=app.plan_shown))
    return int(ExitCode.OK)


def _confirm(app: App) -> Any:
    """Ask on a terminal only; scripts must say --yes."""

    def ask(found: Any) -> bool:
        if not sys.stdin.isatty() or app.quiet:
            return False
        app.show(_document(found, app.sysroot))
        app.plan_shown = True  # the result then says only what was done
        return click.confirm("Give up rollback and resume of this change?", default=False, err=True)

    return ask


def _document(result: Any, sysroot: str, *, shown: bool = False) -> Any:
    """What abandon finds and does; ``shown``: the finding was printed with
    the question, so only what was done follows."""
    from pmemctl.cli.render.doc import Document, KeyValues, Lines
    from pmemctl.commandline import command_line

    blocks: list[Any] = []
    if result.unfinished is not None and not shown:
        pairs = tuple((str(k), str(getattr(v, "value", v))) for k, v in result.unfinished.items())
        blocks.append(KeyValues(pairs, title="Unfinished change", key_width=12))
    if result.damaged is not None and not shown:
        blocks.append(Lines((f"the journal cannot be read: {result.damaged}",), title="Unfinished change"))
    if not shown:
        blocks.append(Lines(tuple(result.machine_state) or ("nothing",),
                            title="The machine is left as it is, NOT rolled back; it is now"))
    if result.dry_run:
        blocks.append(Lines((
            "dry run: nothing was renamed and nothing was changed",
            f"run '{command_line('journal', 'abandon', '--yes', sysroot=sysroot)}' to archive the journal",
        ), title="Journal"))
    else:
        blocks.append(Lines((
            *(f"kept as {path}" for path in result.archived),
            "the unfinished change is abandoned: 'rollback' and 'resume' no longer see it, and new changes "
            "are allowed again",
        ), title="Journal"))
    return Document.of(blocks)
