"""The root ``pmemctl`` command and the single error funnel.

Start-up cost matters (``pmemctl --version`` must stay close to ``import
click``), so this module imports only click and the tiny ``pmemctl``
package.  Subcommands are loaded on first use (:class:`PmemctlGroup`), and
each command imports the model, ops and rich inside its function.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Optional, Sequence

import click

from pmemctl import __version__
from pmemctl.cli.app import ENV_SYSROOT, App

#: Subcommand name -> "module:attribute", imported only when used.
COMMANDS: dict[str, str] = {
    "list": "pmemctl.cli.commands.list:command",
    "blocks": "pmemctl.cli.commands.blocks:command",
    "topology": "pmemctl.cli.commands.topology:command",
    "sim": "pmemctl.cli.commands.sim:group",
    "reconfigure": "pmemctl.cli.commands.change:reconfigure",
    "online": "pmemctl.cli.commands.change:online",
    "offline": "pmemctl.cli.commands.change:offline",
    "status": "pmemctl.cli.commands.change:status",
    "resume": "pmemctl.cli.commands.change:resume",
    "rollback": "pmemctl.cli.commands.change:rollback",
    "demo": "pmemctl.cli.commands.demo:command",
    "namespace": "pmemctl.cli.commands.namespace:group",
    "journal": "pmemctl.cli.commands.journal:group",
    "boot": "pmemctl.cli.commands.boot:group",
    "apply": "pmemctl.cli.commands.apply:command",
    "config": "pmemctl.cli.commands.config:group",
    "doctor": "pmemctl.cli.commands.doctor:command",
}

#: Subcommand name -> the first paragraph of its help, which ``pmemctl --help``
#: lists without importing any command module (tests/cli/test_startup.py
#: checks each against the command's own help).
SUMMARIES: dict[str, str] = {
    "list": "List NVDIMM buses, regions, namespaces and dax devices.",
    "blocks": "Show memory blocks, merged into ranges as lsmem does.",
    "topology": "Show NUMA nodes, what memory backs them, and how to use them.",
    "sim": "Build simulated machines (sysfs trees) to try pmemctl on.",
    "reconfigure": "Switch dax device DEV (one or more) between devdax and system-ram.",
    "online": "Online memory blocks of a system-ram dax device DEV, or plain --blocks.",
    "offline": "Offline memory blocks of dax device DEV, or plain --blocks.",
    "status": "Show a change in progress (the pid holding the lock), an unfinished change (interrupted or not "
              "fully undone) and the last run.",
    "resume": "Finish an interrupted change from where it stopped.",
    "rollback": "Undo what an interrupted or failed change did, newest step first.",
    "demo": "Walk through converting PMEM to RAM on a simulated machine.",
    "namespace": "Create, reconfigure and destroy NVDIMM namespaces, and plan their sizes.",
    "journal": "Manage the journal of an unfinished change (see 'pmemctl status').",
    "boot": "Install the systemd units that apply the layout at every boot.",
    "apply": "Bring the machine to its provisioning layout.",
    "config": "The provisioning layout: check it, print it, write one for this machine, or convert daxctl's files.",
    "doctor": "Find every reason memory will not become RAM, or not the RAM wanted.",
}

#: Exit status for Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

CONTEXT_SETTINGS: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "max_content_width": 100,
}


class LazyGroup(click.Group):
    """A group whose subcommands live in modules imported on demand."""

    def __init__(self, *args: Any, lazy: Optional[dict[str, str]] = None,
                 summaries: Optional[dict[str, str]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self.summaries = dict(summaries or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        """As click's, but a mistyped command names the closest ones
        (click only suggests among the commands already imported)."""
        name = click.utils.make_str(args[0])
        if self.get_command(ctx, name) is None and not ctx.resilient_parsing and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.5)
            more = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"no such command {name!r}{more}")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, but a command not imported yet is listed from its
        summary, shortened by click's own rule: ``--help`` imports no
        command module."""
        from gettext import gettext

        listed: list[tuple[str, Optional[click.Command]]] = []
        for name in self.list_commands(ctx):
            if name in self.summaries and name not in self.commands:
                listed.append((name, None))
                continue
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                listed.append((name, cmd))
        if not listed:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in listed)
        rows = [(name, cmd.get_short_help_str(limit) if cmd is not None
                 else click.utils.make_default_short_help(self.summaries[name], limit))
                for name, cmd in listed]
        with formatter.section(gettext("Commands")):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module_name, attr = self.lazy[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module_name), attr), cmd_name)
        return super().get_command(ctx, cmd_name)


def _late_sysroot(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> None:
    if value is not None and ctx.resilient_parsing:
        ctx.meta["pmemctl.sysroot"] = value  # for completing names from that tree
    if value is not None and not ctx.resilient_parsing:
        ctx.ensure_object(App).sysroot = _valid_sysroot(value, "--sysroot", ctx)


def _late_color(ctx: click.Context, param: click.Parameter, value: Optional[bool]) -> None:
    if value is not None:
        ctx.ensure_object(App).color = value


def _late_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        setattr(ctx.ensure_object(App), param.name or "", True)


def _late_global_options() -> list[click.Option]:
    """The root's options, accepted after a subcommand too (hidden there:
    documented once, on pmemctl(1)).  Given after the command, they win."""
    return [
        click.Option(["--sysroot"], metavar="DIR", default=None, hidden=True, expose_value=False,
                     callback=_late_sysroot, shell_complete=_complete_dir),
        click.Option(["--color/--no-color"], default=None, hidden=True, expose_value=False,
                     callback=_late_color),
        click.Option(["-q", "--quiet"], is_flag=True, hidden=True, expose_value=False, callback=_late_flag),
        click.Option(["--traceback"], is_flag=True, hidden=True, expose_value=False, callback=_late_flag),
    ]


def _show_help(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(ctx.get_help(), color=ctx.color)
        ctx.exit()


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"pmemctl {__version__}", color=ctx.color)
        ctx.exit()


def own_help_option(cmd: click.Command) -> None:
    """Give ``cmd`` the help option click would add (-h/--help, last), made
    here: click's own (and its --version) asks gettext for the option's
    text, and gettext imports locale, a millisecond of every run (start-up,
    issue 14).  Idempotent."""
    if cmd.add_help_option:
        cmd.params.append(click.Option(list(CONTEXT_SETTINGS["help_option_names"]), is_flag=True, expose_value=False,
                                       is_eager=True, help="Show this message and exit.", callback=_show_help))
        cmd.add_help_option = False


def accept_global_options(cmd: click.Command) -> None:
    """Let ``pmemctl list --sysroot DIR`` mean ``pmemctl --sysroot DIR list``
    (and the same for --color/--no-color, -q and --traceback), in every
    command and subcommand.  Idempotent."""
    if getattr(cmd, "_pmemctl_globals", False):
        return
    taken = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
    cmd.params.extend(o for o in _late_global_options() if not taken & {*o.opts, *o.secondary_opts})
    own_help_option(cmd)
    cmd._pmemctl_globals = True  # type: ignore[attr-defined]
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            accept_global_options(sub)


class PmemctlGroup(LazyGroup):
    """The root group; its ``main`` is the one error funnel (see :func:`handle_error`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        own_help_option(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            accept_global_options(cmd)
            from pmemctl.cli.examples import attach

            attach(cmd, cmd_name)
        return cmd

    def main(
        self,
        args: Optional[Sequence[str]] = None,
        prog_name: Optional[str] = None,
        complete_var: Optional[str] = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        app = extra.setdefault("obj", App())
        from pmemctl.cli.examples import attach

        attach(self, "")
        if os.environ.get(complete_var or "_PMEMCTL_COMPLETE"):
            from pmemctl.cli.completion import register

            register()  # serve completions with pmemctl's own scripts' protocol
        try:
            rv = super().main(
                args, prog_name or "pmemctl", complete_var, standalone_mode=False, **extra
            )
        except BaseException as exc:  # noqa: BLE001 - this *is* the funnel
            if isinstance(exc, SystemExit):
                raise
            argv = list(args) if args is not None else sys.argv[1:]
            json_command = _json_command(self, argv)
            code = handle_error(exc, show_traceback=app.traceback,
                                json_command=json_command, sysroot=app.sysroot)
        else:
            code = rv if isinstance(rv, int) else 0
        note = app.root_only_note()
        if note is not None and not app.quiet:
            click.echo(f"pmemctl: {note}", err=True)
        if not standalone_mode:
            return code
        sys.exit(code)


def quick_path_error(exc: BaseException, app: App, argv: list[str]) -> int:
    """What the click path makes of an exception a command raised, for a
    command run by the console entry's quick path (:mod:`pmemctl.cli.entry`):
    click's own handling first (a closed pipe on stdout: exit 1 in silence;
    Ctrl-C: a newline, then :class:`click.exceptions.Abort`), then the funnel
    as :meth:`PmemctlGroup.main` calls it.  Returns the exit code."""
    import errno

    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
        from click.utils import PacifyFlushWrapper

        sys.stdout = PacifyFlushWrapper(sys.stdout)  # type: ignore[assignment]
        sys.stderr = PacifyFlushWrapper(sys.stderr)  # type: ignore[assignment]
        sys.exit(1)
    if isinstance(exc, (EOFError, KeyboardInterrupt)):
        click.echo(file=sys.stderr)
        abort = click.exceptions.Abort()
        abort.__cause__ = abort.__context__ = exc
        exc = abort
    return handle_error(exc, show_traceback=app.traceback, json_command=_json_command(cli, argv), sysroot=app.sysroot)


def handle_error(exc: BaseException, *, show_traceback: bool = False,
                 json_command: Optional[str] = None, sysroot: str = "/") -> int:
    """Turn any exception into one line on stderr; return the exit code.

    With ``json_command`` (the command was given ``--json``) the same line
    also goes to stdout as an error document (schema kind ``error_document``),
    so a script parsing stdout always gets one JSON object.

    * a :class:`~pmemctl.errors.PmemctlError` → ``pmemctl: <sentence>``, its code;
    * a click usage error → the message and a pointer to ``--help``, code 2;
    * Ctrl-C → ``pmemctl: interrupted``, code 130;
    * anything else → ``pmemctl: internal error: …``, code 1.

    With ``--traceback`` (or ``PMEMCTL_TRACEBACK=1``) the traceback follows.
    """
    from pmemctl.errors import ExitCode, PmemctlError

    tb = show_traceback
    if isinstance(exc, click.exceptions.Abort) and isinstance(exc.__context__, KeyboardInterrupt):
        exc = exc.__context__
    if isinstance(exc, KeyboardInterrupt):
        line, code, tb = "interrupted", EXIT_INTERRUPTED, False
    elif isinstance(exc, click.exceptions.Abort):
        line, code = "aborted", int(ExitCode.FAILED)
    elif isinstance(exc, PmemctlError):
        line, code = exc.sentence(), int(exc.exit_code)
    elif isinstance(exc, click.UsageError):
        line, code = exc.format_message().rstrip("."), int(ExitCode.USAGE)
        if exc.ctx is not None:
            line += f"; see '{exc.ctx.command_path} --help'"
        tb = False
    elif isinstance(exc, click.ClickException):
        line, code = exc.format_message(), exc.exit_code
    else:
        detail = str(exc).strip().splitlines()
        if isinstance(exc, OSError) and isinstance(exc.errno, int):  # its errno by name, never "[Errno 13]"
            from pmemctl.errors import os_error_text

            detail = [os_error_text(exc) + (f": {exc.filename}" if exc.filename else "")]
        what = type(exc).__name__ + (f": {detail[0]}" if detail else "")
        line, code = f"internal error: {what}, rerun with --traceback", int(ExitCode.FAILED)
    if tb:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    click.echo(f"pmemctl: {line}", err=True)
    if json_command is not None and code != EXIT_INTERRUPTED:
        import json

        from pmemctl.cli.render.json import error_document

        click.echo(json.dumps(error_document(json_command, sysroot, line, code), indent=2))
    return code


#: Options of the root command that take a value (skipped to find the command).
_ROOT_VALUE_OPTIONS = ("--sysroot",)


def _json_command(root: click.Group, argv: list[str]) -> Optional[str]:
    """The command path (``namespace create``) when ``argv`` asks for --json.

    Found from the words themselves, as the failure may have happened before
    click finished parsing: global options are skipped, then the command and,
    for a group, its subcommand.
    """
    if "--json" not in argv or "--" in argv[: argv.index("--json")]:
        return None
    words: list[str] = []
    group: click.Command = root
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        if token.startswith("-"):
            skip = not words and token in _ROOT_VALUE_OPTIONS
            if words:
                break  # options of the command itself: the path is complete
            continue
        if not isinstance(group, click.Group):
            break
        try:
            sub = group.get_command(click.Context(group), token)
        except Exception:  # noqa: BLE001 - a broken command module is reported elsewhere
            sub = None
        if sub is None:
            break
        words.append(token)
        group = sub
    return " ".join(words) or None


def _check_sysroot(ctx: click.Context, value: Optional[str]) -> str:
    """--sysroot / PMEMCTL_SYSROOT must name an existing directory.

    An empty or blank value is refused rather than read as ``/``: an unset
    variable in a rehearsal script must not reach the live machine.  (click
    ignores an empty environment variable, so it is looked at here.)
    """
    from click.core import ParameterSource

    source = ctx.get_parameter_source("sysroot")
    where = "--sysroot"
    if source == ParameterSource.ENVIRONMENT:
        where = ENV_SYSROOT
    elif source in (ParameterSource.DEFAULT, None) and ENV_SYSROOT in os.environ:
        value, where = os.environ[ENV_SYSROOT], ENV_SYSROOT
    return _valid_sysroot(value, where, ctx)


def _valid_sysroot(value: Optional[str], where: str, ctx: click.Context) -> str:
    if value is None or not value.strip():
        raise click.BadParameter("it is empty; give a directory (--sysroot / for this machine)",
                                 ctx=ctx, param_hint=f"'{where}'")
    if not os.path.lexists(value):
        # one rule with issue 16: a sysroot that does not exist is a thing not
        # found (exit 8), like a named device; a value that cannot be a
        # sysroot at all (blank, a file) is bad usage (exit 2)
        from pmemctl.errors import NotFound

        raise NotFound(f"the sysroot {value} ({where}) does not exist; nothing was read or created",
                       hint="give a directory made by 'pmemctl sim create', or --sysroot / for this machine")
    if not os.path.isdir(value):
        raise click.BadParameter(f"{value} is not a directory", ctx=ctx, param_hint=f"'{where}'")
    return value


def _complete_dir(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from click.shell_completion import CompletionItem

    return [CompletionItem(incomplete, type="dir")]


@click.group(
    cls=PmemctlGroup,
    lazy=COMMANDS,
    summaries=SUMMARIES,
    context_settings=CONTEXT_SETTINGS,
    help="""Turn persistent memory (NVDIMM) and CXL memory into system RAM, safely.

    pmemctl discovers NVDIMM buses, regions, namespaces and dax devices, the
    memory blocks they add, and the NUMA nodes and memory tiers they land in.
    Every read command prints a table on a terminal, plain aligned text when
    piped, and a versioned JSON document with --json.

    The options below may also follow the command (pmemctl list --sysroot DIR).
    """,
)
@click.option(
    "--sysroot",
    metavar="DIR",
    default="/",
    show_default=True,
    envvar=ENV_SYSROOT,
    show_envvar=True,
    shell_complete=_complete_dir,
    help="Read the machine under DIR instead of / (a tree made by 'pmemctl sim create').",
)
@click.option(
    "--color/--no-color",
    default=None,
    help="Force or disable coloured, rich output. Default: colour only on a terminal, never with NO_COLOR set.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors and JSON.")
@click.option(
    "--traceback",
    is_flag=True,
    hidden=True,
    help="Show the Python traceback of an error (also PMEMCTL_TRACEBACK=1).",
)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the version and exit.")
@click.pass_context
def cli(ctx: click.Context, sysroot: str, color: Optional[bool], quiet: bool, traceback: bool) -> None:
    app = ctx.ensure_object(App)
    if not ctx.resilient_parsing:  # completion must not fail on a half-typed sysroot
        sysroot = _check_sysroot(ctx, sysroot)
    app.configure(sysroot=sysroot, color=color, quiet=quiet, traceback=traceback)


def main(args: Optional[Sequence[str]] = None) -> None:
    """Console entry point (``pmemctl``, ``python -m pmemctl``)."""
    cli.main(args=args, prog_name="pmemctl")


__all__ = ["cli", "main", "handle_error", "quick_path_error", "COMMANDS", "SUMMARIES", "EXIT_INTERRUPTED"]
